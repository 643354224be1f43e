"""The Python API: the CLI's commands as functions returning DataFrames (columns in raw SI units, named with them).

Each function takes the command's arguments as keywords (``--dataset-size`` is ``dataset_size=``; a flag is
``True``; a list may be a Python list) and runs the same code as the command, so the same question gives the same
number. The plan is given once, as text (``sparsity="ff=2:4,qkv=1:8"``). Bad input raises
:class:`nmsim.errors.UserError` with the CLI's one-line message::

    import nmsim
    nmsim.budget("vit-base-16", sparsity="ff=1:16", epochs=350, dataset_size=1281167, batch=4096, hardware="a100")
    nmsim.price("llama-3-8b", hardware="h100", sparsity="ff=2:4", mode="decode", context=4096)
    nmsim.compare("vit-base-16", hardware="all", patterns="dense,2:4,1:8")
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from nmsim.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load_workload", "trace_workload", "price", "compare", "budget", "schedule", "train", "report"]


def _argv(kwargs: dict) -> list[str]:
    argv = []
    for key, value in kwargs.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(map(str, value))]
        else:
            argv += [flag, str(value)]
    return argv


def _run(argv: list[str]) -> str:
    """Run ``nmsim ARGV``; UserError on bad input (the CLI's message); returns what went to stdout."""
    from nmsim.cli import main

    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            main(["--debug", *argv])
    except SystemExit as exc:  # argparse: unknown option or bad value
        if exc.code:
            message = err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else str(exc)
            raise UserError(message.removeprefix("nmsim: error: ")) from None
    return out.getvalue()


def _frame(command: list[str], kwargs: dict) -> pd.DataFrame:
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="nmsim-api-") as tmp:
        out = Path(tmp) / "table.csv"
        _run([*command, *_argv(kwargs), "--format", "csv", "--out", str(out)])
        return pd.read_csv(out)


def load_workload(workload):
    """A :class:`nmsim.graph.ModelConfig` from a bundled name, a workload YAML or a Hugging Face config.json."""
    from nmsim.graph import load_workload as _load

    return _load(workload)


def trace_workload(workload: str, **kwargs) -> pd.DataFrame:
    """FLOPs per role (``by="op"|"layer"|"module"|"kind"``), as ``nmsim trace``; ``batch=``, ``seq=``."""
    return _frame(["trace", str(workload)], kwargs)


def price(workload: str, hardware: str, **kwargs) -> pd.DataFrame:
    """Latency, energy, FLOPs and bytes per role on one accelerator, as ``nmsim price`` (``sparsity=``,
    ``mode="inference"|"prefill"|"decode"|"training"``, ``batch=``, ``seq=``, ``context=``, ``dtype=``, ``by=``)."""
    return _frame(["price", str(workload), "--hardware", str(hardware)], kwargs)


def compare(workload: str, **kwargs) -> pd.DataFrame:
    """Accelerators x patterns, as ``nmsim compare`` (``hardware="all"``, ``patterns="dense,2:4,1:8"``, ...)."""
    return _frame(["compare", str(workload)], kwargs)


def budget(workload: str, sparsity: str, **kwargs) -> pd.DataFrame:
    """Training FLOPs, time and iso-budget epochs per recipe, as ``nmsim budget``: the run as ``epochs=`` with
    ``dataset_size=`` (or ``steps_per_epoch=`` and ``batch=``), ``steps=``, ``samples=`` or ``tokens=``. Priced by
    :func:`nmsim.cost.budget.budget_table`, the function the command and the report's training tables call."""
    from nmsim.cost.budget import budget_table

    lists = {k: ",".join(map(str, v)) if isinstance(v, (list, tuple)) else v for k, v in kwargs.items()}
    return budget_table(workload, sparsity, **lists).table


def schedule(recipe: str, sparsity: str, **kwargs) -> pd.DataFrame:
    """A recipe's phases (patterns, decay D, gradient rule per step range), as ``nmsim schedule``."""
    import pandas as pd

    text = _run(["schedule", recipe, "--sparsity", sparsity, *_argv(kwargs), "--format", "csv"])
    return pd.read_csv(io.StringIO(text))


def train(out: str | Path, **kwargs) -> pd.DataFrame:
    """Train the reference model once (``task=``, ``recipe=``, ``sparsity=``, ``epochs=``, ``seed=``) into the run
    folder ``out``, as ``nmsim train``; returns the run's metrics (one row per evaluation)."""
    import pandas as pd

    from nmsim.train import read_metrics

    _run(["train", "--out", str(out), "--no-progress", *_argv(kwargs)])
    return pd.DataFrame(read_metrics(Path(out)))


def report(out: str | Path, **kwargs) -> Path:
    """Write the trade-off report folder ``out``, as ``nmsim report`` (``workload=``, ``hardware=``,
    ``accuracy=``, ...); returns the path of its ``report.md``."""
    _run(["report", "--out", str(out), *_argv(kwargs)])
    return Path(out) / "report.md"
