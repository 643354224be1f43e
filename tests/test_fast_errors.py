"""A mistyped name fails before the heavy work: one line, exit status 2, nothing on stdout, and neither torch nor
matplotlib (name typos: nor pandas) imported, nor the command's computation run (the structure behind the
bench's <= 0.5 s typo goal; no timing here)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("import sys\nfrom nmsim.cli import main\ntry:\n    rc = main(sys.argv[1:])\n"
         "except SystemExit as exc:  # argparse\n    rc = exc.code\n"
         "heavy = [m for m in ('torch', 'matplotlib', 'pandas') if m in sys.modules]\n"
         "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\nsys.exit(rc)")


def _run(args: list[str]) -> tuple[int, str, list[str], str]:
    """(exit status, stdout, stderr lines before the probe's line, heavy modules loaded)."""
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ}, timeout=600)
    lines = r.stderr.strip().splitlines()
    heavy = lines[-1].removeprefix("HEAVY=") if lines and lines[-1].startswith("HEAVY=") else "?"
    return r.returncode, r.stdout, [x for x in lines if not x.startswith("HEAVY=")], heavy


LIGHT = [   # name typos that fail before pandas too: (argv, exact message)
    (["price", "lama-2-7b", "--hardware", "a100"], "nmsim: error: workload: unknown workload 'lama-2-7b' (bundled: "),
    (["compare", "vit-base-16", "--hardware", "a100,h10O"], "nmsim: error: h10O: unknown hardware: not a bundled"),
    (["compare", "vit-bse-16"], "nmsim: error: workload: unknown workload 'vit-bse-16' (bundled: "),
    (["trace", "vit-bse-16"], "nmsim: error: workload: unknown workload 'vit-bse-16' (bundled: "),
    (["export", "vit-base-16", "--format", "scalesim", "--sparsity", "ff=1:x", "--out",
      str(Path(tempfile.gettempdir()) / "nmsim-test-no-export")],
     "nmsim: error: --sparsity 'ff=1:x': not an N:M pattern: '1:x' (expected e.g. 1:16 or dense)"),
    (["train", "--task", "typo"], "nmsim: error: --task: unknown task 'typo' (one of digits, digits-hard, "
                                  "stdlib-chars, pysrc-chars)"),
    (["cluster", "plan", "llama-2-7b", "--system", "dgx-a10O"],
     "nmsim: error: dgx-a10O: unknown system: not a bundled one (dgx-a100, dgx-h100, mi300x-platform, tpu-v4-slice)"),
    (["cluster", "budget", "lama-2-7b"], "nmsim: error: workload: unknown workload 'lama-2-7b' (bundled: "),
    (["hardware", "list", "--columns", "bandwith"],
     "nmsim: error: --columns: no column 'bandwith' (columns: name, kind, bf16_peak, sparse_patterns, memory_bytes, "
     "bandwidth)"),
    # --price-per-hour: a device typo or a bad price, on every command that takes it (no pandas either)
    (["price", "gpt2", "--hardware", "a100", "--price-per-hour", "a10O=1"],
     "nmsim: error: --price-per-hour: a10O: unknown hardware: not a bundled spec"),
    (["compare", "gpt2", "--hardware", "a100,l4", "--price-per-hour", "l4=free"],
     "nmsim: error: --price-per-hour: l4: not a number of dollars per hour: 'free'"),
    (["budget", "gpt2", "--sparsity", "ff=2:4", "--tokens", "1e9", "--hardware", "a100", "--price-per-hour",
      "a100=-2"], "nmsim: error: --price-per-hour: a100: dollars per hour must be a finite number >= 0, got -2"),
    (["budget", "gpt2", "--sparsity", "ff=2:4", "--tokens", "1e9", "--hardware", "a10O"],
     "nmsim: error: a10O: unknown hardware: not a bundled spec"),
    (["cluster", "budget", "gpt2", "--system", "dgx-a100", "--global-batch", "64", "--tokens", "1e9",
      "--price-per-hour", "a100"], "nmsim: error: --price-per-hour: expected DEVICE=USD (e.g. a100=2.5), got 'a100'"),
    (["cluster", "plan", "gpt2", "--system", "dgx-a100", "--global-batch", "64", "--price-per-hour", "a100=1,a100=2"],
     "nmsim: error: --price-per-hour: a100: a100-sxm4-80gb priced twice ($1/h and $2/h)"),
    (["report", "--workload", "vit-bse-16", "--no-train", "--out", str(Path(tempfile.gettempdir()) / "nmsim-no-rep")],
     "nmsim: error: workload: unknown workload 'vit-bse-16' (bundled: "),
    # trainer numbers out of range (issue 20: train --threads 0 took 13 s under load, torch imported first)
    (["train", "--threads", "0", "--out", str(Path(tempfile.gettempdir()) / "nmsim-no-run")],
     "nmsim: error: --threads: must be in [1, 1,024], got 0"),
    (["train", "--epochs", "0", "--lr", "0.1", "--out", str(Path(tempfile.gettempdir()) / "nmsim-no-run")],
     "nmsim: error: --epochs: must be in [1, 100,000], got 0"),
    (["sweep", "--lr", "0", "--out", str(Path(tempfile.gettempdir()) / "nmsim-no-runs")],
     "nmsim: error: --lr: must be in (0, 10], got 0"),
    (["sweep", "--seeds", "0", "--out", str(Path(tempfile.gettempdir()) / "nmsim-no-runs")],
     "nmsim: error: --seeds: must be from 1 to 1000, got 0"),
    # --columns against each pricing table's columns (nmsim.columns), issue 25: before pandas
    (["price", "llama-2-7b", "--hardware", "a100", "--columns", "tme"],
     "nmsim: error: --columns: no column 'tme' (columns: nominal_flops, executed_flops, vector_flops, bytes, "
     "metadata_bytes, time, energy, bound, mem_gib, fits)"),
    (["price", "llama-2-7b", "--hardware", "a100", "--by", "op", "--format", "csv", "--columns", "modul"],
     "nmsim: error: --columns: no column 'modul' (columns: id, module, role, layer, kind, pass, pattern, "),
    (["price", "llama-2-7b", "--hardware", "a100", "--memory", "--columns", "gb"],
     "nmsim: error: --columns: no column 'gb' (columns: bytes, gib)"),
    (["compare", "llama-2-7b", "--hardware", "a100,h100", "--columns", "hardware,speed"],
     "nmsim: error: --columns: no column 'speed' (columns: hardware, dtype, pattern, kernel, hw_pattern, "
     "executed_flops, time, speedup, tokens/s, $/M_tokens, J/token, mem_gib, fits, "),
    (["compare", "vit-base-16", "--hardware", "a100", "--columns", "tokens/s"],
     "nmsim: error: --columns: no column 'tokens/s' (columns: hardware, dtype, pattern, kernel, hw_pattern, "
     "executed_flops, time, speedup, images/s, $/M_images, J/image, "),
    (["budget", "gpt2", "--sparsity", "ff=2:4", "--tokens", "1e9", "--hardware", "a100", "--columns", "dollars"],
     "nmsim: error: --columns: no column 'dollars' (columns: recipe, pattern, train_flops, vs_dense, vs_srste, "),
    (["budget", "gpt2", "--sparsity", "ff=2:4", "--tokens", "1e9", "--columns", "time"],
     "nmsim: error: --columns: no column 'time' (columns: recipe, pattern, train_flops, vs_dense, vs_srste, "
     "matrix_vs_dense, matrix_vs_srste, budget_epochs, phases)"),
    (["trace", "llama-2-7b", "--columns", "fwd"],
     "nmsim: error: --columns: no column 'fwd' (columns: fwd_flops, dgrad_flops, wgrad_flops, vector_flops, "
     "bwd_vector_flops, training_matrix_flops)"),
    (["trace", "gpt2", "--by", "op", "--columns", "gemm_x"],
     "nmsim: error: --columns: no column 'gemm_x' (columns: op, kind, role, module, layer, gemm_b, gemm_m, "),
    # settings the spec refuses whatever the graph (nmsim.execution.settings): before pandas
    (["price", "llama-2-7b", "--hardware", "a100", "--dtype", "bf61"],
     "nmsim: error: a100-sxm4-80gb: no matrix peak for dtype 'bf61' (has: bf16, fp16, tf32, int8, fp32)"),
    (["price", "llama-2-7b", "--hardware", "a100", "--weight-dtype", "int3"],
     "nmsim: error: --weight-dtype: unknown dtype 'int3' (known: fp64, fp32, tf32, bf16, fp16, fp8, int8, int4)"),
    (["price", "llama-2-7b", "--hardware", "a100", "--kernel", "nope"],
     "nmsim: error: --kernel: a100-sxm4-80gb has no kernel 'nope' (kernels: cublas, "),
    (["plot", str(Path(tempfile.gettempdir()) / "nmsim-no-runs-here"), "--out", "c.png", "--metrics", "acc"],
     "nmsim: error: --metrics: unknown metric 'acc' (one of accuracy, loss)"),
    (["plot", str(Path(tempfile.gettempdir()) / "nmsim-no-runs-here"), "--out", "c.png"],
     f"nmsim: error: {Path(tempfile.gettempdir()) / 'nmsim-no-runs-here'}: no such runs folder"),
    (["export", "gpt2", "--format", "scalesim", "--hardware", "a10O", "--out",
      str(Path(tempfile.gettempdir()) / "nmsim-test-no-export")], "nmsim: error: a10O: unknown hardware: "),
    (["schedule", "sr-ste", "--sparsity", "ff=1:16,qk=1:8", "--steps", "10", "--columns", "phase,qk_cst"],
     "nmsim: error: --columns: no column 'qk_cst' (columns: start_step, stop_step, steps, label, phase, ff, ff_cost, "
     "qk, qk_cost, D_start, D_end, rule, srste_lambda)"),
    (["price", "llama-2-7b", "--hardware", "a100", "--mode", "decode", "--batch", "1,8", "--columns", "ms,tme"],
     "nmsim: error: --columns: no column 'tme' (columns: batch, context, ms, ms_80%, exec_TFLOP, nominal_TFLOP, "
     "GB_moved, energy, tokens/s, $/M_tokens, J/token, bound, mem_GiB, fits)"),
    (["price", "vit-base-16", "--hardware", "a100", "--image-size", "224,384", "--columns", "tokens/s"],
     "nmsim: error: --columns: no column 'tokens/s' (columns: batch, image_size, ms, ms_80%, exec_TFLOP, "),
    # options are never abbreviated: a prefix of one is refused, naming it (no silent guess)
    (["price", "llama-2-7b", "--hardwar", "a100"], "nmsim: error: nmsim price: unrecognized option --hardwar: did "
     "you mean --hardware? (options are not abbreviated)"),
    (["compare", "gpt2", "--pattern=2:4"], "nmsim: error: nmsim compare: unrecognized option --pattern: did you "
     "mean --patterns? (options are not abbreviated)"),
    (["price", "gpt2", "--hardware", "a100", "--b", "8"], "nmsim: error: nmsim price: unrecognized option --b: did "
     "you mean --batch or --by? (options are not abbreviated)"),
    (["cluster", "plan", "gpt2", "--syst", "dgx-a100"], "nmsim: error: nmsim cluster plan: unrecognized option "
     "--syst: did you mean --system? (options are not abbreviated)"),
]


