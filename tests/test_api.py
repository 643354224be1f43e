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


def test_price_compare_schedule_trace(capsys):
    price = nmsim.price("vit-tiny", "a100", sparsity="ff=2:4", batch=2)
    cli = cli_csv(capsys, "price", "vit-tiny", "--hardware", "a100", "--sparsity", "ff=2:4", "--batch", "2")
    assert isinstance(price["band_level"].dtype, pd.CategoricalDtype)   # a few strings, however many rows
    pd.testing.assert_frame_equal(price.astype({"band_level": str}), cli)
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
            "assert all(n in t for n in ('load_workload', 'price', 'compare', 'budget', 'schedule', 'train_run', "
            "'write_report', 'cluster_budget', 'export_gemms', 'validate', 'evidence_run'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_train_and_report_are_packages_that_mock_patch_reaches():
    """No module-class trick: ``nmsim.train`` and ``nmsim.report`` are the subpackages (``mock.patch`` of a name in
    them works through the attribute path); the API functions are ``train_run`` and ``write_report``."""
    from unittest import mock

    import nmsim.report
    import nmsim.train
    assert type(nmsim.train).__name__ == "module" and nmsim.train.__name__ == "nmsim.train"
    assert nmsim.report.__name__ == "nmsim.report" and type(nmsim).__name__ == "module"
    with mock.patch("nmsim.train.TASK_NAMES", ("only",)):
        with pytest.raises(UserError, match="unknown task 'digits' \\(one of only\\)"):
            nmsim.train_run("unused", task="digits")
    assert nmsim.facade.train is nmsim.train_run and nmsim.facade.report is nmsim.write_report
    packages = {p.name for p in ROOT.joinpath("nmsim").iterdir() if (p / "__init__.py").exists()}
    assert {"train", "report", "export", "cluster", "evidence"} <= packages
    assert not packages & set(nmsim.__all__)   # no API function shadows a subpackage


def test_train_and_report_return_metrics_and_the_report(tmp_path, monkeypatch):
    import nmsim
    monkeypatch.chdir(tmp_path)
    curve = nmsim.train_run("runs/one", task="digits", recipe="sr-ste", sparsity="ff=1:8", epochs=1)
    assert {"step", "accuracy", "loss", "train_flops"} <= set(curve.columns) and curve["step"].is_monotonic_increasing
    page = nmsim.write_report("rep", workload="trainer-gpt2-chars", hardware="a100", no_train=True,
                        accuracy=str(ROOT / "examples" / "gpt2-chars-perplexity.csv"))
    assert page == Path("rep") / "report.md" and "perplexity (per byte, lower is better)" in page.read_text()
    with pytest.raises(UserError, match="unknown workload 'nope'"):
        nmsim.write_report("rep2", workload="nope")
    assert not Path("rep2").exists()


# Same question, same number: each command and its API function, the same question; the API's frame written as
# CSV reads back exactly as the command's --format csv (floats round-trip, so every value is identical).
# (API function, positional arguments, keywords, the command line less --format csv)
AGREE = {
    "trace": (nmsim.trace, ("gpt2",), dict(batch=1, seq=64, by="layer"),
              ["trace", "gpt2", "--batch", "1", "--seq", "64", "--by", "layer"]),
    "trace-paper": (nmsim.trace, ("vit-tiny",), dict(paper=True), ["trace", "vit-tiny", "--paper"]),
    "price-op": (nmsim.price, ("gpt2", "h100"), dict(mode="decode", batch=2, context=128, by="op"),
                 ["price", "gpt2", "--hardware", "h100", "--mode", "decode", "--batch", "2", "--context", "128",
                  "--by", "op"]),
    "price-memory": (nmsim.price, ("gpt2", "a100"), dict(mode="training", batch=2, seq=128, memory=True),
                     ["price", "gpt2", "--hardware", "a100", "--mode", "training", "--batch", "2", "--seq", "128",
                      "--memory"]),
    "price-sweep": (nmsim.price, ("gpt2", "h100"), dict(mode="decode", batch=2, context="64,128", sparsity="ff=2:4"),
                    ["price", "gpt2", "--hardware", "h100", "--mode", "decode", "--batch", "2", "--context", "64,128",
                     "--sparsity", "ff=2:4"]),
    "compare": (nmsim.compare, ("gpt2",), dict(hardware="a100,l4", patterns="dense,2:4", mode="decode", batch=2,
                                               context=128, rank_by="cost"),
                ["compare", "gpt2", "--hardware", "a100,l4", "--patterns", "dense,2:4", "--mode", "decode",
                 "--batch", "2", "--context", "128", "--rank-by", "cost"]),
    "compare-memory": (nmsim.compare, ("vit-tiny",), dict(hardware="a100", patterns="dense,2:4", memory=True),
                       ["compare", "vit-tiny", "--hardware", "a100", "--patterns", "dense,2:4", "--memory"]),
    "budget": (nmsim.budget, ("gpt2", "ff=2:4"), dict(recipes="dense,mdgf-exp", tokens=1e9, seq=256, batch=8,
                                                      hardware="h100"),
               ["budget", "gpt2", "--sparsity", "ff=2:4", "--recipes", "dense,mdgf-exp", "--tokens", "1e9", "--seq",
                "256", "--batch", "8", "--hardware", "h100"]),
    "schedule": (nmsim.schedule, ("mdgf-exp", "ff=1:8"), dict(steps=1000, dense_frac=0.1),
                 ["schedule", "mdgf-exp", "--sparsity", "ff=1:8", "--steps", "1000", "--dense-frac", "0.1"]),
    "cluster-plan": (nmsim.cluster_plan, ("gpt2",), dict(system="dgx-a100", nodes=1, global_batch=64,
                                                         tokens=1e9, top=3),
                     ["cluster", "plan", "gpt2", "--system", "dgx-a100", "--nodes", "1", "--global-batch", "64",
                      "--tokens", "1e9", "--top", "3"]),
    "cluster-budget": (nmsim.cluster_budget, ("gpt2",), dict(system="dgx-h100", nodes=1, global_batch=64,
                                                             tokens=1e9, recipes="dense,sr-ste", sparsity="ff=2:4"),
                       ["cluster", "budget", "gpt2", "--system", "dgx-h100", "--nodes", "1", "--global-batch", "64",
                        "--tokens", "1e9", "--recipes", "dense,sr-ste", "--sparsity", "ff=2:4"]),
    "cluster-validate": (nmsim.cluster_validate, (), dict(only="megatron-1.7b,megatron-3.6b"),
                         ["cluster", "validate", "--only", "megatron-1.7b,megatron-3.6b"]),
    "cluster-systems": (nmsim.cluster_systems, (), {}, ["cluster", "systems"]),
    "hardware-list": (nmsim.hardware_list, (), {}, ["hardware", "list"]),
    "validate-memory": (lambda **kw: nmsim.validate(**kw).rows, (), dict(memory=True),
                        ["validate", "--memory"]),
}


