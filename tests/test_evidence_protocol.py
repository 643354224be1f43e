"""The evidence protocol end to end on a tiny digits run set, `nmsim plot`, the report hook, the corpus."""
import gzip
import json
import math

import pandas as pd
import pytest
import torch

from nmsim.cli import main as cli_main
from nmsim.errors import UserError
from nmsim.evidence.protocol import Protocol, plan, run_protocol
from nmsim.evidence.summary import summarize

TINY = dict(task="digits", recipes=("dense", "sr-ste", "sdgf-geometric"), patterns=("ff=1:16",), seeds=2, epochs=1,
            eval_every=5)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("evidence") / "ev"
    run_protocol(Protocol(**TINY), out, workers=1, command="test", echo=lambda *_: None)
    return out


def test_plan_pairs_recipes_by_seed():
    configs = plan(Protocol(**{**TINY, "patterns": ("ff=1:16", "ff=1:8")}))
    assert len(configs) == 2 * (1 + 2 * 2)
    assert [(c.recipe, c.seed) for c in configs[:3]] == [("dense", 0), ("sr-ste", 0), ("sdgf-geometric", 0)]
    for seed in (0, 1):
        rest = [{k: v for k, v in c.to_dict().items() if k not in ("recipe", "sparsity", "recipe_params")}
                for c in configs if c.seed == seed]
        assert all(r == rest[0] for r in rest)          # same seed, data order and hyper-parameters
    geo = [c for c in configs if c.recipe == "sdgf-geometric"]
    assert {json.dumps(c.recipe_params) for c in geo} == {'{"k": 4}', '{"k": 8}'}   # 4:64 and 8:64 fit d=64


def test_pairing_same_weights_and_batches_until_the_recipes_diverge(tmp_path):
    from nmsim.train.loop import read_metrics, train_run

    configs = plan(Protocol(**{**TINY, "recipes": ("dense", "sr-ste"), "seeds": 2, "dense_frac": 0.5}))
    by = {(c.recipe, c.seed): c for c in configs}
    rows = {}
    for key in (("dense", 0), ("sr-ste", 0), ("dense", 1)):
        train_run(by[key], tmp_path / f"{key[0]}{key[1]}", progress=False)
        rows[key] = {r["step"]: r["loss"] for r in read_metrics(tmp_path / f"{key[0]}{key[1]}")}
    # sr-ste's first half is dense: same initial weights and batches give bit-identical losses until step 11
    assert [rows["sr-ste", 0][s] for s in (5, 10)] == [rows["dense", 0][s] for s in (5, 10)]
    assert rows["sr-ste", 0][20] != rows["dense", 0][20] and rows["dense", 1][5] != rows["dense", 0][5]


def test_protocol_writes_summaries(folder):
    for name in ("summary.md", "finals.csv", "paired.csv", "gap.csv", "reach_dense.csv", "equal_flops.csv",
                 "common_flops.csv", "reach_reference.csv", "claims.csv", "curves.png", "timing.json"):
        assert (folder / name).exists(), name
    meta = json.loads((folder / "protocol.json").read_text())
    assert meta["command"] == "test" and meta["protocol"]["geometric_k"] == {"ff=1:16": 4}
    finals = pd.read_csv(folder / "finals.csv")
    assert sorted(finals["recipe"]) == ["dense", "sdgf-geometric", "sr-ste"] and set(finals["seeds"]) == {2}
    done = [json.loads(p.read_text())["final"]["wall_seconds"]
            for p in (folder / "protocol-runs").rglob("sr-ste/*/seed*/done.json")]
    assert finals.set_index("recipe").loc["sr-ste", "wall_seconds_median"] == pytest.approx(sum(done) / 2)
    paired = pd.read_csv(folder / "paired.csv")
    assert len(paired) == 4 and set(paired["metric"]) == {"accuracy", "loss"}
    assert ((paired["ci_low"] <= paired["delta_mean"]) & (paired["delta_mean"] <= paired["ci_high"])).all()
    runs = pd.read_csv(folder / "protocol-runs" / "sweep_runs.csv")
    dense, geo = (runs[runs["recipe"] == r].set_index("seed") for r in ("dense", "sdgf-geometric"))
    assert (geo["train_flops"] < dense["train_flops"]).all()    # priced by the cost model, sparse is cheaper
    text = (folder / "summary.md").read_text()
    assert "Ranking (only where the interval excludes zero), by `loss`" in text and "37.8 %" in text
    claims = pd.read_csv(folder / "claims.csv")
    assert set(claims["verdict"]) <= {"holds", "does not hold", "cannot be decided"}
    assert set(claims["claim"]) == {"dense-quality", "iso-flop-vs-sparse", "iso-flop-vs-dense", "vs-srste"}
    assert ("Recipe settings differ from the paper's (docs/paper-fidelity.md): SDGF-geometric k 4 at ff=1:16 (the "
            "paper's: 16, too wide for this model).\n") in text
    assert "22 steps (1,408 examples per run)" in text    # batch 64


