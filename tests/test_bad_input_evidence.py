"""Issue 20: the bad-input corpus of evidence and sweep folders and of accuracy CSVs, in the format of
``test_bad_input.py`` (exit 2, exactly one ``nmsim: error:`` line naming the file, no traceback, every file
byte-identical), plus hypothesis properties: random structured mutations of valid inputs give a result or a
UserError.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nmsim.errors import UserError
from nmsim.evidence.files import read_protocol_file, read_timing
from nmsim.train.checkpoint import read_config, read_done, read_metrics_rows
from test_bad_input import check_case, make_files, run_cli, snapshot, workdir  # noqa: F401
from test_bad_input_validate import mutated

# ---- accuracy CSVs (nmsim.report.accuracy) -------------------------------------------------------------------

HEAD = "plan,recipe,value\n"
GOOD = HEAD + "dense,dense,78.1\nff=1:8,sr-ste,77.2\nff=1:8,mdgf-exp,77.6\n"
FULL = "plan,recipe,value,metric,unit,higher_is_better,epochs,batch\n"
PPL = "plan,recipe,value,metric,higher_is_better\n"
REPORT = ["report", "--no-train", "--accuracy", "a.csv", "--out", "rep"]

ACCURACY = [
    ("duplicate-different", GOOD + "ff=1:8,sr-ste,76.9\n",
     "a.csv: rows 3 and 5: two rows for recipe sr-ste at plan ff=1:8 (77.2, 76.9); give one value per recipe x plan "
     "(a mean over seeds)"),
    ("duplicate-same", GOOD + "ff=1:8,sr-ste,77.2\n",
     "a.csv: rows 3 and 5: two rows for recipe sr-ste at plan ff=1:8 (77.2, 77.2); give one value per recipe x plan "
     "(a mean over seeds)"),
    ("duplicate-bare-pattern", GOOD + "1:8,sr-ste,76.9\n",
     "a.csv: rows 3 and 5: two rows for recipe sr-ste at plan ff=1:8 (77.2, 76.9); give one value per recipe x plan "
     "(a mean over seeds)"),
    ("duplicate-recipe-case", GOOD + "ff=1:8,SR-STE,76.9\n",
     "a.csv: rows 3 and 5: two rows for recipe sr-ste at plan ff=1:8 (77.2, 76.9); give one value per recipe x plan "
     "(a mean over seeds)"),
    ("mixed-scales", HEAD + "dense,dense,78.1\nff=1:8,sr-ste,0.772\n",
     "a.csv: value: row 3 (0.772) reads as a 0-1 fraction, row 2 (78.1) as a percentage; use one scale for the "
     "whole column"),
    ("negative-accuracy", HEAD + "dense,dense,78.1\nff=1:8,sr-ste,-3\n",
     "a.csv: row 3: value must be from 0 to 100 for this metric, got -3"),
    ("accuracy-250", HEAD + "dense,dense,250\nff=1:8,sr-ste,77\n",
     "a.csv: row 2: value must be from 0 to 100 for this metric, got 250"),
    ("top1-pct-101", FULL + "dense,dense,101,top1_pct,%,true,300,4096\nff=1:8,sr-ste,77,top1_pct,%,true,300,4096\n",
     "a.csv: row 2: value must be from 0 to 100 for this metric, got 101"),
    ("bleu-120", "plan,recipe,value,metric\ndense,dense,120,bleu\n",
     "a.csv: row 2: value must be from 0 to 100 for this metric, got 120"),
    ("percent-unit-negative", "plan,recipe,value,metric,unit\ndense,dense,-1,mcc,%\n",
     "a.csv: row 2: value must be from 0 to 100 for this metric, got -1"),
    ("perplexity-below-1", PPL + "dense,dense,10.05,perplexity,false\nff=1:32,sr-ste,0.5,perplexity,false\n",
     "a.csv: row 3: value must be at least 1 for this metric, got 0.5"),
    ("loss-negative", "plan,recipe,value,metric\ndense,dense,2.3,val_loss\nff=1:8,sr-ste,-0.1,val_loss\n",
     "a.csv: row 3: value must be at least 0 for this metric, got -0.1"),
    ("wer-negative", "plan,recipe,value,metric\ndense,dense,-5,wer\n",
     "a.csv: row 2: value must be at least 0 for this metric, got -5"),
    ("error-rate-200", "plan,recipe,value,metric\ndense,dense,200,top1_error\n",
     "a.csv: row 2: value must be from 0 to 100 for this metric, got 200"),
    ("accuracy-lower-is-better", "plan,recipe,value,higher_is_better\ndense,dense,78,false\n",
     "a.csv: row 2: higher_is_better false contradicts the metric accuracy (higher is better)"),
    ("perplexity-higher-is-better", PPL + "dense,dense,10.05,perplexity,true\n",
     "a.csv: row 2: higher_is_better true contradicts the metric perplexity (lower is better)"),
    ("error-rate-higher-is-better", "plan,recipe,value,metric,higher_is_better\ndense,dense,22,top1_error,true\n",
     "a.csv: row 2: higher_is_better true contradicts the metric top1_error (lower is better)"),
    ("direction-maybe", "plan,recipe,value,higher_is_better\ndense,dense,78,maybe\n",
     "a.csv: row 2: higher_is_better must be true or false, got 'maybe'"),
    ("direction-mixed", PPL + "dense,dense,10,perplexity,false\nff=1:8,sr-ste,11,perplexity,true\n",
     "a.csv: higher_is_better: row 2 says 'false', row 3 says 'true'; one higher_is_better per accuracy CSV"),
    ("two-metrics", "plan,recipe,value,metric\ndense,dense,78,top1\nff=1:8,sr-ste,93,top5\n",
     "a.csv: metric: row 2 says 'top1', row 3 says 'top5'; one metric per accuracy CSV"),
    ("two-units", "plan,recipe,value,unit\ndense,dense,78,%\nff=1:8,sr-ste,0.77,fraction\n",
     "a.csv: unit: row 2 says '%', row 3 says 'fraction'; one unit per accuracy CSV"),
    ("unknown-recipe", GOOD + "ff=1:8,sr-stee,76\n",
     "a.csv: row 5: unknown recipe 'sr-stee' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, sdgf-stepwise, "
     "sdgf-geometric)"),
    ("recipe-empty", GOOD + "ff=1:16,,76\n",
     "a.csv: row 5: unknown recipe '' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, sdgf-stepwise, "
     "sdgf-geometric)"),
    ("dense-at-sparse-plan", HEAD + "ff=1:8,dense,78\n",
     "a.csv: row 2: the dense recipe runs at plan dense, got plan ff=1:8"),
    ("sparse-at-dense-plan", HEAD + "dense,sr-ste,78\n",
     "a.csv: row 2: recipe sr-ste needs a sparse plan, got plan dense"),
    ("plan-empty", HEAD + ",sr-ste,78\n", "a.csv: row 2: plan is empty (write dense for the dense baseline)"),
    ("plan-n-above-m", HEAD + "ff=3:2,sr-ste,78\n", "a.csv: row 2: plan 'ff=3:2': N > M in pattern '3:2'"),
    ("epochs-negative", FULL + "dense,dense,78,top1,%,true,-300,4096\n",
     "a.csv: row 2: epochs must be a positive number, got -300"),
    ("batch-fraction", FULL + "dense,dense,78,top1,%,true,300,40.5\n",
     "a.csv: row 2: batch must be a positive whole number, got 40.5"),
    ("steps-text", "plan,recipe,value,steps\ndense,dense,78,many\n",
     "a.csv: row 2: steps must be a positive whole number, got 'many'"),
    ("two-run-lengths", FULL + "dense,dense,78,top1,%,true,300,4096\nff=1:8,sr-ste,77,top1,%,true,90,4096\n",
     "a.csv: epochs: row 2 says 300, row 3 says 90; the rows of one accuracy CSV share one run length"),
    ("header-only", HEAD, "a.csv: holds a header but no rows"),
]

# ---- evidence and sweep folders (nmsim.evidence.files, nmsim.train.checkpoint) --------------------------------
# A valid protocol folder of 4 finished runs, written as the trainer writes them (configs from the protocol's own
# plan, so `evidence run` finds every run finished), without training: built once, at import.

EV = dict(task="digits", recipes=("dense", "sr-ste"), patterns=("ff=1:16",), seeds=2, epochs=1)
RUN = ["evidence", "run", "--task", "digits", "--recipes", "dense,sr-ste", "--patterns", "ff=1:16", "--seeds", "2",
       "--epochs", "1", "--workers", "1", "--out", "ev"]
SUMMARIZE = ["evidence", "summarize", "ev"]
SWEEP = ["sweep", "--task", "digits", "--recipes", "dense,sr-ste", "--patterns", "1:16", "--seeds", "2",
         "--epochs", "1", "--out", "runs"]
TIMING = [{"started_utc": "2026-01-01T00:00:00Z", "wall_seconds": 33.4, "workers": 1, "device": "cpu",
           "cpu_seconds": 5.4, "loadavg_1m_start": 0.5, "loadavg_1m_end": 1.0, "runs_finished": 4, "runs_failed": 0}]


def _rows(recipe: str, seed: int) -> list[dict]:
    """Two evaluations of a run (the fields the trainer logs that the summaries read)."""
    sparse = recipe != "dense"
    rows = []
    phases = ("sparse", "finetune") if sparse else ("dense", "dense")
    for step, epoch, phase in ((10, 0.45, phases[0]), (22, 1.0, phases[1])):
        loss = 2.3 - 0.01 * step - 0.02 * seed + (0.05 if sparse else 0.0)
        rows.append({"step": step, "epoch": epoch, "train_flops": 7e8 * step * (0.6 if sparse else 1.0),
                     "accuracy": round(0.1 + 0.01 * step + 0.01 * seed, 4), "loss": round(loss, 4),
                     "train_loss": round(loss + 0.01, 4), "lr": 1e-4, "phase": phase, "decay": 0.0,
                     "patterns": {"ff": "1:16" if sparse else "dense"}})
    return rows


def _run_files(root: str, configs) -> dict:
    """config.json, metrics.jsonl and done.json of each finished run, by path."""
    from nmsim.train.loop import check_config
    from nmsim.train.sweep import run_folder

    files = {}
    for cfg in configs:
        resolved = check_config(cfg)
        folder = run_folder(root, resolved)
        rows = _rows(resolved.recipe, resolved.seed)
        files[f"{folder}/config.json"] = json.dumps(resolved.to_dict(), indent=2, sort_keys=True) + "\n"
        files[f"{folder}/metrics.jsonl"] = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        files[f"{folder}/done.json"] = json.dumps({"device": "cpu", "final": {**rows[-1], "wall_seconds": 4.9},
                                                  "flops_note": None}, indent=2, sort_keys=True) + "\n"
    return files


def _evidence_files() -> dict:
    from nmsim.evidence.protocol import Protocol, plan

    p = Protocol(**EV)
    configs = plan(p)
    files = {"ev/protocol.json": json.dumps({"protocol": p.to_dict(), "command": "nmsim " + " ".join(RUN),
                                             "environment": {"device": "cpu", "python": "3.11"}}, indent=2),
             "ev/timing.json": json.dumps(TIMING, indent=2)}
    return {**files, **_run_files("ev/protocol-runs", configs)}


def _sweep_files() -> dict:
    from nmsim.train.sweep import parse_patterns, plan

    return _run_files("runs", plan("digits", ["dense", "sr-ste"], parse_patterns("1:16"), [0, 1], epochs=1))


FOLDER = _evidence_files()
SWEEP_FOLDER = _sweep_files()
RUNS = sorted({f.rsplit("/", 1)[0] for f in FOLDER if "/seed" in f})
LAST = RUNS[-1]                         # the plan's last run: sr-ste 1:16 seed 1
FIRST = RUNS[0]


def _ev(changes: dict, unfinished: bool = False) -> dict:
    """The valid folder with files replaced (None: removed); ``unfinished``: the last run not trained yet, so an
    `evidence run` that got past the checks would train."""
    files = {**FOLDER, **changes}
    if unfinished:
        files = {k: v for k, v in files.items() if not k.startswith(LAST + "/")}
    return {k: v for k, v in files.items() if v is not None}


def _json(value) -> str:
    return json.dumps(value)


def _proto(**changes) -> str:
    doc = json.loads(FOLDER["ev/protocol.json"])
    doc["protocol"].update(changes)
    return json.dumps(doc)


def _final(**changes) -> str:
    done = json.loads(FOLDER[f"{FIRST}/done.json"])
    done["final"].update(changes)
    return json.dumps(done)


def _config(**changes) -> str:
    return json.dumps({**json.loads(FOLDER[f"{FIRST}/config.json"]), **changes})


T, P = "ev/timing.json", "ev/protocol.json"
D, C, M = f"{FIRST}/done.json", f"{FIRST}/config.json", f"{FIRST}/metrics.jsonl"
ROWS = FOLDER[M]

EVIDENCE = [
    # timing.json: refused before any work, never replaced
    ("timing-garbage-summarize", _ev({T: "garbage"}), SUMMARIZE,
     f"{T}: invalid JSON at line 1, column 1: Expecting value"),
    ("timing-empty-object-summarize", _ev({T: "{}"}), SUMMARIZE, f"{T}: expected a JSON array, got an object"),
    ("timing-garbage-run", _ev({T: "garbage"}, True), RUN, f"{T}: invalid JSON at line 1, column 1: Expecting value"),
    ("timing-empty-object-run", _ev({T: "{}"}, True), RUN, f"{T}: expected a JSON array, got an object"),
    ("timing-cut", _ev({T: FOLDER[T][:40]}, True), RUN,
     f"{T}: invalid JSON at line 3, column 20: Unterminated string starting at"),
    ("timing-binary", _ev({T: b"\x00\x01"}, True), RUN, f"{T}: is a binary file, not a timing log"),
    ("timing-entry-number", _ev({T: "[5]"}, True), RUN, f"{T}: entry 1: expected an object, got 5"),
    ("timing-no-wall", _ev({T: _json([{k: v for k, v in TIMING[0].items() if k != "wall_seconds"}])}), SUMMARIZE,
     f"{T}: entry 1: missing field 'wall_seconds'; not an nmsim timing log"),
    ("timing-wall-text", _ev({T: _json([{**TIMING[0], "wall_seconds": "33 s"}])}), SUMMARIZE,
     f"{T}: entry 1: wall_seconds must be a number >= 0, got '33 s'"),
    ("timing-workers-negative", _ev({T: _json([TIMING[0], {**TIMING[0], "workers": -1}])}), SUMMARIZE,
     f"{T}: entry 2: workers must be an integer >= 0, got -1"),
    ("timing-unknown-field", _ev({T: _json([{**TIMING[0], "gpu": "h100"}])}), SUMMARIZE,
     f"{T}: entry 1: unknown field 'gpu'; not an nmsim timing log"),
    ("timing-nan", _ev({T: FOLDER[T].replace("33.4", "NaN")}), SUMMARIZE,
     f"{T}: invalid JSON: NaN is not a JSON number"),
    # protocol.json: what the runs were asked to be; refused, never rebuilt
    ("protocol-empty-object-summarize", _ev({P: "{}"}), SUMMARIZE,
     f"{P}: not an nmsim protocol file (needs a 'protocol' object)"),
    ("protocol-empty-object-run", _ev({P: "{}"}, True), RUN,
     f"{P}: not an nmsim protocol file (needs a 'protocol' object)"),
    ("protocol-garbage", _ev({P: "garbage"}), SUMMARIZE, f"{P}: invalid JSON at line 1, column 1: Expecting value"),
    ("protocol-array", _ev({P: "[]"}), SUMMARIZE, f"{P}: expected a JSON object, got an array"),
    ("protocol-list", _ev({P: '{"protocol": []}'}), SUMMARIZE,
     f"{P}: not an nmsim protocol file (needs a 'protocol' object)"),
    ("protocol-unknown-top", _ev({P: FOLDER[P].replace('"command"', '"comand"')}), SUMMARIZE,
     f"{P}: not an nmsim protocol file (unknown field 'comand')"),
    ("protocol-no-seeds", _ev({P: _json({"protocol": {"task": "digits", "recipes": ["dense", "sr-ste"],
                                                        "patterns": ["ff=1:16"]}})}), SUMMARIZE,
     f"{P}: protocol: missing field 'seeds'"),
    ("protocol-seeds-text", _ev({P: _proto(seeds="2")}), SUMMARIZE,
     f"{P}: protocol: seeds: must be an integer, got '2'"),
    ("protocol-seeds-text-run", _ev({P: _proto(seeds="2")}, True), RUN,
     f"{P}: protocol: seeds: must be an integer, got '2'"),
    ("protocol-unknown-field", _ev({P: _proto(sseds=2)}), SUMMARIZE, f"{P}: protocol: unknown field 'sseds'"),
    ("protocol-metric", _ev({P: _proto(metric="bleu")}), SUMMARIZE,
     f"{P}: protocol.metric: must be one of accuracy, loss, got 'bleu'"),
    ("protocol-level", _ev({P: _proto(level=95)}), SUMMARIZE, f"{P}: protocol.level: must be in (0, 1), got 95"),
    ("protocol-reference", _ev({P: _proto(reference="mdgf-exp")}), SUMMARIZE,
     f"{P}: protocol.reference: must be one of the protocol's recipes, got 'mdgf-exp'"),
    ("protocol-recipes-empty", _ev({P: _proto(recipes=[])}), SUMMARIZE,
     f"{P}: protocol.recipes: must be a non-empty list of names"),
    ("protocol-pattern", _ev({P: _proto(patterns=["ff=3:2"])}), SUMMARIZE,
     f"{P}: protocol.patterns: N > M in pattern '3:2'"),
    ("protocol-geometric-k", _ev({P: _proto(geometric_k={"ff=1:16": 0})}), SUMMARIZE,
     f"{P}: protocol.geometric_k.ff=1:16: must be a positive integer, got 0"),
    ("protocol-command-number", _ev({P: _json({**json.loads(FOLDER[P]), "command": 5})}), SUMMARIZE,
     f"{P}: command: must be text, got 5"),
    ("protocol-environment-list", _ev({P: _json({**json.loads(FOLDER[P]), "environment": ["cpu"]})}), SUMMARIZE,
     f"{P}: environment: must be an object, got ['cpu']"),
    # done.json of a finished run
    ("done-garbage-summarize", _ev({D: "garbage"}), SUMMARIZE,
     f"{D}: invalid JSON at line 1, column 1: Expecting value"),
    ("done-garbage-run", _ev({D: "garbage"}, True), RUN, f"{D}: invalid JSON at line 1, column 1: Expecting value"),
    ("done-empty-object", _ev({D: "{}"}), SUMMARIZE, f"{D}: not an nmsim done marker (needs a 'final' object)"),
    ("done-empty-object-run", _ev({D: "{}"}, True), RUN, f"{D}: not an nmsim done marker (needs a 'final' object)"),
    ("done-array", _ev({D: "[]"}), SUMMARIZE, f"{D}: expected a JSON object, got an array"),
    ("done-step-text", _ev({D: _final(step="22")}), SUMMARIZE,
     f"{D}: not an nmsim done marker (final: needs an object with an integer step)"),
    ("done-wall-text", _ev({D: _final(wall_seconds="4.9 s")}), SUMMARIZE,
     f"{D}: not an nmsim done marker (final: wall_seconds must be a number or null, got '4.9 s')"),
    ("done-accuracy-text", _ev({D: _final(accuracy="high")}, True), RUN,
     f"{D}: not an nmsim done marker (final: accuracy must be a number or null, got 'high')"),
    # config.json and metrics.jsonl of a run
    ("config-garbage-summarize", _ev({C: "garbage"}), SUMMARIZE,
     f"{C}: invalid JSON at line 1, column 1: Expecting value"),
    ("config-garbage-run", _ev({C: "garbage"}, True), RUN, f"{C}: invalid JSON at line 1, column 1: Expecting value"),
    ("config-task-number", _ev({C: _config(task=5)}), SUMMARIZE, f"{C}: task: must be text, got 5"),
    ("config-sparsity-list", _ev({C: _config(sparsity=["1:16"])}), SUMMARIZE,
     f"{C}: sparsity: must be an object, got ['1:16']"),
    ("config-unknown-field", _ev({C: _config(gpu=1)}), SUMMARIZE,
     f"{C}: not an nmsim run config (unknown field 'gpu')"),
    ("config-epochs-float-run", _ev({C: _config(epochs=1.5)}, True), RUN,
     f"{C}: epochs: must be an integer or null, got 1.5"),
    ("metrics-middle-garbage", _ev({M: "garbage\n" + ROWS}), SUMMARIZE, f"{M}: line 1: not valid JSON"),
    ("metrics-loss-text", _ev({M: ROWS.replace('"loss": ', '"loss": "x", "l": ', 1)}), SUMMARIZE,
     f"{M}: line 1: not a metrics row (loss must be a number or null, got 'x')"),
    ("metrics-step-negative-run", _ev({M: ROWS.replace('"step": 10', '"step": -10')}, True), RUN,
     f"{M}: line 1: not a metrics row (needs an object with an integer step)"),
    ("metrics-decay-text", _ev({M: ROWS.replace('"decay": 0.0', '"decay": "none"', 1)}), SUMMARIZE,
     f"{M}: line 1: not a metrics row (decay must be a number or null, got 'none')"),
]

S_LAST = sorted({f.rsplit("/", 1)[0] for f in SWEEP_FOLDER})[-1]
S_FIRST = sorted({f.rsplit("/", 1)[0] for f in SWEEP_FOLDER})[0]


def _sw(changes: dict) -> dict:
    """The sweep folder with its last run not trained yet and files replaced."""
    files = {k: v for k, v in {**SWEEP_FOLDER, **changes}.items() if not k.startswith(S_LAST + "/")}
    return files


SWEEP_CASES = [
    ("done-garbage", _sw({f"{S_FIRST}/done.json": "garbage"}), SWEEP,
     f"{S_FIRST}/done.json: invalid JSON at line 1, column 1: Expecting value"),
    ("done-final-missing", _sw({f"{S_FIRST}/done.json": '{"device": "cpu"}'}), SWEEP,
     f"{S_FIRST}/done.json: not an nmsim done marker (needs a 'final' object)"),
    ("done-final-step-bool", _sw({f"{S_FIRST}/done.json": '{"final": {"step": true}}'}), SWEEP,
     f"{S_FIRST}/done.json: not an nmsim done marker (final: needs an object with an integer step)"),
    ("metrics-garbage", _sw({f"{S_FIRST}/metrics.jsonl": "x\n" + SWEEP_FOLDER[f"{S_FIRST}/metrics.jsonl"]}), SWEEP,
     f"{S_FIRST}/metrics.jsonl: line 1: not valid JSON"),

        ("config-seed-text", _sw({f"{S_FIRST}/config.json": json.dumps(
        {**json.loads(SWEEP_FOLDER[f"{S_FIRST}/config.json"]), "seed": "0"})}), SWEEP,
     f"{S_FIRST}/config.json: seed: must be an integer, got '0'"),
]

CLASSES = {"accuracy CSV values": [(f"csv-{cid}", {"a.csv": text}, REPORT, msg) for cid, text, msg in ACCURACY],
           "evidence folders": [(f"ev-{cid}", files, argv, msg) for cid, files, argv, msg in EVIDENCE],
           "sweep folders": [(f"sweep-{cid}", files, argv, msg) for cid, files, argv, msg in SWEEP_CASES]}


def _params():
    return [pytest.param(files, argv, msg, id=f"{cls}:{cid}") for cls, cases in CLASSES.items()
            for cid, files, argv, msg in cases]


@pytest.mark.parametrize("files,argv,expected", _params())
def test_bad_input_evidence(workdir, capsys, files, argv, expected):
    check_case(workdir, capsys, files, argv, expected)


def test_corpus_size():
    counts = {cls: len(cases) for cls, cases in CLASSES.items()}
    assert counts["accuracy CSV values"] >= 30 and counts["evidence folders"] >= 40 and counts["sweep folders"] >= 5


def test_good_accuracy_csv_reads(tmp_path):
    from nmsim.report.accuracy import read_accuracy_csv
    path = tmp_path / "a.csv"
    path.write_text(GOOD.replace("ff=1:8,mdgf", "1:8,MDGF"))
    df = read_accuracy_csv(path)
    assert list(df["plan"]) == ["dense", "ff=1:8", "ff=1:8"] and list(df["recipe"]) == ["dense", "sr-ste", "mdgf-exp"]
    assert list(df["value"]) == [78.1, 77.2, 77.6]
    path.write_text("plan,recipe,value,metric,higher_is_better\ndense,dense,3.1,top1_error,false\n"
                    "ff=1:8,sr-ste,0.5,top1_error,false\n")   # 0.5 %, not a fraction: 50 is far from 3.1
    assert list(read_accuracy_csv(path)["value"]) == [3.1, 0.5]
    df = read_accuracy_csv("examples/gpt2-chars-perplexity.csv")
    assert len(df) == 11 and df["value"].min() >= 1


# ---- the valid folders the cases damage are valid ----------------------------------------------------------------

def test_valid_evidence_folder_summarizes_and_runs_nothing(workdir, capsys):
    make_files(workdir, FOLDER)
    code, err = run_cli(SUMMARIZE, capsys)
    assert code == 0, err
    assert (workdir / "ev" / "summary.md").exists() and (workdir / "ev" / "paired.csv").exists()
    runs = {k: snapshot(workdir)[k] for k in FOLDER if k != T}
    from nmsim.cli import main
    assert main(RUN) == 0
    assert "sweep: 4 runs, 4 already finished, 0 to run" in capsys.readouterr().out
    timing = json.loads((workdir / T).read_text())
    assert len(timing) == 2 and timing[0] == TIMING[0] and timing[1]["runs_finished"] == 4   # appended, kept
    assert {k: snapshot(workdir)[k] for k in runs} == runs                                   # nothing retrained


def test_valid_sweep_folder_trains_nothing(workdir, capsys):
    make_files(workdir, SWEEP_FOLDER)
    before = snapshot(workdir)
    code, err = run_cli(SWEEP, capsys)
    assert code == 0, err
    after = snapshot(workdir)
    assert {k: after[k] for k in before} == before
    assert sorted(set(after) - set(before)) == ["runs/sweep_runs.csv", "runs/sweep_summary.csv"]


# ---- properties: random structured mutations of valid inputs read or are one UserError ----------------------------

CSV_VALUES = st.one_of(st.sampled_from(["dense", "ff=1:8", "1:16", "sr-ste", "mdgf-exp", "78.1", "0.77", "-3", "250",
                                        "perplexity", "top1_pct", "loss", "%", "true", "false", "maybe", "300", ""]),
                       st.floats().map(repr), st.integers(-10**6, 10**6).map(str), st.text(max_size=8))
CSV_DOC = {"rows": [{"plan": "dense", "recipe": "dense", "value": "78.1", "metric": "top1", "epochs": "300"},
                    {"plan": "ff=1:8", "recipe": "sr-ste", "value": "77.2", "metric": "top1", "epochs": "300"},
                    {"plan": "ff=1:16", "recipe": "mdgf-exp", "value": "76.0", "metric": "top1", "epochs": "300"}]}


def _csv_text(doc) -> str:
    import csv
    import io

    rows = [r for r in (doc.get("rows") if isinstance(doc, dict) else None) or [] if isinstance(r, dict)]
    columns = list(dict.fromkeys(str(k) for r in rows for k in r)) or ["plan"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for r in rows:
        writer.writerow([str({str(k): v for k, v in r.items()}.get(c, "")) for c in columns])
    return buf.getvalue()


def _one_line(exc: UserError, name: str) -> None:
    assert name in str(exc) and "\n" not in str(exc), str(exc)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=mutated(CSV_DOC, max_edits=4, values=CSV_VALUES))
def test_accuracy_csv_property(tmp_path, doc):
    """300 mutated CSVs: a frame with one row per recipe x plan and values in the metric's range, or UserError."""
    from nmsim.report.accuracy import metric_range, read_accuracy_csv
    path = tmp_path / "a.csv"
    path.write_text(_csv_text(doc))
    try:
        df = read_accuracy_csv(path)
    except UserError as exc:
        _one_line(exc, "a.csv")
        return
    assert not df.duplicated(["recipe", "plan"]).any()
    metric = str(df["metric"].dropna().iloc[0]) if "metric" in df and df["metric"].notna().any() else "accuracy"
    lo, hi, _ = metric_range(metric, str(df["unit"].dropna().iloc[0]) if "unit" in df and df["unit"].notna().any()
                             else "")
    assert df["value"].between(lo, hi).all()


