"""The top-level Python API: the CLI's arguments as keywords, DataFrames back, same numbers, one-line errors."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import nmsim
from nmsim.cli import main
from nmsim.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def cli_csv(capsys, *argv):
    assert main([*argv, "--format", "csv"]) == 0
    return pd.read_csv(io.StringIO(capsys.readouterr().out))


def test_budget_same_numbers_as_the_cli(capsys):
    kw = dict(recipes="dense,sr-ste", epochs=3, dataset_size=1000, batch=64, hardware="a100")
    api = nmsim.budget("vit-tiny", "ff=2:4", **kw)
    cli = cli_csv(capsys, "budget", "vit-tiny", "--sparsity", "ff=2:4", "--recipes", "dense,sr-ste", "--epochs", "3",
                  "--dataset-size", "1000", "--batch", "64", "--hardware", "a100")
    pd.testing.assert_frame_equal(api, cli)
    assert {"train_flops", "seconds", "joules"} <= set(api.columns)


def test_price_compare_schedule_trace(capsys):
    price = nmsim.price("vit-tiny", "a100", sparsity="ff=2:4", batch=2)
    cli = cli_csv(capsys, "price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff=2:4", "--batch", "2")
    pd.testing.assert_frame_equal(price, cli)
    assert "seconds" in price.columns
    comp = nmsim.compare("vit-tiny", hardware=["a100", "h100"], patterns="dense,2:4", batch=2)
    assert len(comp) == 4
    sched = nmsim.schedule("sdgf-stepwise", "ff=1:16", epochs=350, steps_per_epoch=313)
    assert sched["steps"].sum() == 350 * 313
    flops = nmsim.trace("gpt2", batch=1, seq=64)
    assert "fwd_flops" in flops.columns
    assert nmsim.load_workload("gpt2").d_model == 768


def test_errors_are_one_line_user_errors():
    with pytest.raises(UserError, match="unknown recipe 'bogus'"):
        nmsim.budget("vit-tiny", "ff=2:4", recipes="bogus", steps=1)
    with pytest.raises(UserError, match="give the run length once"):
        nmsim.budget("vit-tiny", "ff=2:4", steps=1, tokens=1e9)


def test_import_is_light_and_help_lists_the_api():
    code = ("import sys, nmsim; assert 'torch' not in sys.modules and 'pandas' not in sys.modules; "
            "import pydoc; t = pydoc.render_doc(nmsim); "
            "assert all(n in t for n in ('load_workload', 'price', 'compare', 'budget', 'schedule', 'train', "
            "'report'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_train_and_report_stay_functions_after_their_subpackages_are_imported():
    import nmsim
    from nmsim.report.study import run_study  # noqa: F401  (imports the subpackages of the same names)
    from nmsim.train import read_metrics  # noqa: F401
    assert nmsim.train is nmsim.api.train and nmsim.report is nmsim.api.report
    import sys
    assert sys.modules["nmsim.train"].read_metrics is read_metrics


def test_train_and_report_return_metrics_and_the_report(tmp_path, monkeypatch):
    import nmsim
    monkeypatch.chdir(tmp_path)
    curve = nmsim.train("runs/one", task="digits", recipe="sr-ste", sparsity="ff=1:8", epochs=1)
    assert {"step", "accuracy", "loss", "train_flops"} <= set(curve.columns) and curve["step"].is_monotonic_increasing
    page = nmsim.report("rep", workload="trainer-gpt2-chars", hardware="a100", no_train=True,
                        accuracy=str(ROOT / "examples" / "gpt2-chars-perplexity.csv"))
    assert page == Path("rep") / "report.md" and "perplexity (per byte, lower is better)" in page.read_text()
    with pytest.raises(UserError, match="unknown workload 'nope'"):
        nmsim.report("rep2", workload="nope")
    assert not Path("rep2").exists()
