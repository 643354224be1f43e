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
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from nmsim.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load_workload", "trace_workload", "trace_module", "price", "compare", "budget", "schedule", "train",
           "report"]


_VALUE_TYPES = (str, int, float, os.PathLike)
# keywords the API sets itself (or that would print help and exit): refused, never passed on
_RESERVED = {"help": "see help(nmsim.<function>)", "h": "see help(nmsim.<function>)", "version": "see nmsim.__version__",
             "debug": "errors are raised as UserError", "format": "the API returns a DataFrame",
             "out": "the API returns a DataFrame; save it with DataFrame.to_csv"}


def _text(value, where: str) -> str:
    """One argument as the command line would carry it (a str); UserError for a value argv cannot hold."""
    if isinstance(value, bool) or not isinstance(value, _VALUE_TYPES):
        raise UserError(f"expected a string, a number or a path, got {type(value).__name__}", where)
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if isinstance(text, bytes) or "\x00" in text:
        raise UserError("must be text without NUL bytes", where)
    return text


def _options(kwargs: dict, reserved: tuple[str, ...] = ()) -> list[str]:
    """Keywords as ``--flag value`` options (``--flag=value`` for a value that starts with ``-``, so that it stays
    a value); True is a flag, None and False are left out, a list or tuple is joined with commas;
    ``price_per_hour`` may be a dict of DEVICE: USD (``{"a100": 1.8}``), as :func:`nmsim.cost.compare` takes."""
    argv = []
    for key, value in kwargs.items():
        flag = "--" + str(key).replace("_", "-")
        if key in reserved:
            raise UserError(f"not an API keyword: {_RESERVED[key]}", flag)
        if not isinstance(key, str) or not key.isidentifier():
            raise UserError(f"not an option name: {key!r}", "keyword")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
            continue
        if isinstance(value, dict) and key == "price_per_hour":
            value = [f"{_text(k, flag)}={_text(v, flag)}" for k, v in value.items()]
        text = ",".join(_text(v, flag) for v in value) if isinstance(value, (list, tuple)) else _text(value, flag)
        argv += [f"{flag}={text}"] if text.startswith("-") else [flag, text]
    return argv


def _argv(command: str, positionals: list, kwargs: dict, reserved: tuple[str, ...] = tuple(_RESERVED)) -> list[str]:
    """``nmsim COMMAND POSITIONAL --option value ...``, as a user types it; a positional that starts with ``-``
    goes last, after ``--``, where it is never read as an option (``nmsim.price("--help", "a100")`` prices a
    workload named ``--help``: unknown)."""
    pos = [_text(v, name) for name, v in positionals if v is not None]
    options = _options(kwargs, reserved)
    if any(p.startswith("-") for p in pos):
        return [command, *options, "--", *pos]
    return [command, *pos, *options]


def _with(argv: list[str], *options: str) -> list[str]:
    """``argv`` with the API's own options added (before a ``--``)."""
    end = argv.index("--") if "--" in argv else len(argv)
    return [*argv[:end], *options, *argv[end:]]


def _usage_error(exc: SystemExit, err: str) -> UserError:
    lines = err.strip().splitlines()
    message = lines[-1] if lines else f"exit status {exc.code}"
    return UserError(message.removeprefix("nmsim: error: "))


def _parse(argv: list[str]):
    """The command's arguments parsed by the CLI's own parser (same defaults, same usage errors)."""
    from nmsim.cli import build_parser
    from nmsim.cli.workload import merge_workload

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser(argv).parse_args(argv)
    except SystemExit as exc:
        raise _usage_error(exc, err.getvalue()) from None
    merge_workload(args)
    return args


def _run(argv: list[str]) -> str:
    """Run ``nmsim ARGV`` in this process; UserError on bad input (the CLI's message); returns its stdout."""
    from nmsim.cli import main
    from nmsim.io import os_error

    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            main(["--debug", *argv])
    except SystemExit as exc:  # argparse: unknown option or bad value
        if exc.code:
            raise _usage_error(exc, err.getvalue()) from None
    except UserError:
        raise
    except OSError as exc:      # as the CLI words a file-system failure it did not turn into a UserError
        raise os_error(exc, exc.filename or "-", "failed") from None
    return out.getvalue()


def _frame(command: str, positionals: list, kwargs: dict) -> pd.DataFrame:
    import pandas as pd

    argv = _argv(command, positionals, kwargs)
    with tempfile.TemporaryDirectory(prefix="nmsim-api-") as tmp:
        out = Path(tmp) / "table.csv"
        _run(_with(argv, "--format", "csv", "--out", str(out)))
        return pd.read_csv(out)


def load_workload(workload=None):
    """A :class:`nmsim.graph.ModelConfig` from a bundled name, a workload YAML or a Hugging Face config.json."""
    from nmsim.graph import ModelConfig
    from nmsim.graph import load_workload as _load

    if isinstance(workload, ModelConfig):
        return workload
    if workload is None:
        raise UserError("give a workload name or path, or --hf-config", "workload")
    return _load(_text(workload, "workload"))


