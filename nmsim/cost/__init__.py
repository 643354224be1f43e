"""Pricing: GEMMs and vector ops under a sparsity plan on an accelerator, memory footprints, training totals.

The names below are imported on first use, so a light submodule (:mod:`nmsim.cost.measurements`,
:mod:`nmsim.cost.modes`) is read without pandas: a mistake in a file or an option is said before the heavy imports.
"""
import importlib

_EXPORTS = {**dict.fromkeys(("MATRIX_KINDS", "PASSES", "PatternInfo", "pattern_info", "price_gemms"), "gemm"),
            **dict.fromkeys(("TrainingCost", "TrainingCostModel", "paper_graph", "step_flops", "training_cost"),
                            "training"),
            **dict.fromkeys(("MODES", "Pricing", "price", "price_many", "price_workload", "trace_for_mode"),
                            "pricing"),
            "compare": "compare"}
_MEMORY = ("kv_cache_bytes", "memory_footprint")
__all__ = sorted([*_EXPORTS, *_MEMORY])


def __getattr__(name: str):
    if name in _EXPORTS or name in _MEMORY:
        value = getattr(importlib.import_module(f"nmsim.cost.{_EXPORTS[name]}" if name in _EXPORTS
                                                else "nmsim.memory"), name)
        globals()[name] = value   # bound once: ``compare`` is the function, not its submodule of that name
        return value
    raise AttributeError(f"module 'nmsim.cost' has no attribute {name!r}")
