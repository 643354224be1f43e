"""Accelerator x pattern comparison tables (``nmsim compare``), built on :func:`nmsim.cost.pricing.price_many`."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nmsim.columns import COMPARE_COLUMNS, compare_columns  # noqa: F401 (callers read them here)
from nmsim.cost.gemm import MATRIX_KINDS, SPARSE_KINDS, pattern_info
from nmsim.cost.pricing import check_settings, hardware_spec, plans_preflight, price_many, trace_for_mode
from nmsim.errors import UserError
from nmsim.sparsity.hierarchical import parse_any
from nmsim.sparsity.lists import parse_pattern_list, plan_text
from nmsim.sparsity.plan import SparsityPlan

if TYPE_CHECKING:
    import pandas as pd


def resolve_hardware_list(text, dtype: str | None) -> tuple[list, list[str]]:
    """``"a,b,c"`` or ``"all"`` -> specs. ``all`` skips specs without ``dtype`` (returned as notes); a named spec
    without it is a UserError naming the hardware and dtype. ``dtype`` None: every spec at its preferred dtype."""
    from nmsim.hardware import parse_hardware_list
    names = parse_hardware_list(text)
    skipped: list[str] = []
    specs = []
    joined = text if isinstance(text, str) else ",".join(map(str, text))
    if joined.strip().strip(",").strip().lower() == "all":   # every bundled spec: skip those without dtype
        for name in names:
            hw = hardware_spec(name)
            if dtype is None or dtype in hw.matrix_dense:
                specs.append(hw)
            else:
                skipped.append(f"{hw.name} (no {dtype}; has {', '.join(hw.matrix_dense)})")
        return specs, skipped
    given: dict = {}
    for name in names:
        hw = hardware_spec(name)
        if dtype is not None and dtype not in hw.matrix_dense:
            raise UserError(f"{hw.name} has no {dtype} matrix peak (dtypes: {', '.join(hw.matrix_dense)}); "
                            f"pick --dtype from those", "--dtype")
        if hw.name in given:   # rows are told apart by the spec's name: the same spec once, two specs never
            if _same_spec(hw, specs[given[hw.name][1]]):
                continue
            raise UserError(f"{given[hw.name][0]} and {name} are different specs with the same name "
                            f"{hw.name!r} (the table tells specs apart by name); change the name: field of one", "--hardware")
        given[hw.name] = (name, len(specs))
        specs.append(hw)
    return specs, skipped


def _same_spec(a, b) -> bool:
    """The same numbers, wherever the files lie (specs compare by identity)."""
    import dataclasses
    return all(getattr(a, f.name) == getattr(b, f.name) for f in dataclasses.fields(a) if f.name != "path")


def compare(workload, hardware="all", patterns=("dense", "2:4", "1:4", "1:8", "1:16", "1:32"), selector: str = "ff",
            mode: str = "inference", dtype: str | None = None, batch: int | None = None, seq: int | None = None,
            context: int | None = None, graph=None, *, weight_dtype: str | None = None, kernel: str | None = None,
            fusion=None, price_per_hour=None, rank_by: str | None = None, cuda_graphs: bool = True,
            recompute=None, precision: str | None = None) -> pd.DataFrame:
    """One row per accelerator x pattern (``selector=pattern`` plans): compute dtype, the kernel of the sparse
    GEMMs, executed FLOPs, seconds, speedup vs dense on the same accelerator, what caps the plan (the dense step's
    share in the GEMMs it sparsifies, and the speedup if those took no time: ``price_many(ceiling=True)``), joules,
    weights + metadata GiB
    (inference storage: compressed where executed sparse), metadata bytes, bound. ``dtype`` None = each spec's
    preferred 16-bit dtype. ``df.attrs['skipped']`` lists specs left out of ``all`` for lacking ``dtype``.
    Totals come from :func:`~nmsim.cost.pricing.price_many`, i.e. the same path as ``price``.

    What a buyer asks (:mod:`nmsim.cost.economics`): tokens (images) per second, $ per million of them from each
    device's hourly price (``price_per_hour``: ``"a100=2.5,..."`` or {spec name: USD} over the bundled list
    prices; NaN where none is known) and joules per token; ``rank_by`` (time, cost, energy) orders the rows.

    Memory (:mod:`nmsim.memory`, the footprint ``price --memory`` prints): ``mem_gib`` of the step and whether it
    ``fits`` the device (rows that do not are priced all the same); ``df.attrs['memory']`` has the components
    per row (``compare --memory``); ``precision`` is the training footprint's, ``recompute`` the training step's
    (its memory, and the forward work backward runs again in its time)."""
    import pandas as pd
    from nmsim.cost import economics
    from nmsim.cost.pricing import default_dtype

    labels, parsed, plans = _compared_plans(patterns, selector)
    specs, skipped = _compared_specs(hardware, dtype)
    every = str(hardware).strip().strip(",").strip().lower() == "all"
    for hw in list(specs):   # what no graph could price: said before tracing (``all`` leaves such specs out)
        try:
            check_settings(hw, default_dtype(hw, dtype), weight_dtype=weight_dtype, kernel=kernel, plans=plans)
        except UserError as exc:
            if not every:
                raise
            specs.remove(hw)
            skipped.append(f"{hw.name} ({str(exc).split(': ', 1)[-1]})")
    if not specs:
        raise UserError("no accelerator can run these settings (" + "; ".join(skipped) + ")", "--hardware")
    if graph is None:
        with plans_preflight(plans):   # a plan the graph refuses: said before tracing's progress line
            graph = trace_for_mode(workload, mode, batch, seq, context)
    configs = [(plan, hw, default_dtype(hw, dtype)) for hw in specs for plan in plans]
    tot = price_many(graph, configs, mode, weight_dtype=weight_dtype, kernel=kernel, fusion=fusion, ceiling=True,
                     cuda_graphs=cuda_graphs, recompute=recompute)
    memory = _memory_rows(graph, configs, labels, mode, batch, seq, context, weight_dtype=weight_dtype,
                          fusion=fusion, recompute=recompute, precision=precision)
    rows = []
    for i, (plan, hw, dt) in enumerate(configs):
        j = i % len(plans)
        t, dense_t = tot.iloc[i], tot.iloc[i - j]
        m = memory.iloc[i]
        rows.append({
            "hardware": hw.name, "dtype": dt if not weight_dtype else f"{dt}/{weight_dtype}", "pattern": labels[j],
            "kernel": t["kernel"], "hw_pattern": _hw_pattern(hw, dt, t["kernel"], parsed[j]),
            "executed_flops": t["executed_flops"], "seconds": t["seconds"],
            "speedup": dense_t["seconds"] / t["seconds"] if t["seconds"] > 0 else np.nan,
            "mem_gib": m["total_gib"], "fits": bool(m["fits"]),
            "sparsified_share": t["sparsified_share"], "ceiling": t["ceiling"], "joules": t["joules"],
            "weights_gib": m["weights_gib"],
            "metadata_bytes": t["metadata_bytes"], "bound": t["bound"]})
    cfg = getattr(graph, "config", None)
    item = economics.item_name(cfg)
    overrides = price_per_hour if isinstance(price_per_hour, dict) else economics.parse_overrides(price_per_hour)
    df = pd.DataFrame(rows)
    items = economics.items_per_step(cfg, mode, batch, None if mode == "decode" else (seq or context))
    economics.add_columns(df, df["seconds"], df["joules"], items,
                          [economics.hourly_price(h, overrides) for h in df["hardware"]], item)
    df = economics.rank(df[list(compare_columns(item))], rank_by, item)
    from nmsim import bands
    by_name = {hw.name: hw for hw in specs}
    df = bands.attach(df, [bands.band(bands.level_for_mode(mode), by_name[h]) for h in df["hardware"]])
    df.attrs["skipped"] = skipped
    df.attrs["memory"] = memory.loc[df.index].reset_index(drop=True)
    df.attrs["item"], df.attrs["items_per_step"], df.attrs["prices"] = item, items, overrides
    df.attrs["batch"] = batch or (cfg.batch if cfg is not None else None)
    df.attrs["seq"] = None if cfg is None or cfg.is_image else (context if mode == "decode" else (seq or context))
    return df


def _memory_rows(graph, configs, labels, mode, batch, seq, context, **kw) -> pd.DataFrame:
    """One row per config: hardware, pattern, each component's GiB as ``COMPONENT_gib`` (training or inference
    components, see :mod:`nmsim.memory.footprint`), ``weights_gib`` (at rest), ``total_gib``, ``capacity_gib``
    and ``fits``: the unit in every column name, as ``mem_gib``."""
    import pandas as pd
    from nmsim.memory import GIB, memory_footprint
    from nmsim.memory.footprint import graph_shape
    from nmsim.memory.weights import plan_gemms
    b, s, ctx = graph_shape(graph, graph.config, mode)
    shape = {"batch": batch or b, "seq": (seq or context or s) if mode != "decode" else s,
             "context": (context or ctx) if mode == "decode" else ctx}
    gemms: dict = {}
    rows = []
    for i, (plan, hw, dt) in enumerate(configs):
        key = i % len(labels)
        if key not in gemms:
            gemms[key] = plan_gemms(graph, plan)
        fp = memory_footprint(graph, plan, hw, dt, mode, **shape, gemms=gemms[key], **kw)
        comp = fp["bytes"] / GIB
        weights = comp.reindex(["weights", "weights_dense", "weights_sparse_values", "weights_metadata"]).sum()
        rows.append({"hardware": hw.name, "pattern": labels[i % len(labels)],
                     **{f"{k}_gib": v for k, v in comp.to_dict().items()},
                     "weights_gib": weights, "capacity_gib": fp.attrs["capacity_gib"], "fits": fp.attrs["fits"]})
    return pd.DataFrame(rows)


def _compared_plans(patterns, selector: str) -> tuple[list, list, list]:
    """(labels, parsed patterns, ``selector=pattern`` plans) of the pattern list; whole plans are refused."""
    labels = parse_pattern_list(patterns)
    if any("=" in p for p in labels):   # one pattern per column of the table: whole plans go to nmsim price
        raise UserError("compare puts each pattern on --selector; price a whole plan with nmsim price --sparsity",
                        "--patterns")
    parsed = [parse_any(p, "--patterns") for p in labels]
    plans = [SparsityPlan.parse(None if p == "dense" else plan_text(p, selector), "--selector/--patterns")
             for p in labels]
    return labels, parsed, plans


def _compared_specs(hardware, dtype: str | None) -> tuple[list, list]:
    """The specs of the hardware list (and the notes of those skipped); an empty table is an error."""
    specs, skipped = resolve_hardware_list(hardware, dtype)
    if not specs:   # an empty table is not an answer
        from nmsim.hardware import list_specs
        have = sorted({d for name in list_specs() for d in hardware_spec(name).matrix_dense})
        raise UserError(f"no accelerator has a {dtype} matrix peak (they have {', '.join(have)})", "--dtype")
    return specs, skipped


def _hw_pattern(hw, dtype: str, kernel: str, pattern) -> str:
    """The pattern the hardware runs: dense for the dense kernel, else the kernel's (or the spec's) pattern."""
    label = pattern_info(hw, dtype, pattern).hw_label
    if kernel == "dense":
        return "dense"
    if pattern is not None:
        return _kernel_pattern(hw, kernel, pattern) or label
    return label


def _kernel_pattern(hw, kernel: str, pattern) -> str | None:
    """The hardware pattern ``kernel`` of a gpu spec runs ``pattern`` as (None when not a gpu kernel)."""
    for k in (getattr(hw, "execution", None) or {}).get("kernels") or ():
        if k.name == kernel:
            p = k.execution(pattern)
            return None if p is None else str(p)
    return None