def trace_workload(workload=None, **kwargs) -> pd.DataFrame:
    """FLOPs per role (``by="op"|"layer"|"module"|"kind"``), as ``nmsim trace``; ``batch=``, ``seq=``."""
    return _frame("trace", [("workload", workload)], kwargs)


def trace_module(module, example_inputs=None, **kwargs):
    """``module``'s :class:`nmsim.graph.OpGraph`, traced on the meta device (:func:`nmsim.graph.trace`):
    ``example_kwargs=``, ``config=``, ``strict=``, ``roles=``. A module that cannot run on meta tensors (a branch
    on a tensor's value, an op without a meta kernel, inputs of the wrong shape) is a UserError saying why."""
    from nmsim.graph.tracer import trace

    unknown = sorted(set(kwargs) - set(TRACE_KEYWORDS))
    if unknown:
        raise UserError(f"unknown keyword {unknown[0]!r} (known: {', '.join(TRACE_KEYWORDS)})", "trace")
    if example_inputs is None:
        raise UserError("give the module's example inputs (a tensor or a tuple of tensors; () for none)",
                        f"{type(module).__name__}: example_inputs")
    return trace(module, example_inputs, **kwargs)


TRACE_KEYWORDS = ("example_kwargs", "config", "strict", "roles")


def price(workload=None, hardware=None, **kwargs) -> pd.DataFrame:
    """Latency, energy, FLOPs and bytes per role on one accelerator, as ``nmsim price`` (``sparsity=``,
    ``mode="inference"|"prefill"|"decode"|"training"``, ``batch=``, ``seq=``, ``context=``, ``dtype=``, ``by=``);
    every row carries the step's ``mem_gib`` and whether it ``fits`` the device (``recompute=``, ``precision=``);
    ``memory=True`` gives the footprint by component instead."""
    return _frame("price", [("workload", workload)], {"hardware": hardware, **kwargs})


def compare(workload=None, **kwargs) -> pd.DataFrame:
    """Accelerators x patterns, as ``nmsim compare`` (``hardware="all"``, ``patterns="dense,2:4,1:8"``, ...), with
    each row's ``mem_gib`` and ``fits`` (``memory=True``: the components per row)."""
    return _frame("compare", [("workload", workload)], kwargs)


def budget(workload=None, sparsity=None, **kwargs) -> pd.DataFrame:
    """Training FLOPs, time and iso-budget epochs per recipe, as ``nmsim budget``: the run as ``epochs=`` with
    ``dataset_size=`` (or ``steps_per_epoch=`` and ``batch=``), ``steps=``, ``samples=`` or ``tokens=``. The
    arguments are read by the command's parser (same defaults, same errors), then priced by
    :func:`nmsim.cost.budget.budget_table`, the function the command and the report's training tables call.
    With ``hardware=`` each row carries the step's ``mem_gib`` on one device and whether it ``fits``."""
    from nmsim.cli.budget import OPTIONS
    from nmsim.cost.budget import budget_table

    args = _parse(_argv("budget", [("workload", workload)], {"sparsity": sparsity, **kwargs}))
    return budget_table(args.workload, args.sparsity, **{name: getattr(args, name) for name in OPTIONS}).table


def schedule(recipe=None, sparsity=None, **kwargs) -> pd.DataFrame:
    """A recipe's phases (patterns, decay D, gradient rule per step range), as ``nmsim schedule``."""
    import pandas as pd

    argv = _argv("schedule", [("recipe", recipe)], {"sparsity": sparsity, **kwargs})
    text = _run(_with(argv, "--format", "csv"))
    return pd.read_csv(io.StringIO(text))


def train(out=None, **kwargs) -> pd.DataFrame:
    """Train the reference model once (``task=``, ``recipe=``, ``sparsity=``, ``epochs=``, ``seed=``) into the run
    folder ``out``, as ``nmsim train``; returns the run's metrics (one row per evaluation)."""
    import pandas as pd

    from nmsim.train import read_metrics

    if out is None:
        raise UserError("give the run folder (out=...)", "--out")
    folder = _text(out, "--out")
    argv = _argv("train", [], kwargs)
    _run(_with(argv, f"--out={folder}", "--no-progress"))
    return pd.DataFrame(read_metrics(Path(folder)))


def report(out=None, **kwargs) -> Path:
    """Write the trade-off report folder ``out``, as ``nmsim report`` (``workload=``, ``hardware=``,
    ``accuracy=``, ...); returns the path of its ``report.md``."""
    if out is None:
        raise UserError("give the report folder (out=...)", "--out")
    folder = _text(out, "--out")
    argv = _argv("report", [], kwargs)
    _run(_with(argv, f"--out={folder}"))
    return Path(folder) / "report.md"
