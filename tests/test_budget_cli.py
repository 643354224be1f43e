"""``nmsim budget``: the table and one-line errors (exit 2)."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from nmsim.cli import main

BASE = ["budget", "vit-base-16", "--epochs", "350", "--steps-per-epoch", "313", "--paper-convention",
        "--batch", "1"]


def run(capsys, *extra):
    code = main([*BASE, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_table_issue_numbers(capsys):
    code, out, err = run(capsys, "--sparsity", "ff=1:16", "--recipes", "dense,sr-ste,sdgf-stepwise,mdgf-exp",
                         "--hardware", "ideal-nm", "--format", "csv")
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out)).set_index("recipe")
    assert list(table.index) == ["dense", "sr-ste", "sdgf-stepwise", "mdgf-exp"]
    assert round(table.loc["sr-ste", "matrix_vs_dense"], 4) == 0.6003
    assert round(table.loc["sdgf-stepwise", "matrix_vs_dense"], 4) == 0.7336
    assert round(table.loc["mdgf-exp", "matrix_vs_dense"], 4) == 0.8785
    assert table.loc["dense", "budget_epochs"] == pytest.approx(350)
    assert table.loc["sr-ste", "budget_epochs"] > table.loc["mdgf-exp", "budget_epochs"] > 350
    assert (table["seconds"] > 0).all()
    assert "15:16" in table.loc["sdgf-stepwise", "phases"]


def test_patterns_and_skip(capsys):
    code, out, err = run(capsys, "--sparsity", "ff=1:16", "--recipes", "sr-ste,sdgf-geometric",
                         "--patterns", "2:4,1:128", "--format", "json")
    assert code == 0, err
    table = pd.read_json(io.StringIO(out))
    # the pattern column says what was priced, in plan text form (a bare N:M retargets --sparsity's rules)
    assert set(zip(table["recipe"], table["pattern"])) == {("sr-ste", "ff=2:4"), ("sdgf-geometric", "ff=2:4"),
                                                         ("sr-ste", "ff=1:128")}
    assert "skipped sdgf-geometric ff=1:128" in err and "16:2048" in err


def test_table_format(capsys):
    code, out, _ = run(capsys, "--sparsity", "ff=1:8", "--recipes", "sr-ste")
    assert code == 0 and out.startswith("# priced: vit-base-16 training step") and "sr-ste" in out
    assert "# vit-base-16 ff=1:8" in out and max(map(len, out.splitlines())) <= 100


@pytest.mark.parametrize("extra, message", [
    (["--sparsity", "ff=1:16", "--recipes", "bogus"], "unknown recipe 'bogus'"),
    (["--sparsity", "ff=1:128", "--recipes", "sdgf-geometric"], "M=2048 does not divide gemm_k=768"),
    (["--sparsity", "ff=3:8", "--recipes", "sdgf-stepwise"], "stepwise cannot reach 3:8"),
    (["--sparsity", "ff=1:16", "--recipes", "sr-ste", "--dense-frac", "0.5", "--finetune-frac", "0.5"],
     "must be < 1"),
    (["--sparsity", "ff=1:16", "--recipes", "mdgf-exp", "--beta=-1e-4"], "beta must be > 0"),
    (["--sparsity", "ff=1:16", "--budget", "lots"], "expected 'dense' or a FLOP count"),
    (["--sparsity", "ff=1:16", "--patterns", "5:4"], "N > M"),
])
def test_one_line_errors(capsys, extra, message):
    code, out, err = run(capsys, *extra)
    assert code == 2 and out == ""
    assert message in err and err.startswith("nmsim: error:") and err.count("\n") == 1


def test_plans_read_in_plan_text(capsys):
    """Every row and the phase lines name the plan priced as ``ff=2:4``; the dense row is not 'dense dense'."""
    code, out, err = run(capsys, "--sparsity", "ff=1:8,qk=1:4", "--recipes", "dense,sr-ste", "--patterns",
                         "2:4,ff=1:8+qkv=1:4")
    assert code == 0, err
    assert "\nphases:\n" in out   # too wide for one table: the phases are listed below it, keyed by recipe and plan
    assert "  sr-ste ff=2:4,qk=2:4: sparse ff=2:4,qk=2:4 sr-ste [0," in out and "  dense: dense [0," in out
    assert "  sr-ste ff=1:8,qkv=1:4: sparse ff=1:8,qkv=1:4 sr-ste [0," in out
    assert "dense dense" not in out and "ff2_4" not in out