def test_summarize_from_copies_finished_seeds_only(folder, tmp_path, capsys):
    import shutil

    src = tmp_path / "src"
    shutil.copytree(folder, src)
    (src / "protocol-runs" / "digits" / "sr-ste" / "ff1_16" / "seed1" / "done.json").unlink()  # seed 1 unfinished
    before = sorted(p.relative_to(src) for p in src.rglob("*"))
    dest = tmp_path / "dest"
    (dest / "protocol-runs").mkdir(parents=True)
    (dest / "README.md").write_text("a user's note")
    assert cli_main(["evidence", "summarize", str(dest), "--from", str(src)]) == 2
    assert capsys.readouterr().err == (f"nmsim: error: {dest}: exists, is not empty and holds no protocol.json; "
                                       "refusing to write into it\n")
    shutil.copy(folder / "protocol.json", dest)
    assert cli_main(["evidence", "summarize", str(dest), "--from", str(src)]) == 0
    out = capsys.readouterr().out
    said = " ".join(out.split("\nevidence: summary in")[0].split())      # wrapped at 100 columns
    assert said == (f"evidence: 3 finished runs of seeds 0 copied into {dest / 'protocol-runs'}; left out "
                    "(unfinished): seed 1 (2 of 3 runs)")
    copied = sorted(p.relative_to(dest / "protocol-runs").as_posix() for p in (dest / "protocol-runs").rglob("*.*"))
    assert copied == [f"digits/{r}/seed0/{f}" for r in ("dense/dense", "sdgf-geometric/ff1_16", "sr-ste/ff1_16")
                      for f in ("config.json", "done.json", "metrics.jsonl")]      # no checkpoint, no lock
    assert sorted(p.relative_to(src) for p in src.rglob("*")) == before              # the source as it was
    assert (dest / "README.md").read_text() == "a user's note"
    assert json.loads((dest / "timing.json").read_text()) == json.loads((src / "timing.json").read_text())
    assert set(pd.read_csv(dest / "finals.csv")["seeds"]) == {1}
    assert cli_main(["evidence", "summarize", str(src), "--from", str(src)]) == 2
    assert capsys.readouterr().err == (f"nmsim: error: {src}: is the folder the runs come from; give another "
                                       "folder\n")


def test_protocol_resumes_and_refuses_other_protocols(folder, tmp_path):
    before = (folder / "paired.csv").read_bytes()
    said = []
    run_protocol(Protocol(**TINY), folder, workers=1, echo=said.append)
    assert any("0 to run" in s for s in said)
    assert (folder / "paired.csv").read_bytes() == before
    timing = json.loads((folder / "timing.json").read_text())
    assert len(timing) == 2 and timing[0]["cpu_seconds"] > timing[1]["cpu_seconds"] >= 0   # the 2nd trains nothing
    with pytest.raises(UserError, match=r"holds a different protocol \(seeds differ\)"):
        run_protocol(Protocol(**{**TINY, "seeds": 3}), folder, workers=1, echo=lambda *_: None)
    (tmp_path / "mine.txt").write_text("a user's file")
    with pytest.raises(UserError, match="holds no protocol.json; refusing"):
        run_protocol(Protocol(**TINY), tmp_path, workers=1, echo=lambda *_: None)
    assert (tmp_path / "mine.txt").read_text() == "a user's file"


def test_an_interrupted_invocation_is_timed_too(tmp_path, monkeypatch):
    import nmsim.train.sweep as sweep
    from nmsim.evidence.files import read_timing

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(sweep, "run_sweep", stopped)
    with pytest.raises(KeyboardInterrupt):
        run_protocol(Protocol(**TINY), tmp_path / "ev", workers=1, echo=lambda *_: None)
    timing = read_timing(tmp_path / "ev" / "timing.json")
    assert len(timing) == 1 and (timing[0]["stopped"], timing[0]["runs_finished"]) == ("KeyboardInterrupt", 0)
    assert "runs_failed" not in timing[0] and timing[0]["wall_seconds"] >= 0


def test_at_target_flags_from_the_logged_patterns(folder):
    from nmsim.evidence.summary import finished_curves

    curves = finished_curves(folder / "protocol-runs")
    geo = curves[(curves["recipe"] == "sdgf-geometric") & (curves["seed"] == 0)]
    # 22 steps: 1 dense, sparse part steps 1-19 in thirds (4:64 from 1, 2:32 from 7, 1:16 from 13), fine-tune
    # 20-21; evaluations after steps 5, 10, 15, 20, 22
    assert list(geo["at_target"]) == [False, False, True, True, True]
    assert curves.loc[curves["recipe"] == "dense", "at_target"].all()
    assert curves.groupby("folder")["at_target"].last().all()       # every run ends at its target