@pytest.mark.parametrize("args,message", LIGHT, ids=[" ".join(a[:2]) for a, _ in LIGHT])
def test_name_typo_fails_before_pandas(args, message):
    rc, out, err, heavy = _run(args)
    assert rc == 2 and out == "" and len(err) == 1 and err[0].startswith(message), (args, out, err)
    assert heavy == "", (args, heavy)


def _cases(tmp: Path) -> list[tuple[list[str], str]]:
    return [
        (["train", "--task", "typo"], "nmsim: error: --task: unknown task 'typo' (one of digits, digits-hard, "
                                      "stdlib-chars, pysrc-chars)"),
        (["sweep", "--task", "digts", "--out", str(tmp / "runs")],
         "nmsim: error: --task: unknown task 'digts' (one of digits, digits-hard, stdlib-chars, pysrc-chars)"),
        (["evidence", "summarize", str(tmp / "none")],
         f"nmsim: error: {tmp / 'none'}: is not an evidence folder (no protocol.json)"),
        (["plot", str(tmp / "none"), "--out", str(tmp / "c.png")],
         f"nmsim: error: {tmp / 'none'}: no such runs folder"),
        (["validate", "--columns", "eror_pct"],
         "nmsim: error: --columns: no column 'eror_pct' (columns: id, group, level, hardware, metric, measured, "
         "predicted, error_pct, use)"),
        (["cache", "info", "--columns", "bogus"],
         "nmsim: error: --columns: no column 'bogus' (columns: workload, kind, variables, ops, bytes, created, "
         "current, file)"),
        (["cluster", "plan", "llama-2-7b", "--columns", "step_tme"],
         "nmsim: error: --columns: no column 'step_tme' (columns: tp, pp, dp, zero, mb, m, recompute, sp, v, "
         "step_time, "),
    ]


