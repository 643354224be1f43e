"""N:M sparsity: patterns (flat and hierarchical), plans, metadata encodings, the torch mask function."""
from nmsim.sparsity.hierarchical import HierarchicalPattern, parse_any, worst_case_occupancy
from nmsim.sparsity.metadata import (DTYPE_BYTES, ENCODINGS, compressed_bytes, dtype_bytes,
                                     metadata_bits_per_group)
from nmsim.sparsity.pattern import NMPattern, parse_pattern
from nmsim.sparsity.plan import Rule, SparsityPlan, parse_rule

__all__ = [
    "NMPattern", "HierarchicalPattern", "parse_pattern", "parse_any", "worst_case_occupancy",
    "SparsityPlan", "Rule", "parse_rule",
    "DTYPE_BYTES", "ENCODINGS", "compressed_bytes", "dtype_bytes", "metadata_bits_per_group",
]
