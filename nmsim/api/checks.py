"""``validate`` (the models against measurements: GPU kernels and end-to-end runs, memory, research engines,
SCALE-Sim) and ``export`` (one step's GEMMs for SCALE-Sim or Timeloop), from the command's parsed options."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nmsim.errors import UserError


@dataclass
class Validated:
    """``nmsim validate``: ``kind`` (kernels, memory, engines or systolic), ``rows`` (the per-row table CSV and
    JSON write), ``result`` (everything the text shows: :class:`nmsim.cost.validate.Validation` for kernels, the
    GPU table for engines, the stored runs' tables for systolic) and ``bands_file`` (``--write-bands``)."""
    kind: str
    rows: Any
    result: Any = None
    refit: bool = True
    bands_file: str | None = None


def validate_models(args, progress: Callable | None = None, columns_known: Callable | None = None) -> Validated:
    """``progress(message)`` receives the fit's progress lines."""
    if args.memory:
        from nmsim.memory.validate import DATA, fit_overhead, frame, validate
        path = args.measurements or DATA
        k = fit_overhead(frame(path)) if not args.no_refit else None
        v = validate(path, overhead=k)   # peak memory in bytes: the CSV/JSON names say so
        v = v.rename(columns={c: f"{c}_bytes" for c in ("measured", "allocated", "runtime", "predicted")})
        return Validated("memory", v, v, refit=k is not None)
    if args.engines:
        from nmsim.cost.engines import gpu_table, paper_rows
        return Validated("engines", paper_rows(), gpu_table(batch=32))
    if args.systolic:
        from nmsim.export.scalesim import stored_validation
        v = stored_validation()
        return Validated("systolic", v["traffic"], v)
    if args.write_bands and (args.measurements or args.no_refit):
        raise UserError("the bundled bands come from the bundled measurements, refitted: leave out "
                        f"{'--measurements' if args.measurements else '--no-refit'}", "--write-bands")
    if columns_known:   # a typo fails before the fit
        columns_known(list(ROW_COLUMNS))
    from nmsim.cost.measurements import load
    loaded = load(args.measurements)   # and a mistake in the file, before pandas and scipy are imported
    from nmsim.cost.validate import validate
    v = validate(args.measurements, refit=not args.no_refit, progress=progress, loaded=loaded)
    bands_file = write_bands(v) if args.write_bands else None
    return Validated("kernels", v.rows.copy(), v, refit=not args.no_refit, bands_file=bands_file)


# the per-row table's columns (nmsim.cost.validate's rows less ``source``)
ROW_COLUMNS = ("id", "group", "level", "hardware", "metric", "measured", "predicted", "error_pct", "use")


def write_bands(v, progress: bool = True) -> str:
    """The bundled 80 % bands file rewritten from ``v``'s scored rows and the published cluster runs; its path."""
    import pandas as pd
    from nmsim.bands.build import cluster_residuals, write
    from nmsim.cluster.validation import validate as cluster_validate
    from nmsim.cost.validate import gpu_residuals
    from nmsim.progress import Items
    with Items("cluster validate", "run", **({} if progress else {"mode": False})) as bar:
        cluster = cluster_validate(progress=bar)[0]
    return write(pd.concat([gpu_residuals(v), cluster_residuals(cluster)], ignore_index=True))


def export_folder(args) -> tuple:
    """``nmsim export``: the step's GEMM rows written into ``args.out`` as SCALE-Sim topologies or Timeloop
    problems; (the folder written, the rows, the batch priced)."""
    from nmsim.graph import load_workload
    from nmsim.sparsity.plan import SparsityPlan
    # plan and workload typos, a layer past the model: before pandas and torch are imported
    SparsityPlan.parse(args.sparsity).check_depth(load_workload(args.workload))
    from nmsim.io import check_output_folder

    check_output_folder(args.out, "export")
    hw = None
    if args.hardware:   # a hardware typo too
        from nmsim.hardware import load
        hw = load(args.hardware)
    from nmsim.cost.pricing import trace_for_mode
    from nmsim.export import gemm_rows, write_export
    graph = trace_for_mode(args.workload, args.mode, args.batch, args.seq, args.context)
    rows = gemm_rows(graph, args.sparsity, args.mode, hw, args.dtype)
    note = f"{args.workload} {args.mode} sparsity={args.sparsity or 'dense'}"
    if hw is not None:
        note += f" hardware={hw.name}"
    out = write_export(rows, args.format, args.out, hw=hw, note=note)
    return Path(out), rows, args.batch or graph.config.batch