@pytest.mark.parametrize("i", range(7))
def test_typo_fails_first(i, tmp_path):
    args, message = _cases(tmp_path)[i]
    rc, out, err, heavy = _run(args)
    assert rc == 2 and out == "" and len(err) == 1, (args, out, err)
    assert err[0].startswith(message), (args, err)
    assert not {"torch", "matplotlib"} & set(heavy.split(",")), (args, heavy)   # failed before those imports
    assert not (tmp_path / "runs").exists() and not (tmp_path / "c.png").exists()


TABLES = [   # (command, the columns checked before any work, row keys)
    (["price", "gpt2", "--hardware", "a100"], ("BY_COLUMNS", "mem_gib", "fits"), ["role"]),
    (["price", "gpt2", "--hardware", "a100", "--by", "op"], ("OUTPUT_COLUMNS", "mem_gib", "fits"), []),
    (["price", "gpt2", "--hardware", "a100", "--memory"], ("MEMORY_COLUMNS",), ["component"]),
    (["compare", "gpt2", "--hardware", "a100", "--patterns", "dense"], ("compare_columns",), []),
    (["compare", "vit-tiny", "--hardware", "a100", "--patterns", "dense"], ("compare_columns",), []),
    (["budget", "gpt2", "--sparsity", "ff=2:4", "--tokens", "1e9", "--hardware", "a100"], ("budget_columns",), []),
    (["budget", "gpt2", "--sparsity", "ff=2:4", "--tokens", "1e9"], ("budget_columns",), []),
    (["trace", "gpt2"], ("COST_COLUMNS", "training_matrix_flops"), ["role"]),
    (["trace", "gpt2", "--by", "op"], ("TRACE_OP_COLUMNS", "COST_COLUMNS"), []),
]


