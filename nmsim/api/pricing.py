"""One step priced: ``price`` (one workload x plan x accelerator), its shape sweep, ``compare`` (accelerators x
patterns) and ``trace`` (FLOPs). Each takes the command's parsed options and returns what the command prints,
before rendering; ``columns_known(available, keys)`` is called with the table's columns before the expensive work
(the CLI checks ``--columns`` there)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from nmsim.errors import UserError

ColumnsHook = Callable[..., None] | None


def _nothing(available, keys=()) -> None:
    return None


@dataclass
class Traced:
    """``nmsim trace``: the FLOPs table (``total`` row unless by op), or the paper's view."""
    table: Any
    config: Any
    graph: Any = None
    params: dict = field(default_factory=dict)
    per_token: Any = None
    paper: bool = False


def trace_table(args, columns_known: ColumnsHook = None) -> Traced:
    from nmsim.graph import resolve_workload

    columns_known = columns_known or _nothing
    cfg = resolve_workload(args.workload, args.hf_config, batch=args.batch, seq_len=args.seq)   # before torch
    from nmsim.columns import COST_COLUMNS, PAPER_COLUMNS, TRACE_OP_COLUMNS
    if args.paper:
        columns_known(PAPER_COLUMNS, ("op",))   # a typo, before tracing (and pandas)
    elif args.by != "op":
        columns_known([*COST_COLUMNS, "training_matrix_flops"], (args.by,))
    else:
        columns_known([*TRACE_OP_COLUMNS, *COST_COLUMNS])
    from nmsim.graph import paper_view, parameter_counts, trace_workload
    if args.paper:
        return Traced(paper_view(cfg), cfg, paper=True)
    graph = trace_workload(cfg)
    table = graph.summary(by=args.by)
    if args.by != "op":
        table.loc["total"] = table.sum(numeric_only=True)
    params = parameter_counts(cfg)
    from nmsim.cost.per_token import flops_per_token
    causal = cfg.causal and not cfg.is_image and not cfg.is_enc_dec
    active = params.get("active", params["total"])   # 2N / 6N with the parameters a token uses
    per_token = flops_per_token(graph, cfg.batch * cfg.tokens, cfg.tokens, causal, active)
    return Traced(table, cfg, graph, params, per_token)


def memory_kwargs(args) -> dict:
    """The memory model's keywords from the options; ``--recompute`` and ``--precision`` outside training
    (where there is no backward pass or optimizer state to change) are refused, never ignored."""
    mode = getattr(args, "mode", "training")
    for flag in ("recompute", "precision", "dropout"):
        if getattr(args, flag, None) not in (None, "none", False) and mode != "training":
            raise UserError(f"applies to --mode training only (this run prices --mode {mode})", f"--{flag}")
    return {"recompute": getattr(args, "recompute", None), "precision": getattr(args, "precision", None),
            "fusion": False if getattr(args, "unfused", False) else None}


def is_sweep(args) -> bool:
    return (any(isinstance(getattr(args, a, None), list) for a in ("batch", "seq", "context"))
            or getattr(args, "image_size", None) is not None)


@dataclass
class PricedStep:
    """``nmsim price`` at one shape: ``table`` by ``args.by`` (a ``total`` row unless by op) with each row's
    ``mem_gib``/``fits`` and 80 % band, or with ``memory`` the footprint by component."""
    table: Any
    config: Any
    hw: Any
    dtype: str
    graph: Any
    memory: Any
    prices: dict
    result: Any = None
    step_band: Any = None
    sweep: Any = None


