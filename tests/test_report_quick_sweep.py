"""The report's quick trainer sweep (nmsim.report.quick_sweep): trained once and kept, found again in the report
folder or the cache, never started for a workload it does not bear on; the trainer section says truthfully why
it is absent. Training itself is replaced by a stand-in that writes finished run folders."""
from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from nmsim.report import quick_sweep as Q
from nmsim.report.study import StudyOptions, run_study
from nmsim.train.sweep import run_folder

POINTS = ["dense/dense", "sr-ste/ff1_8", "sr-ste/ff1_16", "mdgf-exp/ff1_8", "mdgf-exp/ff1_16", "sdgf-stepwise/ff1_8",
          "sdgf-stepwise/ff1_16"]
RELS = [f"digits/{point}/seed{seed}" for point in POINTS for seed in range(5)]   # 7 points x 5 seeds


def _finished_run(folder: Path, config, accuracy: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    rows = [{"step": 22 * e, "epoch": e, "accuracy": accuracy * e / 2, "train_flops": 1e9 * e, "loss": 1 / e,
             "phase": "sparse"} for e in (1, 2)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "done.json").write_text(json.dumps({"final": rows[-1]}))


@pytest.fixture
def trained(monkeypatch, tmp_path):
    """The runs each (stand-in) training call made, as run folders relative to its root; a private cache."""
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path / "cache"))
    calls = []

    def fake_sweep(configs, out, **_):
        calls.append([run_folder("", c).as_posix() for c in configs])
        for c in configs:
            _finished_run(Path(out) / run_folder("", c), c, 0.9)
        return pd.DataFrame()

    monkeypatch.setattr(importlib.import_module("nmsim.train.sweep"), "run_sweep", fake_sweep)
    return calls


def test_kept_runs_are_reused_and_only_missing_ones_trained_in_the_cache(tmp_path, trained):
    runs = Q.configs(10)
    assert [run_folder("", c).as_posix() for c in runs] == RELS
    for i, c in enumerate(runs[:-1]):   # an earlier report kept 34 of the 35 runs
        _finished_run(tmp_path / "rep" / "trainer-runs" / RELS[i], c, 0.5)
    lines = []
    got = Q.quick_runs(10, tmp_path / "rep", echo=lines.append)
    cache = tmp_path / "cache" / "trainer-runs" / Q.cache_folder(runs).name
    assert (got.kept, got.trained) == (34, 1) and trained == [[RELS[-1]]]
    assert lines == [f"quick sweep: 35 runs, 34 kept, 1 to train in {cache}"]
    assert got.folders[RELS[0]] == tmp_path / "rep" / "trainer-runs" / RELS[0]
    assert got.folders[RELS[-1]] == cache / RELS[-1]
    again = Q.quick_runs(10, tmp_path / "elsewhere", echo=lines.append)   # another report folder: the cache
    assert (again.kept, again.trained) == (1, 34) and trained[1] == RELS[:-1]
    third = Q.quick_runs(10, tmp_path / "elsewhere", echo=lines.append)
    assert (third.kept, third.trained) == (35, 0) and len(trained) == 2 and lines[-1] == "quick sweep: 35 runs, 35 kept"
    # runs of another length are other runs: the kept 10-epoch ones are neither reused nor in the way
    five = Q.quick_runs(5, tmp_path / "rep", echo=lines.append)
    assert (five.kept, five.trained) == (0, 35) and Q.cache_folder(Q.configs(5)) != Q.cache_folder(runs)


def _small(**kw) -> StudyOptions:
    return StudyOptions(patterns="1:8", recipes="sr-ste", hardware="ideal-nm", **kw)


