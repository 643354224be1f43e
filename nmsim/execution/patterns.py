"""How a plan pattern runs on a spec's sparse engine at a dtype: which hardware pattern executes it (or dense),
its peak, density and metadata (memory footprints, comparisons, ceilings)."""
from __future__ import annotations

from dataclasses import dataclass

from nmsim.sparsity.metadata import metadata_bits_per_group


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
