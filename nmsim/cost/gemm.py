"""Per-GEMM pricing entry point kept for callers that hold bare op rows, and per-pattern hardware look-ups.

:func:`price_gemms` prices matrix rows through the one pricing path (``nmsim.cost.pricing.price_table``: the
per-pass GEMM table of ``nmsim.execution.table`` and the execution model the spec selects); the model itself
(roofline, gpu kernels, ...) is documented in ``nmsim.execution``; :func:`pattern_info` (from
``nmsim.execution.patterns``) says which hardware pattern a plan pattern would be stored/executed as.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from nmsim.errors import UserError
from nmsim.execution.base import BOUNDS, PASSES
from nmsim.execution.patterns import PatternInfo, pattern_info
from nmsim.execution.table import MATRIX_KINDS, SPARSE_KINDS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BOUNDS", "MATRIX_KINDS", "PASSES", "SPARSE_KINDS", "PatternInfo", "pattern_info", "price_gemms"]


def _check_passes(passes, decode: bool) -> tuple[str, ...]:
    if isinstance(passes, str):
        passes = (passes,)
    passes = tuple(passes)
    for p in passes:
        if p not in PASSES:
            raise UserError(f"unknown pass {p!r} (known: {', '.join(PASSES)})", "passes")
    if decode and set(passes) - {"fwd"}:
        raise UserError("decode is inference only: passes must be ('fwd',)", "passes")
    return passes


def price_gemms(ops: pd.DataFrame, patterns: pd.Series | None, hw, dtype: str, passes=("fwd",), *,
                dgrad_sparse: bool | None = None, decode: bool = False, kv_ratio: float = 1.0,
                weight_dtype: str | None = None, fusion=None, kernel: str | None = None,
                cuda_graphs: bool = True) -> pd.DataFrame:
    """One row per (matrix op, pass) priced on ``hw`` at ``dtype`` (rows of other kinds are ignored).

    ``patterns``: plan pattern per op aligned on ``ops.index`` (None/NaN = dense; ``None`` for the whole argument =
    all dense). Passes with 0 nominal FLOPs for an op are skipped. ``decode=True`` checks the ops come from a
    single-token trace (``seq=1, past=L``) and allows only the forward pass. Other keywords as
    :func:`nmsim.cost.price`.
    """
    from nmsim.cost.pricing import check_decode, hardware_spec, context, price_table
    passes = _check_passes(passes, decode)
    hw = hardware_spec(hw)
    ctx = context(hw, dtype, weight_dtype=weight_dtype, fusion=fusion, kernel=kernel, dgrad_sparse=dgrad_sparse,
                  cuda_graphs=cuda_graphs, step=False, burst=True)
    mops = ops[ops["kind"].isin(MATRIX_KINDS)]
    if decode:
        check_decode(mops)
    if hasattr(patterns, "reindex"):   # a pandas Series of patterns, by op id
        patterns = patterns.reindex(mops.index) if not patterns.index.equals(mops.index) else patterns
    mode = "training" if set(passes) - {"fwd"} else "inference"
    return price_table(None, patterns, ctx, mode, ops=mops, passes=passes, kv=kv_ratio, vector=False)