def price_step(args, columns_known: ColumnsHook = None) -> PricedStep:
    """``nmsim price``: one shape (or, with a range of shapes, :func:`price_sweep`'s rows in ``sweep``)."""
    columns_known = columns_known or _nothing
    from nmsim.hardware import load
    hw_name = load(args.hardware).name  # a hardware or plan typo fails here, before pandas, numpy or torch
    from nmsim.sparsity.plan import SparsityPlan
    plan = SparsityPlan.parse(args.sparsity)
    from nmsim.graph import load_workload
    plan.check_depth(load_workload(args.workload))   # and a workload typo, a layer past the model (no pandas either)
    from nmsim.hardware.prices import parse_overrides
    prices = parse_overrides(args.price_per_hour, [hw_name])   # a bad DEVICE=USD too (no pandas)
    memory_kwargs(args)                             # and --recompute/--precision outside training
    if is_sweep(args):
        return price_sweep(args, columns_known)
    _step_columns(args, columns_known)              # a --columns typo (no pandas either)
    from nmsim.execution.settings import check_settings, default_dtype, hardware_spec
    hw = hardware_spec(args.hardware)
    dtype = default_dtype(hw, args.dtype)           # and --dtype, --weight-dtype, --kernel (no pandas)
    check_settings(hw, dtype, weight_dtype=args.weight_dtype, kernel=args.kernel, plans=[args.sparsity])
    from nmsim.cost.pricing import plans_preflight, price, trace_for_mode
    from nmsim.memory.footprint import memory_rows

    cfg = load_workload(args.workload)
    with plans_preflight([args.sparsity]):   # a plan the graph refuses: said before tracing's progress line
        graph = trace_for_mode(cfg, args.mode, args.batch, args.seq, args.context)
    dropout = bool(getattr(args, "dropout", False))
    mem = memory_rows(graph, args.sparsity, hw, dtype, args.mode, context=args.context, batch=args.batch,
                      weight_dtype=args.weight_dtype, dropout=dropout, **memory_kwargs(args))
    if args.memory:
        return PricedStep(mem, cfg, hw, dtype, graph, mem, prices)
    result = price(graph, args.sparsity, hw, dtype, args.mode, weight_dtype=args.weight_dtype,
                   kernel=args.kernel, fusion=False if args.unfused else None, cuda_graphs=args.cuda_graphs,
                   recompute=getattr(args, "recompute", None), dropout=dropout)
    table = result.by_rows(args.by)
    if args.by != "op":
        table = _with_total(table, args.by, result.totals["bound"]).set_index(args.by)
    table["mem_gib"] = float(mem.at("total", "gib"))   # the step's footprint, on each of its rows
    table["fits"] = bool(mem.attrs["fits"])
    from nmsim import bands
    step_band = bands.band(bands.level_for_mode(args.mode), hw)
    table = bands.attach(table, _op_bands(table, hw) if args.by == "op" else step_band)
    return PricedStep(table, cfg, hw, dtype, graph, mem, prices, result, step_band)


def _with_total(table, key: str, bound: str):
    """``table`` (:class:`nmsim.frame.Rows`, one row per ``key``) and a ``total`` row: each number column's sum
    (energy of a spec without figures: NaN, not 0 J), the step's ``bound``."""
    import numpy as np

    from nmsim.frame import Rows

    total = {c: (np.add.reduce(np.ascontiguousarray(v)) if v.dtype.kind in "iuf" else None)
             for c, v in table.data.items()}
    total.update({key: "total", "bound": bound})
    out = {}
    for c, v in table.data.items():
        keep = v.astype(object) if c == key or v.dtype.kind not in "iuf" else v   # layer numbers and 'total'
        out[c] = np.concatenate([keep, np.array([total[c]], dtype=keep.dtype)])
    return Rows(out)


def _step_columns(args, columns_known) -> None:
    """``columns_known`` with the columns of the table ``price_step`` makes for ``args`` (from
    :mod:`nmsim.columns`: before pandas is imported)."""
    from nmsim.bands import with_band_columns
    from nmsim.columns import BY_COLUMNS, MEMORY_COLUMNS, OUTPUT_COLUMNS

    if args.memory:
        columns_known(MEMORY_COLUMNS, ("component",))
    elif args.by != "op":
        columns_known(with_band_columns((*BY_COLUMNS, "mem_gib", "fits")), (args.by,))
    else:
        columns_known(with_band_columns((*OUTPUT_COLUMNS, "mem_gib", "fits")))


def _op_bands(ops, hw) -> list:
    """Per op row: the kernel level's band for a GEMM, none for vector ops (no kernel row times them)."""
    from nmsim import bands
    from nmsim.cost.gemm import MATRIX_KINDS
    kernel = bands.band("kernel", hw)
    return [kernel if kind in MATRIX_KINDS else None for kind in ops["kind"]]


@dataclass
class Sweep:
    """``nmsim price`` over the product of the shape axes: one row per shape."""
    table: Any
    config: Any
    hw: Any
    dtype: str
    prices: dict
    step_band: Any
    axes: list


def _sweep_shapes(args, cfg) -> dict:
    """The shape axes of ``args`` as lists for ``price_shapes``; UserError naming an option that does not fit the
    model or the mode."""
    as_list = lambda v: None if v is None else (v if isinstance(v, list) else [v])  # noqa: E731
    shapes = {"batch": as_list(args.batch), "seq": as_list(args.seq), "context": as_list(args.context),
              "image_size": as_list(getattr(args, "image_size", None))}
    if shapes["image_size"] and not cfg.is_image:
        raise UserError(f"{cfg.name} is a text model: --image-size is for vision models", "--image-size")
    if args.mode == "decode" and shapes["seq"] not in (None, [1]):
        raise UserError("decode prices one new token per sequence; use --context for the cache length", "--seq")
    if cfg.is_image and (shapes["seq"] or shapes["context"]):
        raise UserError(f"{cfg.name} is an image model: its tokens come from image_size/patch_size",
                        "--seq" if shapes["seq"] else "--context")
    if not cfg.is_image and args.mode in ("inference", "training") and shapes["context"]:
        raise UserError(f"--context is for --mode decode/prefill, not {args.mode}", "--context")
    return {k: v for k, v in shapes.items() if v is not None and not (k == "seq" and args.mode == "decode")}


