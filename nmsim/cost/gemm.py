"""Per-GEMM pricing entry point kept for callers that hold bare op rows, and per-pattern hardware look-ups.

:func:`price_gemms` prices matrix rows through the one pricing path (``nmsim.cost.pricing.price_table``: the
per-pass GEMM table of ``nmsim.execution.table`` and the execution model the spec selects); the model itself
(roofline, gpu kernels, ...) is documented in ``nmsim.execution``. :func:`pattern_info` says which hardware
pattern a plan pattern would be stored/executed as on a spec's sparse engine (memory footprints, compare).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from nmsim.errors import UserError
from nmsim.execution.base import BOUNDS, PASSES
from nmsim.execution.table import MATRIX_KINDS, SPARSE_KINDS
from nmsim.sparsity.metadata import metadata_bits_per_group

__all__ = ["BOUNDS", "MATRIX_KINDS", "PASSES", "SPARSE_KINDS", "PatternInfo", "pattern_info", "price_gemms"]


# ---- per (hardware, dtype, pattern) look-ups --------------------------------------------------------------
@dataclass(frozen=True)
class PatternInfo:
    """How one plan pattern runs on one accelerator at one dtype."""
    label: str            # plan pattern ("dense" for None)
    hw_label: str         # executing hardware pattern ("dense" on fallback)
    sparse: bool          # runs on the sparse engine (forward)
    transposable: bool    # mask usable by dgrad
    tflops: float         # peak of the executing pattern (dense peak on fallback)
    density: float        # density executed (hardware pattern's; 1.0 dense)
    group_n: int          # hardware pattern N (values kept per group) for compressed sizes
    group_m: int          # hardware pattern M
    meta_bits: float      # metadata bits per group of group_m weights


_INFO_CACHE: dict = {}


def pattern_info(hw, dtype: str, pattern) -> PatternInfo:
    """Cached :class:`PatternInfo` of ``pattern`` (NMPattern / HierarchicalPattern / None) on ``hw`` at ``dtype``."""
    key = (id(hw), hw.name, dtype, pattern)
    hit = _INFO_CACHE.get(key)
    if hit is not None and hit[0] is hw:
        return hit[1]
    hw_pattern, tflops, _ = hw.best_sparse(pattern, dtype)
    label = "dense" if pattern is None or pattern.is_dense else str(pattern)
    if hw_pattern is None:
        info = PatternInfo(label, "dense", False, False, float(tflops), 1.0, 1, 1, 0.0)
    else:
        encoding = hw.metadata_encoding or "index"
        info = PatternInfo(label, str(hw_pattern), True, bool(getattr(pattern, "transposable", False)),
                           float(tflops), float(hw_pattern.density), int(hw_pattern.n), int(hw_pattern.m),
                           float(metadata_bits_per_group(hw_pattern, encoding)))
    _INFO_CACHE[key] = (hw, info)
    return info


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
                  cuda_graphs=cuda_graphs)
    mops = ops[ops["kind"].isin(MATRIX_KINDS)]
    if decode:
        check_decode(mops)
    if isinstance(patterns, pd.Series):
        patterns = patterns.reindex(mops.index) if not patterns.index.equals(mops.index) else patterns
    mode = "training" if set(passes) - {"fwd"} else "inference"
    return price_table(None, patterns, ctx, mode, ops=mops, passes=passes, kv=kv_ratio, vector=False)