def _check_reader(folder, file: str, doc, reader) -> None:
    """Write ``doc`` as ``file`` and read it: the reader returns or raises a one-line UserError naming the file."""
    path = folder / file
    path.write_text(json.dumps(doc))
    try:
        reader(path)
    except UserError as exc:
        _one_line(exc, file)


JSON_PROPERTY = dict(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(**JSON_PROPERTY)
@given(doc=mutated(json.loads(FOLDER[P])))
def test_protocol_json_property(tmp_path, doc):
    """200 mutated protocol.json files through the evidence reader."""
    _check_reader(tmp_path, "protocol.json", doc, read_protocol_file)


@settings(**JSON_PROPERTY)
@given(doc=mutated(TIMING * 2))
def test_timing_json_property(tmp_path, doc):
    """200 mutated timing logs."""
    _check_reader(tmp_path, "timing.json", doc, read_timing)


@settings(**JSON_PROPERTY)
@given(doc=mutated(json.loads(FOLDER[D])))
def test_done_json_property(tmp_path, doc):
    """200 mutated done markers."""
    _check_reader(tmp_path, "done.json", doc, lambda path: read_done(path.parent))


@settings(**JSON_PROPERTY)
@given(doc=mutated(json.loads(FOLDER[C])))
def test_config_json_property(tmp_path, doc):
    """200 mutated run configs."""
    _check_reader(tmp_path, "config.json", doc, read_config)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=mutated({"rows": [json.loads(line) for line in ROWS.splitlines()]}))
def test_metrics_reader_property(tmp_path, rows):
    """200 mutated metrics logs: rows with an integer step and numbers, or UserError naming the file and line."""
    path = tmp_path / "metrics.jsonl"
    items = rows.get("rows") if isinstance(rows, dict) and isinstance(rows.get("rows"), list) else [rows]
    path.write_text("".join(json.dumps(r) + "\n" for r in items))
    try:
        got = read_metrics_rows(path)
    except UserError as exc:
        _one_line(exc, "metrics.jsonl")
        return
    assert all(isinstance(r["step"], int) and r["step"] >= 0 for r in got)