def test_summarize_is_deterministic(folder):
    before = {n: (folder / n).read_bytes() for n in ("paired.csv", "claims.csv", "equal_flops.csv")}
    summarize(folder, echo=lambda *_: None)
    assert {n: (folder / n).read_bytes() for n in before} == before


@pytest.mark.parametrize("args, message", [
    (["evidence", "run", "--seeds", "1"], "--seeds: paired intervals need at least 2 seeds, got 1"),
    (["evidence", "run", "--metric", "bleu"], "--metric: unknown metric 'bleu' (one of accuracy, loss)"),
    (["evidence", "run", "--recipes", "sr-ste,mdgf-exp"], "the recipes must include dense and the reference"),
    (["evidence", "summarize", "/nonexistent-nmsim"], "is not an evidence folder (no protocol.json)"),
    (["plot", "/nonexistent-nmsim", "--out", "x.png"], "no such runs folder"),
])
def test_cli_errors_are_one_line(args, message, capsys):
    rc = cli_main(args)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA; the error path is CPU-only")
def test_cuda_request_without_gpu_is_a_one_line_error(tmp_path, capsys):
    rc = cli_main(["evidence", "run", "--device", "cuda", "--out", str(tmp_path / "ev")])
    err = capsys.readouterr().err
    assert rc == 2 and err == "nmsim: error: --device: CUDA is not available on this machine\n"
    assert not (tmp_path / "ev").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine: the --device cuda "
                    "protocol path runs only where torch.cuda.is_available()")
def test_protocol_on_cuda_matches_cpu(folder, tmp_path):
    out = run_protocol(Protocol(**TINY), tmp_path / "ev", workers=1, device="cuda", echo=lambda *_: None)
    cpu = pd.read_csv(folder / "finals.csv").set_index("recipe")
    gpu = pd.read_csv(out / "finals.csv").set_index("recipe")
    assert (gpu["train_flops"] == cpu["train_flops"]).all()            # same pricing, whatever the device
    assert (gpu["loss_mean"] - cpu["loss_mean"]).abs().max() < 0.05     # fp32 sums differ, training does not


def test_plot_png_and_html(folder, tmp_path, capsys):
    runs = str(folder / "protocol-runs")
    assert cli_main(["plot", runs, "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli_main(["plot", runs, "--out", str(tmp_path / "c.html"), "--metrics", "loss", "--x", "steps"]) == 0
    page = (tmp_path / "c.html").read_text()
    assert "data:image/png;base64," in page and "sdgf-geometric" in page and "loss_mean" in page
    assert "6 runs" in capsys.readouterr().out
    assert cli_main(["plot", runs, "--out", str(tmp_path / "c.pdf")]) == 2
    assert "output must end in .png or .html" in capsys.readouterr().err
    assert cli_main(["plot", runs, "--out", str(tmp_path / "d.png"), "--x", "epochs"]) == 2
    assert "--x: unknown x axis 'epochs' (flops or steps)" in capsys.readouterr().err
    assert not (tmp_path / "d.png").exists()


def test_report_hook_adds_isoflop_section(folder):
    from nmsim.report.evidence_section import add_section
    from nmsim.curves.runs import load_curves
    from nmsim.report.writer import Figure, Report, Table

    report = Report("t")
    add_section(report, load_curves(folder / "protocol-runs"))
    (section,) = report.sections
    kinds = [type(i) for i in section.items]
    assert kinds == [Figure, Table, Table]
    reach, equal = section.items[1].frame, section.items[2].frame
    assert "dense" not in set(reach["recipe"]) and set(equal["recipe"]) == {"sr-ste", "sdgf-geometric"}
    assert all(math.isfinite(v) for v in equal["flops_rel_dense"])
    empty = Report("t")
    add_section(empty, load_curves(folder / "protocol-runs").query("recipe != 'dense'"))
    assert empty.sections == []


def test_stdlib_corpus_is_shipped_and_checked(tmp_path, monkeypatch):
    from nmsim.train import tasks

    corpus = tasks.stdlib_corpus()
    assert len(corpus) == 600_000 and corpus.startswith(b'"""Record of phased-in incompatible language changes.')
    chars = tasks.load_task("stdlib-chars")
    assert chars.train_x.shape == (8153, 64) and chars.test_x.shape == (256, 64)
    (tmp_path / tasks.CORPUS_FILE).write_bytes(gzip.compress(corpus[:-1] + b"!"))
    monkeypatch.setattr(tasks, "CORPUS_DIR", tmp_path)
    with pytest.raises(UserError, match="does not match its SHA-256"):
        tasks.stdlib_corpus()
