"""The Python API as keyword functions (``import nmsim; nmsim.price(...)``): each CLI command as a function
returning a DataFrame (raw SI units, named in the columns), a path or a dataclass.

A function takes the command's options as keywords (``--dataset-size`` is ``dataset_size=``; a flag is ``True``;
a list may be a Python list), reads them with the command's own parser (so the functions and the CLI share
defaults and usage errors: bad input raises :class:`nmsim.errors.UserError` with the CLI's one-line message) and
makes the command's one call into :mod:`nmsim.api`, the core both front ends wrap. Nothing is printed and
no file is written but the folders a function is asked to write (``train_run``, ``sweep``, ``write_report``,
``export_gemms``, ``evidence_run``)::

    import nmsim
    nmsim.budget("vit-base-16", sparsity="ff=1:16", epochs=350, dataset_size=1281167, batch=4096, hardware="a100")
    nmsim.price("llama-3-8b", hardware="h100", sparsity="ff=2:4", mode="decode", context=4096)
    nmsim.compare("vit-base-16", hardware="all", patterns="dense,2:4,1:8")
    nmsim.cluster_budget("llama-3-8b", system="dgx-h100", nodes=32, seq=8192, global_batch=512, tokens=1e12)
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nmsim.api.options import plain, running
from nmsim.facade.keywords import RESERVED, read, text
from nmsim.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load_workload", "trace", "trace_workload", "trace_module", "price", "compare", "budget", "schedule",
           "train_run", "sweep", "write_report", "plot", "cluster_plan", "cluster_budget", "cluster_validate",
           "cluster_systems", "export_gemms", "validate", "evidence_run", "evidence_summarize", "hardware_list"]


def _quiet(*_args, **_kwargs) -> None:
    """The lines a command prints as it goes: the API returns its results instead."""


def load_workload(workload=None):
    """A :class:`nmsim.graph.ModelConfig` from a bundled name, a workload YAML or a Hugging Face config.json."""
    from nmsim.graph import ModelConfig
    from nmsim.graph import load_workload as load

    if isinstance(workload, ModelConfig):
        return workload
    if workload is None:
        raise UserError("give a workload name or path, or --hf-config", "workload")
    return load(text(workload, "workload"))


def trace(module_or_workload=None, example_inputs=None, **kwargs):
    """FLOPs of a workload (a name, YAML or config.json) as a DataFrame, as ``nmsim trace`` (``batch=``, ``seq=``,
    ``by=``); or, given an ``nn.Module`` and its example inputs (``example_kwargs=`` for keyword inputs), its
    :class:`nmsim.graph.OpGraph` traced on the meta device (see :func:`trace_module`)."""
    torch = __import__("sys").modules.get("torch")   # not loaded: the argument cannot be an nn.Module
    if torch is not None and isinstance(module_or_workload, torch.nn.Module):
        return trace_module(module_or_workload, example_inputs, **kwargs)
    if example_inputs is not None:
        raise UserError(f"example inputs are for an nn.Module, got a {type(module_or_workload).__name__} to trace",
                        "trace")
    return trace_workload(module_or_workload, **kwargs)


def trace_workload(workload=None, **kwargs) -> pd.DataFrame:
    """FLOPs per role (``by="op"|"layer"|"module"|"kind"``; ``paper=True``: the paper's view), as ``nmsim trace``;
    ``batch=``, ``seq=``."""
    from nmsim.api.pricing import trace_table

    args = read("trace", [("workload", workload)], kwargs)
    with running("trace"):
        return plain(trace_table(args).table)


TRACE_KEYWORDS = ("example_kwargs", "config", "strict", "roles")


def trace_module(module, example_inputs=None, **kwargs):
    """``module``'s :class:`nmsim.graph.OpGraph`, traced on the meta device (:func:`nmsim.graph.trace`):
    ``example_kwargs=``, ``config=``, ``strict=``, ``roles=``. A module that cannot run on meta tensors (a branch
    on a tensor's value, an op without a meta kernel, inputs of the wrong shape) is a UserError saying why."""
    from nmsim.graph.tracer import trace as trace_graph

    unknown = sorted(set(kwargs) - set(TRACE_KEYWORDS))
    if unknown:
        raise UserError(f"unknown keyword {unknown[0]!r} (known: {', '.join(TRACE_KEYWORDS)})", "trace")
    if example_inputs is None:
        raise UserError("give the module's example inputs (a tensor or a tuple of tensors; () for none)",
                        f"{type(module).__name__}: example_inputs")
    return trace_graph(module, example_inputs, **kwargs)


def price(workload=None, hardware=None, **kwargs) -> pd.DataFrame:
    """Latency, energy, FLOPs and bytes per role on one accelerator, as ``nmsim price`` (``sparsity=``,
    ``mode="inference"|"prefill"|"decode"|"training"``, ``batch=``, ``seq=``, ``context=``, ``dtype=``, ``by=``);
    every row carries the step's ``mem_gib`` and whether it ``fits`` the device (``recompute=``, ``precision=``);
    ``memory=True`` gives the footprint by component instead; a range of shapes (``batch="1,8,64"``) one row per
    shape."""
    from nmsim.api.pricing import price_step

    args = read("price", [("workload", workload)], {"hardware": hardware, **kwargs})
    with running("price"):
        step = price_step(args)
    table = step.table
    if hasattr(table, "to_pandas"):   # the pricing core's rows: a DataFrame here, the band levels categorical
        table = table.to_pandas()
        if "band_level" in table:
            table["band_level"] = table["band_level"].astype("category")
    return plain(table, index=step.sweep is None and (args.memory or args.by != "op"))


def compare(workload=None, **kwargs) -> pd.DataFrame:
    """Accelerators x patterns, as ``nmsim compare`` (``hardware="all"``, ``patterns="dense,2:4,1:8"``, ...), with
    each row's ``mem_gib`` and ``fits`` (``memory=True``: the components per row)."""
    from nmsim.api.pricing import compare_rows

    args = read("compare", [("workload", workload)], kwargs)
    with running("compare"):
        rows = compare_rows(args)
    return plain(rows.table.attrs["memory"] if args.memory else rows.table, index=False)


def budget(workload=None, sparsity=None, **kwargs) -> pd.DataFrame:
    """Training FLOPs, time and iso-budget epochs per recipe, as ``nmsim budget``: the run as ``epochs=`` with
    ``dataset_size=`` (or ``steps_per_epoch=`` and ``batch=``), ``steps=``, ``samples=`` or ``tokens=``; priced by
    :func:`nmsim.cost.budget.budget_table`, as the command and the report's training tables are. With
    ``hardware=`` each row carries the step's ``mem_gib`` on one device and whether it ``fits``."""
    from nmsim.api.training import budget_run

    args = read("budget", [("workload", workload)], {"sparsity": sparsity, **kwargs})
    with running("budget"):
        return plain(budget_run(args).table, index=False)


def schedule(recipe=None, sparsity=None, **kwargs) -> pd.DataFrame:
    """A recipe's phases (patterns, decay D, gradient rule per step range), as ``nmsim schedule``."""
    from nmsim.api.training import schedule_table

    args = read("schedule", [("recipe", recipe)], {"sparsity": sparsity, **kwargs})
    with running("schedule"):
        return plain(schedule_table(args).table, index=False)


def _folder(out, flag: str = "--out") -> str:
    if out is None:
        raise UserError(f"give the {'report' if flag == 'report' else 'run'} folder (out=...)", "--out")
    return text(out, "--out")


def train_run(out=None, **kwargs) -> pd.DataFrame:
    """Train the reference model once (``task=``, ``recipe=``, ``sparsity=``, ``epochs=``, ``seed=``) into the run
    folder ``out``, as ``nmsim train``; returns the run's metrics (one row per evaluation)."""
    import pandas as pd

    from nmsim.api.training import train_one
    from nmsim.train import read_metrics

    folder = _folder(out)
    args = read("train", [], kwargs, extra=(f"--out={folder}", "--no-progress"))
    with running("train"):
        run = train_one(args)
    return pd.DataFrame(read_metrics(run.folder))


def sweep(out="runs", **kwargs) -> pd.DataFrame:
    """Train recipes x patterns x seeds into ``out`` (one folder per run; finished runs are kept), as
    ``nmsim sweep``; returns the per-run table (``attrs["summary"]``: per recipe and pattern)."""
    from nmsim.api.training import sweep_runs

    folder = _folder(out)
    args = read("sweep", [], kwargs, extra=(f"--out={folder}",))
    with running("sweep"):
        return sweep_runs(args, echo=_quiet)


def write_report(out=None, **kwargs) -> Path:
    """Write the trade-off report folder ``out``, as ``nmsim report`` (``workload=``, ``hardware=``,
    ``accuracy=``, ...); returns the path of its ``report.md``."""
    from nmsim.api.reports import report_folder

    folder = _folder(out, "report")
    args = read("report", [], kwargs, extra=(f"--out={folder}",))
    with running("report"):
        return report_folder(args, echo=_quiet) / "report.md"


#: the old names of :func:`train_run` and :func:`write_report` (``nmsim.train``/``nmsim.report`` are packages)
train, report = train_run, write_report


def plot(runs=None, out=None, **kwargs) -> Path:
    """Draw the training curves of trainer runs (a runs folder or a list of them) into ``out`` (.png or .html),
    as ``nmsim plot``; returns the file."""
    from nmsim.api.reports import plot_file

    folders = runs if isinstance(runs, (list, tuple)) else [runs]
    args = read("plot", [("runs", r) for r in folders], {"out": out, **kwargs},
                reserved=tuple(k for k in RESERVED if k != "out"))
    with running("plot"):
        return Path(plot_file(args)[0])


def cluster_plan(workload=None, **kwargs) -> pd.DataFrame:
    """The ``top=`` best parallel layouts (TP, PP, DP, ZeRO, micro-batch, recompute) of a training run on a system,
    as ``nmsim cluster plan`` (``system=``, ``nodes=``, ``seq=``, ``global_batch=``, ``tokens=``, ``recipe=``,
    ``sparsity=``); with ``tokens=`` each layout's days, device-hours and dollars."""
    from nmsim.api.clusters import cluster_plan as plan

    args = read(["cluster", "plan"], [("workload", workload)], kwargs)
    with running("cluster"):
        return plain(plan(args).rows, index=False)


def cluster_budget(workload=None, **kwargs) -> pd.DataFrame:
    """Wall-clock, device-hours, MFU, energy and dollars of a training run per recipe on a system, each at its
    best layout, as ``nmsim cluster budget`` (``tokens=``, ``recipes="dense,sr-ste"``, ``sparsity=``, ...)."""
    from nmsim.api.clusters import cluster_budget as budget_of

    args = read(["cluster", "budget"], [("workload", workload)], kwargs)
    with running("cluster"):
        return plain(budget_of(args, progress=False).table, index=False)


def cluster_validate(**kwargs) -> pd.DataFrame:
    """Predicted against published training runs (time-to-train error, MFU), as ``nmsim cluster validate``
    (``fit=True``, ``only="id,..."``, ``runs=FILE``, ``losses=``); ``attrs["summary"]``: MAPE and coverage."""
    from nmsim.api.clusters import cluster_validate as check

    args = read(["cluster", "validate"], [], kwargs)
    with running("cluster"):
        v = check(args, progress=False)
    table = plain(v.table, index=False)
    table.attrs["summary"] = v.summary
    return table


def cluster_systems(*files, **kwargs) -> pd.DataFrame:
    """The bundled system specs (or the system YAML ``files``, each checked), as ``nmsim cluster systems``."""
    from nmsim.api.clusters import cluster_systems as systems

    args = read(["cluster", "systems"], [("files", f) for f in files], kwargs)
    with running("cluster"):
        return systems(args)


def export_gemms(workload=None, out=None, **kwargs) -> Path:
    """Write one step's GEMMs (fwd, dgrad, wgrad) into the folder ``out`` as SCALE-Sim topologies or Timeloop
    problems (``format="scalesim"|"timeloop"``), as ``nmsim export`` (``sparsity=``, ``mode=``, ``hardware=``);
    returns the folder."""
    from nmsim.api.checks import export_folder

    folder = _folder(out)
    args = read("export", [("workload", workload)], kwargs, reserved=tuple(k for k in RESERVED if k != "format"),
                extra=(f"--out={folder}",))
    with running("export"):
        return export_folder(args)[0]


def validate(**kwargs):
    """The models against measurements, as ``nmsim validate``: GPU kernels fitted on public kernel measurements
    and every row scored (default), ``memory=True``, ``engines=True`` or ``systolic=True``; returns
    :class:`nmsim.api.checks.Validated` (``rows``: the per-row table; ``result``: fits, MAPE per group, ...)."""
    from nmsim.api.checks import validate_models

    args = read("validate", [], kwargs)
    with running("validate"):
        return validate_models(args)


def evidence_run(out=None, **kwargs) -> Path:
    """Run (or resume) the evidence protocol into the folder ``out``, then write its summaries, as ``nmsim
    evidence run`` (``task=``, ``recipes=``, ``patterns=``, ``seeds=``, ``epochs=``, ``workers=``); the folder."""
    from nmsim.api.training import evidence_run as run

    folder = _folder(out)
    args = read(["evidence", "run"], [], kwargs, extra=(f"--out={folder}",))
    with running("evidence"):
        return Path(run(args, "nmsim.evidence_run", echo=_quiet))


def evidence_summarize(folder=None, **kwargs) -> dict:
    """Rewrite the summaries of a protocol folder from its finished runs, as ``nmsim evidence summarize``
    (``source=``: first copy the finished seeds of that protocol folder into ``folder``); the tables by name."""
    from nmsim.api.training import evidence_summary

    args = read(["evidence", "summarize"], [("folder", folder)], kwargs)
    with running("evidence"):
        return evidence_summary(args.folder, echo=_quiet, source=args.source)


def hardware_list(**kwargs) -> pd.DataFrame:
    """The bundled accelerator specs (bf16 peak, sparse patterns, memory, bandwidth), as ``nmsim hardware list``."""
    from nmsim.api.specs import spec_table

    read(["hardware", "list"], [], kwargs)   # no options: an unknown keyword is the command's error
    with running("hardware"):
        return spec_table()