@pytest.mark.parametrize("argv,early,keys", TABLES, ids=[" ".join(t[0][:1] + t[0][-2:]) for t in TABLES])
def test_the_column_registry_is_each_tables_columns(argv, early, keys, capsys):
    """nmsim.columns (checked before pandas is imported) names exactly the columns each table has (JSON keys)."""
    import json

    from nmsim import columns
    from nmsim.bands import with_band_columns

    names = []
    for name in early:
        value = getattr(columns, name, name)
        if name == "compare_columns":
            value = value("image" if argv[1] == "vit-tiny" else "token")
        elif name == "budget_columns":
            value = value("--hardware" in argv)
        names += [value] if isinstance(value, str) else list(value)
    from nmsim.cli import main
    assert main([*argv, "--format", "json"]) == 0
    got = list(json.loads(capsys.readouterr().out)[0])
    banded = "--hardware" in argv and argv[0] != "trace" and "--memory" not in argv
    assert sorted(got) == sorted(keys + (with_band_columns(names) if banded else names))


@pytest.mark.parametrize("mode", ["prefill", "decode"])
def test_a_sweeps_table_has_the_columns_checked_first(mode):
    """nmsim.cli.axes.table_view_columns (checked before the sweep is priced) is the sweep table's columns."""
    from nmsim.api.options import merge_workload
    from nmsim.api.pricing import price_step
    from nmsim.cli import build_parser
    from nmsim.cli.axes import _table_view, table_view_columns

    argv = ["price", "gpt2", "--hardware", "a100", "--mode", mode, "--batch", "2,3"]
    args = build_parser(argv).parse_args(argv)
    merge_workload(args)
    sweep = price_step(args).sweep
    assert list(_table_view(sweep.table, sweep.axes).columns) == table_view_columns(sweep.config, mode)