@pytest.mark.parametrize("case", sorted(AGREE))
def test_each_command_and_its_api_function_give_the_same_numbers(case, capsys):
    function, args, kwargs, argv = AGREE[case]
    api = function(*args, **kwargs)
    assert capsys.readouterr().out == ""   # the API prints nothing
    cli = cli_csv(capsys, *argv)
    priced = case.startswith(("price", "compare", "budget")) and not case.endswith("memory")
    assert len(cli) > 1 and (not priced or cli["seconds"].gt(0).all())
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(api.to_csv(index=False))), cli)


def test_api_calls_run_no_command_write_no_temp_file_and_no_ledger_entry(tmp_path, monkeypatch, capsys):
    """The API calls the library: the CLI's ``main`` never runs, no temporary table is written and the ledger of
    files nmsim wrote (``NMSIM_STATE_DIR``) gets no entry; folder outputs are the only files written."""
    import tempfile
    from unittest import mock

    from nmsim.io.ledger import ledger_path
    monkeypatch.setenv("NMSIM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    made = []
    real = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    with mock.patch("nmsim.cli.main", side_effect=AssertionError("the API ran the CLI")):
        nmsim.price("vit-tiny", "a100", batch=2)
        nmsim.compare("vit-tiny", hardware="a100", patterns="dense")
        nmsim.budget("vit-tiny", "ff=2:4", recipes="sr-ste", steps=10, batch=8)
        nmsim.schedule("sr-ste", "ff=1:8", steps=10)
        nmsim.trace("vit-tiny")
        out = nmsim.export_gemms("vit-tiny", "gemms", format="scalesim", sparsity="ff=2:4")
    # no temporary folder outside the outputs asked for (an export's own may sit next to it until complete)
    assert [m for m in made if not Path(m).resolve().is_relative_to(tmp_path.resolve())] == []
    assert not ledger_path().exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gemms"] and out == Path("gemms")
    assert capsys.readouterr().out == ""


def test_export_api_writes_the_files_the_command_writes(tmp_path, capsys):
    api = nmsim.export_gemms("gpt2", tmp_path / "api", format="timeloop", sparsity="ff=1:4", batch=1, seq=32)
    assert main(["export", "gpt2", "--format", "timeloop", "--sparsity", "ff=1:4", "--batch", "1", "--seq", "32",
                 "--out", str(tmp_path / "cli")]) == 0
    files = sorted(p.relative_to(api) for p in api.rglob("*") if p.is_file())
    assert len(files) > 10
    assert files == sorted(p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").rglob("*") if p.is_file())
    for f in files:
        assert (api / f).read_bytes() == (tmp_path / "cli" / f).read_bytes(), f


def test_new_api_functions_raise_the_commands_one_line_errors():
    with pytest.raises(UserError, match=r"^--tokens: give --tokens \(e.g. 1e12\) or --dataset-tokens with --epochs$"):
        nmsim.cluster_budget("gpt2", system="dgx-h100", nodes=1)
    with pytest.raises(UserError, match=r"^--only: unknown run 'nope'$"):
        nmsim.cluster_validate(only="nope")
    with pytest.raises(UserError, match=r"^give the run folder \(out=...\)|^--out: give the run folder"):
        nmsim.export_gemms("gpt2", format="scalesim")


def test_the_core_imports_no_cli_and_the_keyword_functions_read_with_its_parsers():
    """nmsim.api (the core both front ends wrap) imports nothing of the CLI; the keyword functions (nmsim.facade)
    sit above it and read their keywords with the commands' parsers."""
    from test_layering import arrows

    found = arrows()
    assert [f for a, b, f, *_ in found if a == "api" and b in ("cli", "facade", "nmsim")] == []
    assert {(f, lazy) for a, b, f, _, lazy in found if (a, b) == ("facade", "cli")} == {
        ("nmsim/facade/keywords.py", True)}
