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

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("import sys\nfrom nmsim.cli import main\nrc = main(sys.argv[1:])\n"
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


def test_early_column_lists_match_the_tables(tmp_path):
    """The lists checked before the work are the tables' (and the trainer's) own."""
    import json

    from nmsim.cli.cache import INFO_COLUMNS
    from nmsim.cli.validate import ROW_COLUMNS
    from nmsim.cost.validate import validate
    from nmsim.train import TASK_NAMES
    from nmsim.train.tasks import TASKS

    assert TASK_NAMES == tuple(TASKS)
    assert ROW_COLUMNS == tuple(c for c in validate(refit=False).rows.columns if c != "source")
    env = {**os.environ, "NMSIM_CACHE_DIR": str(tmp_path), "NMSIM_CACHE": ""}
    nmsim = [sys.executable, "-m", "nmsim"]
    subprocess.run([*nmsim, "price", "trainer-gpt2-chars", "--hardware", "a100", "--mode", "decode", "--batch", "2"],
                   capture_output=True, env=env, cwd=ROOT, check=True)
    rows = json.loads(subprocess.run([*nmsim, "cache", "info", "--format", "json"], capture_output=True, env=env,
                                     cwd=ROOT, check=True).stdout)
    assert len(rows) == 1 and tuple(rows[0]) == INFO_COLUMNS
