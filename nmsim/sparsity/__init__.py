"""N:M sparsity: patterns (flat and hierarchical), plans, metadata encodings, the torch mask function.

Names are imported on first use, so that parsing a pattern (the CLI's argument checks) needs neither pandas
(plans) nor torch (masks).
"""
import importlib

_EXPORTS = {
    "NMPattern": "pattern",
    "HierarchicalPattern": "hierarchical", "parse_any": "hierarchical", "worst_case_occupancy": "hierarchical",
    "parse_pattern_list": "lists", "plan_text": "lists",
    "SparsityPlan": "plan", "Rule": "plan", "parse_rule": "plan",
    "DTYPE_BYTES": "metadata", "ENCODINGS": "metadata", "compressed_bytes": "metadata", "dtype_bytes": "metadata",
    "metadata_bits_per_group": "metadata",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"nmsim.sparsity.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'nmsim.sparsity' has no attribute {name!r}")