def price_sweep(args, columns_known: ColumnsHook = None) -> PricedStep:
    """The shape sweep of ``nmsim price`` (``--batch 1:128``, ``--seq 128,512``, ``--image-size``)."""
    from nmsim.cost.pricing import check_mode, check_settings, default_dtype, hardware_spec, plans_preflight
    from nmsim.cost.shape_sweep import price_shapes
    from nmsim.graph import load_workload
    from nmsim.sparsity.plan import SparsityPlan

    if getattr(args, "memory", False):
        raise UserError("--memory prices one shape; give single values", "--memory")
    hw = hardware_spec(args.hardware)
    dtype = default_dtype(hw, args.dtype)
    plan = SparsityPlan.parse(args.sparsity) if args.sparsity else None
    check_settings(hw, dtype, weight_dtype=getattr(args, "weight_dtype", None), kernel=getattr(args, "kernel", None),
                   plans=[plan])
    cfg = load_workload(args.workload)
    check_mode(cfg, args.mode)
    shapes = _sweep_shapes(args, cfg)
    with plans_preflight([plan]):   # a plan the graph refuses: said before tracing's progress line
        df = price_shapes(cfg, [(plan, hw, dtype)], args.mode, shapes, weight_dtype=getattr(args, "weight_dtype", None),
                          kernel=getattr(args, "kernel", None), cuda_graphs=getattr(args, "cuda_graphs", True),
                          dropout=bool(getattr(args, "dropout", False)), **memory_kwargs(args))
    from nmsim.cost.economics import add_shape_columns, parse_overrides
    prices = parse_overrides(getattr(args, "price_per_hour", None))
    at = df.columns.get_loc("joules") + 1
    df = add_shape_columns(df, cfg, args.mode, prices)
    df = df[[*df.columns[:at], *df.columns[-3:], *df.columns[at:-3]]]   # beside joules
    from nmsim import bands
    step_band = bands.band(bands.level_for_mode(args.mode), hw)
    df = bands.attach(df, step_band)
    from nmsim.columns import sweep_axes
    axes = sweep_axes(cfg, args.mode)
    sweep = Sweep(df.drop(columns=["config"]), cfg, hw, dtype, prices, step_band, axes)
    return PricedStep(sweep.table, cfg, hw, dtype, None, None, prices, step_band=step_band, sweep=sweep)


@dataclass
class Compared:
    """``nmsim compare``: one row per accelerator x pattern (``memory``: the components per row)."""
    table: Any
    config: Any
    specs: dict
    prices: dict


def compare_rows(args, columns_known: ColumnsHook = None) -> Compared:
    columns_known = columns_known or _nothing
    for a in ("batch", "seq", "context", "image_size"):
        value = getattr(args, a, None)
        if isinstance(value, list) or (a == "image_size" and value is not None):
            raise UserError("a range of values is for nmsim price (shape sweeps), not compare",
                            f"--{a.replace('_', '-')}")
    from nmsim.sparsity.lists import parse_pattern_list
    parse_pattern_list(args.patterns)   # a typo fails before nmsim.cost (and torch) is imported
    from nmsim.graph import load_workload
    from nmsim.hardware import load, parse_hardware_list
    cfg = load_workload(args.workload)        # so do workload and hardware typos (no pandas)
    specs = {}                          # by name: the header describes the specs priced, files included
    for name in parse_hardware_list(args.hardware):
        hw = load(name)
        specs.setdefault(hw.name, hw)
    from nmsim.hardware.prices import parse_overrides
    prices = parse_overrides(args.price_per_hour, list(specs))   # a bad DEVICE=USD, before the pricing
    memory_kwargs(args)
    from nmsim.bands import with_band_columns
    from nmsim.columns import compare_columns, item_name
    columns_known(with_band_columns(compare_columns(item_name(cfg))))   # before the pricing (and pandas)
    from nmsim.cost import compare
    df = compare(args.workload, args.hardware, args.patterns, args.selector, args.mode, args.dtype,
                 args.batch, args.seq, args.context, weight_dtype=args.weight_dtype, kernel=args.kernel,
                 price_per_hour=prices, rank_by=args.rank_by, cuda_graphs=args.cuda_graphs, **memory_kwargs(args))
    return Compared(df, cfg, specs, prices)