def test_report_keeps_its_runs_and_a_second_report_trains_nothing(tmp_path, trained, monkeypatch):
    out = run_study(_small(workload="trainer-vit-digits"), tmp_path / "rep", echo=lambda *_: None)
    assert trained == [RELS]
    kept = sorted(p.relative_to(out).as_posix() for p in (out / "trainer-runs").rglob("*") if p.is_file())
    assert kept == sorted(["trainer-runs/quick-sweep.json", *(f"trainer-runs/{r}/{f}" for r in RELS
                                                             for f in ("config.json", "done.json", "metrics.jsonl"))])
    index = json.loads((out / "trainer-runs" / "quick-sweep.json").read_text())
    assert index == {"request": Q.request(10), "runs": {r: c.to_dict() for r, c in zip(RELS, Q.configs(10))},
                     "environments": {r: None for r in RELS}}   # the stand-in runs record no machine
    assert index["request"]["recipes"] == ["dense", "sr-ste", "mdgf-exp", "sdgf-stepwise"]
    curves = (out / "trainer_curves.csv").read_bytes()
    assert sorted(set(pd.read_csv(out / "trainer_curves.csv")["folder"])) == sorted(RELS)
    md = (out / "report.md").read_text()
    assert ("Source: the report's quick sweep, digits, dense, sr-ste, mdgf-exp, sdgf-stepwise x ff=1:8, ff=1:16, "
            "5 seeds paired by seed, 10 epochs (deterministic seeds; trained once, its runs kept in `trainer-runs/` "
            "beside this page, their machines in `trainer-runs/quick-sweep.json`: 35 run(s) trained before nmsim "
            "recorded the machine).") in md
    shutil.rmtree(tmp_path / "cache")   # a fresh clone of a committed report: only the report folder has them

    def unresolved(epochs):
        raise AssertionError("the indexed runs are reused without resolving their configs")

    resolve = Q.configs
    monkeypatch.setattr(Q, "configs", unresolved)
    lines = []
    out = run_study(_small(workload="trainer-vit-digits"), tmp_path / "rep", echo=lines.append)
    assert len(trained) == 1 and "quick sweep: 35 runs, 35 kept" in lines
    assert (out / "trainer_curves.csv").read_bytes() == curves and (out / "report.md").read_text() == md
    monkeypatch.setattr(Q, "configs", resolve)   # the trainer's code changed since: configs checked, runs reused
    index["request"]["code"] = "0" * 16
    (out / "trainer-runs" / "quick-sweep.json").write_text(json.dumps(index))
    got = Q.quick_runs(10, out, echo=lines.append)
    assert (got.kept, got.trained, len(trained)) == (35, 0, 1) and got.index["request"] == Q.request(10)


SECTION = "## Reference trainer: accuracy vs measured training FLOPs\n\n"
HINT = ("Trainer curves come from the runs folder of an `nmsim sweep` on a task like the workload's, given as "
        "`--accuracy runs/DIR`")


def _section(out: Path) -> str:
    md = (out / "report.md").read_text()
    return md[md.index(SECTION) + len(SECTION):].split("\n")[0]


@pytest.mark.parametrize("train", [True, False])
def test_a_language_model_never_starts_the_digits_sweep(tmp_path, trained, train):
    acc = tmp_path / "acc.csv"
    acc.write_text("plan,recipe,value\ndense,dense,3.1\nff=1:8,sr-ste,3.3\n")
    lines = []
    out = run_study(_small(workload="trainer-gpt2-chars", accuracy=str(acc), train=train), tmp_path / "rep",
                    echo=lines.append)
    assert trained == [] and not (out / "trainer-runs").exists() and not any("sweep" in x for x in lines)
    why = ("Skipped (`--no-train`)." if not train else "Not run: the report's quick sweep trains the `digits` image "
           "task, which does not bear on `trainer-gpt2-chars`, not an image model.")
    assert _section(out) == f"{why} {HINT} (in place of `{acc}`)."


def test_no_train_without_an_accuracy_file(tmp_path, trained):
    out = run_study(_small(workload="trainer-vit-digits", train=False), tmp_path / "rep", echo=lambda *_: None)
    assert trained == [] and _section(out) == f"Skipped (`--no-train`). {HINT}."


def test_the_committed_report_keeps_every_run_a_fresh_clone_would_train(trained):
    """A fresh clone's ``make report`` trains nothing: reports/default/trainer-runs holds the runs today's trainer
    resolves (a changed trainer default makes them other runs: run ``make report`` and commit reports/default)."""
    committed = Path(__file__).resolve().parents[1] / "reports" / "default"
    index = json.loads((committed / Q.FOLDER / Q.INDEX).read_text())
    assert index["runs"] == json.loads(json.dumps({r: c.to_dict() for r, c in zip(RELS, Q.configs(10))}))
    got = Q.quick_runs(10, committed, echo=lambda *_: None)
    assert (got.kept, got.trained, trained) == (35, 0, [])


def test_environment_text_names_each_machine_once_and_counts_unrecorded_runs():
    env = {"cpu_model": "AMD EPYC", "cpu_capability": "AVX512", "torch": "2.13.0+cpu", "mkl": "2024.2-Product",
           "onednn": "3.12.0", "device": "cpu"}
    index = {"environments": {"a": env, "b": dict(env), "c": None}}
    assert Q.environment_text(index) == ("AMD EPYC, ATen AVX512, torch 2.13.0+cpu, MKL 2024.2-Product, oneDNN "
                                         "3.12.0, cpu; 1 run(s) trained before nmsim recorded the machine")
    assert Q.environment_text({}) == "not recorded"