def test_early_column_lists_match_the_tables(tmp_path):
    """The lists checked before the work are the tables' (and the trainer's) own."""
    import json

    from nmsim.cli.cache import INFO_COLUMNS
    from nmsim.cli.validate import ROW_COLUMNS
    from nmsim.cost.validate import validate
    from nmsim.train import TASK_NAMES
    from nmsim.train.tasks import TASKS

    from test_execution import SMALL   # two rows: a validation's columns do not depend on its rows

    assert TASK_NAMES == tuple(TASKS)
    small = tmp_path / "measurements.yaml"
    small.write_text(SMALL)
    assert ROW_COLUMNS == tuple(c for c in validate(small, refit=False).rows.columns if c != "source")
    env = {**os.environ, "NMSIM_CACHE_DIR": str(tmp_path / "cache"), "NMSIM_CACHE": ""}
    nmsim = [sys.executable, "-m", "nmsim"]
    subprocess.run([*nmsim, "price", "trainer-gpt2-chars", "--hardware", "a100", "--mode", "decode", "--batch", "2"],
                   capture_output=True, env=env, cwd=ROOT, check=True)
    rows = json.loads(subprocess.run([*nmsim, "cache", "info", "--format", "json"], capture_output=True, env=env,
                                     cwd=ROOT, check=True).stdout)
    assert len(rows) == 1 and tuple(rows[0]) == INFO_COLUMNS


def _leaf_options() -> list[tuple[tuple[str, ...], str]]:
    """(the words naming a command, one of its --options) for every command's own parser."""
    import argparse

    from nmsim.cli import build_parser

    out, todo = [], [((), build_parser())]
    while todo:
        words, parser = todo.pop()
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]   # noqa: SLF001
        for action in subs:
            todo += [((*words, name), p) for name, p in action.choices.items()]
        out += [(words, o) for o in parser._option_string_actions if o.startswith("--")]   # noqa: SLF001
    return sorted(out)


LEAF_OPTIONS = _leaf_options()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(LEAF_OPTIONS), st.integers(3, 40))
def test_no_option_is_taken_by_a_prefix(case, length):
    """Every prefix of every option (that is not an option itself) is refused, naming the options it begins."""
    import contextlib
    import io

    from nmsim.cli import build_parser

    words, option = case
    prefix = option[:min(length, len(option) - 1)]
    parser = build_parser(list(words) or None)
    known = {o for w, o in LEAF_OPTIONS if w == words}
    if prefix in known or len(prefix) < 3:
        return
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        parser.parse_args([*words, prefix, "x"])
    meant = sorted(o for o in known if o.startswith(prefix))
    assert exc.value.code == 2
    assert err.getvalue() == (f"nmsim: error: {' '.join(('nmsim', *words))}: unrecognized option {prefix}: did you "
                              f"mean {' or '.join(meant)}? (options are not abbreviated)\n")
