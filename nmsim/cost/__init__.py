"""Pricing: GEMMs and vector ops under a sparsity plan on an accelerator, memory footprints, training totals."""
from nmsim.cost.gemm import MATRIX_KINDS, PASSES, PatternInfo, pattern_info, price_gemms
from nmsim.cost.training import TrainingCost, TrainingCostModel, paper_graph, step_flops, training_cost  # noqa: E402,F401
from nmsim.cost.pricing import MODES, Pricing, price, price_many, price_workload, trace_for_mode  # noqa: E402,F401
from nmsim.memory import kv_cache_bytes, memory_footprint  # noqa: E402,F401
from nmsim.cost.compare import compare  # noqa: E402,F401
