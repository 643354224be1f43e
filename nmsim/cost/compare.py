"""Accelerator x pattern comparison tables (``nmsim compare``), built on :func:`nmsim.cost.pricing.price_many`."""
from __future__ import annotations

import numpy as np
import pandas as pd

from nmsim.cost.gemm import MATRIX_KINDS, SPARSE_KINDS, pattern_info
from nmsim.cost.pricing import _hardware, price_many, trace_for_phase
from nmsim.errors import UserError
from nmsim.sparsity.hierarchical import parse_any
from nmsim.sparsity.plan import SparsityPlan

COMPARE_COLUMNS = ("hardware", "pattern", "hw_pattern", "executed_flops", "seconds", "speedup", "weights_gib",
                   "metadata_bytes", "bound")


def resolve_hardware_list(text, dtype: str) -> tuple[list, list[str]]:
    """``"a,b,c"`` or ``"all"`` -> specs. ``all`` skips specs without ``dtype`` (returned as notes); a named spec
    without it is a UserError naming the hardware and dtype."""
    names = [t.strip() for t in (text if isinstance(text, (list, tuple)) else str(text).split(",")) if t.strip()]
    if not names:
        raise UserError("no hardware given", "--hardware")
    skipped: list[str] = []
    specs = []
    if names == ["all"]:
        from nmsim.hardware import list_specs
        for name in list_specs():
            hw = _hardware(name)
            if dtype in hw.matrix_dense:
                specs.append(hw)
            else:
                skipped.append(f"{hw.name} (no {dtype}; has {', '.join(hw.matrix_dense)})")
        return specs, skipped
    for name in names:
        hw = _hardware(name)
        if dtype not in hw.matrix_dense:
            raise UserError(f"{hw.name} has no {dtype} matrix peak (dtypes: {', '.join(hw.matrix_dense)}); "
                            f"pick --dtype from those", "--dtype")
        specs.append(hw)
    return specs, skipped


def compare(workload, hardware="all", patterns=("dense", "2:4", "1:4", "1:8", "1:16", "1:32"), selector: str = "ff",
            phase: str = "inference", dtype: str = "bf16", batch: int | None = None, seq: int | None = None,
            context: int | None = None, graph=None) -> pd.DataFrame:
    """One row per accelerator x pattern (``selector=pattern`` plans): executed FLOPs, seconds, speedup vs dense
    on the same accelerator, weights + metadata GiB (inference storage: compressed where executed sparse),
    metadata bytes, bound. ``df.attrs['skipped']`` lists specs left out of ``all`` for lacking ``dtype``."""
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.split(",") if p.strip()]
    parsed = [parse_any(p, "--patterns") for p in patterns]
    labels = ["dense" if p is None else str(p) for p in parsed]
    plans = [SparsityPlan.parse(None if p is None else f"{selector}={p}", "--selector/--patterns") for p in parsed]
    specs, skipped = resolve_hardware_list(hardware, dtype)
    if graph is None:
        graph = trace_for_phase(workload, phase, batch, seq, context)
    configs = [(plan, hw, dtype) for hw in specs for plan in plans]
    tot = price_many(graph, configs, phase)
    # weights at rest: GEMM weights from the pricing (compressed where sparse) + the other parameters
    mops = graph.ops[graph.ops["kind"].isin(MATRIX_KINDS)]
    lin = mops[mops["kind"].isin(SPARSE_KINDS)]
    gemm_params = float(lin.drop_duplicates("weight")["weight_numel"].sum() + lin.loc[lin["has_bias"], "gemm_n"].sum())
    try:
        from nmsim.graph import parameter_counts
        other = float(parameter_counts(graph.config)["total"]) - gemm_params if graph.config is not None else 0.0
    except Exception:  # noqa: BLE001 - a graph without a config: GEMM weights only
        other = 0.0
    from nmsim.sparsity.metadata import dtype_bytes
    other_bytes = max(other, 0.0) * dtype_bytes(dtype)
    rows = []
    for i, (plan, hw, _) in enumerate(configs):
        j = i % len(plans)
        t = tot.iloc[i]
        dense_t = tot.iloc[i - j]
        info = pattern_info(hw, dtype, parsed[j])
        # weight_bytes in the totals counts per-op weights once per op; training passes counted fwd only
        rows.append({
            "hardware": hw.name, "pattern": labels[j], "hw_pattern": info.hw_label,
            "executed_flops": t["executed_flops"], "seconds": t["seconds"],
            "speedup": dense_t["seconds"] / t["seconds"] if t["seconds"] > 0 else np.nan,
            "weights_gib": (t["weight_bytes"] + other_bytes) / 2 ** 30,
            "metadata_bytes": t["metadata_bytes"], "bound": t["bound"]})
    df = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
    df.attrs["skipped"] = skipped
    return df
