"""``nmsim schedule``: the timeline it prints and its one-line errors (exit status 2)."""
import io
import json

import pandas as pd
import pytest

from nmsim.cli import main


def run(capsys, *argv):
    rc = main(["schedule", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_mdgf_exp_table(capsys):
    rc, out, err = run(capsys, "mdgf-exp", "--sparsity", "ff=1:16", "--epochs", "350", "--steps-per-epoch", "313")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    head = " ".join(line.removeprefix("#   ") for line in lines[:2])  # wrapped at 100 columns
    assert lines[0].startswith("# mdgf-exp: ff=1:16") and "109,550 steps" in head
    assert "decay ff=1:16" in lines[3] and "sparse ff=1:16" in lines[4]  # after the wrapped header and the columns


def test_stepwise_csv_epochs(capsys):
    rc, out, _ = run(capsys, "sdgf-stepwise", "--sparsity", "ff=1:16", "--epochs", "350", "--steps-per-epoch", "313",
                     "--format", "csv")
    frame = pd.read_csv(io.StringIO(out))
    assert rc == 0
    assert frame["start_epoch"].tolist() == [0, 70, 140, 210, 280]
    assert frame["ff"].tolist() == ["15:16", "8:16", "4:16", "2:16", "1:16"]
    assert frame["start_step"].tolist() == [e * 313 for e in (0, 70, 140, 210, 280)]
    assert frame["stop_step"].iloc[-1] == 350 * 313


def test_geometric_json_with_warmup_and_finetune(capsys):
    rc, out, _ = run(capsys, "sdgf-geometric", "--sparsity", "ff=1:8", "--steps", "1000", "--k", "8",
                     "--dense-frac", "0.1", "--finetune-frac", "0.1", "--format", "json")
    rows = json.loads(out)
    assert rc == 0
    assert [r["phase"] for r in rows] == ["dense", "sparse", "sparse", "sparse", "sparse", "finetune"]
    assert [r["ff"] for r in rows] == ["dense", "8:64", "4:32", "2:16", "1:8", "1:8"]
    assert [r["start_step"] for r in rows] == [0, 100, 300, 500, 700, 900]


def test_linear_decay_end_values(capsys):
    rc, out, _ = run(capsys, "mdgf-linear", "--sparsity", "ff=1:8", "--steps", "10000", "--format", "json")
    rows = json.loads(out)
    assert rc == 0 and [r["start_step"] for r in rows] == [0, 4998]
    assert rows[0]["D_start"] == 1.0 and rows[1]["D_end"] == 0.0 and rows[1]["ff_cost"] == "1:8"


ERRORS = [
    (["nope", "--sparsity", "ff=1:16", "--steps", "10"],
     "nmsim: error: --recipe: unknown recipe 'nope' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, "
     "sdgf-stepwise, sdgf-geometric, custom)"),
    (["static", "--sparsity", "ff=1:16", "--steps", "10", "--dense-frac", "0.5", "--finetune-frac", "0.5"],
     "nmsim: error: --finetune-frac: dense warm-up (0.5) + fine-tune (0.5) fractions must be < 1"),
    (["static", "--sparsity", "ff=1:16", "--steps", "10", "--dense-frac", "-0.1"],
     "nmsim: error: --dense-frac: must be >= 0, got -0.1"),
    (["mdgf-exp", "--sparsity", "ff=1:16", "--steps", "10", "--beta", "0"],
     "nmsim: error: --beta: beta must be > 0, got 0"),
    (["mdgf-linear", "--sparsity", "ff=1:16", "--steps", "10", "--beta=-1e-3"],
     "nmsim: error: --beta: beta must be > 0, got -0.001"),
    (["sr-ste", "--sparsity", "ff=2:4", "--steps", "10", "--srste-lambda", "-1"],
     "nmsim: error: --srste-lambda: SR-STE lambda must be a number >= 0, got -1.0"),
    (["sdgf-geometric", "--sparsity", "ff=1:8", "--steps", "10", "--k", "6"],
     "nmsim: error: --k: k must be a power of two >= 2 (paper 16, public code 8), got 6"),
    (["sdgf-stepwise", "--sparsity", "ff=3:8", "--steps", "10"],
     "nmsim: error: --sparsity: stepwise cannot reach 3:8: M/N must be a power of two >= 2 "
     "(M is halved until it reaches N)"),
    (["static", "--sparsity", "ff=1:16", "--steps", "0"],
     "nmsim: error: --steps: total steps must be a positive integer, got 0"),
    (["static", "--sparsity", "ff=1:16", "--steps", "10", "--beta", "1e-3"],
     "nmsim: error: --beta: beta does not apply to recipe static (its parameters: none)"),
    (["static", "--steps", "10"],
     "nmsim: error: --sparsity: recipe static needs at least one sparse target (e.g. ff=1:16)"),
    (["static", "--sparsity", "ff=1:16", "--epochs", "10", "--steps-per-epoch", "0"],
     "nmsim: error: --steps-per-epoch: must be a positive integer, got 0"),
    (["static", "--sparsity", "ff=1:16"],
     "nmsim: error: --steps: give the run length with --steps N or --epochs E [--steps-per-epoch S]"),
    (["static", "--sparsity", "ff=1:16", "--steps", "10", "--epochs", "10"],
     "nmsim: error: --epochs: give either --steps or --epochs, not both"),
]


@pytest.mark.parametrize("argv,message", ERRORS)
def test_errors_are_one_line(capsys, argv, message):
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    assert err == message + "\n"


def test_custom_boundaries_flag(capsys):
    rc, out, _ = run(capsys, "custom", "--boundaries", "0:ff=4:8;0.5:ff=2:8,qk=1:4", "--steps", "100",
                     "--finetune-frac", "0.2", "--format", "json")
    rows = json.loads(out)
    assert rc == 0
    assert [(r["start_step"], r["ff"], r["qk"], r["phase"]) for r in rows] == [
        (0, "4:8", "dense", "sparse"), (40, "2:8", "1:4", "sparse"), (80, "2:8", "1:4", "finetune")]


def test_custom_bad_boundaries(capsys):
    rc, _, err = run(capsys, "custom", "--boundaries", "x:ff=1:8", "--steps", "10")
    assert rc == 2
    assert err == "nmsim: error: --boundaries: expected POSITION:selector=N:M[,...] entries separated by ';', " \
                  "got 'x:ff=1:8'\n"
