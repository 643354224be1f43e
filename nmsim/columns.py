"""The columns of the pricing tables, in one light place: the pricing modules build their tables from these
names, and the commands check ``--columns`` against them before any work (no pandas, numpy or torch imported)."""
from __future__ import annotations

#: per-op graph costs (:class:`nmsim.graph.OpGraph`, ``nmsim trace``)
COST_COLUMNS = ("fwd_flops", "dgrad_flops", "wgrad_flops", "vector_flops", "bwd_vector_flops")
#: ``nmsim trace --by op``: each op's identity and GEMM dims before its costs
TRACE_OP_COLUMNS = ("op", "kind", "role", "module", "layer", "gemm_b", "gemm_m", "gemm_k", "gemm_n")
#: ``nmsim trace --paper``, by op
PAPER_COLUMNS = ("gflops",)
#: one priced row per (op, pass) (:func:`nmsim.cost.pricing.price_step`)
OUTPUT_COLUMNS = [
    "id", "module", "role", "layer", "kind", "pass", "pattern", "hw_pattern", "kernel", "sparse", "fused",
    "nominal_flops", "padded_flops", "executed_flops", "vector_flops", "weight_bytes", "metadata_bytes", "act_bytes",
    "bytes", "compute_seconds", "memory_seconds", "metadata_seconds", "seconds", "bound", "energy_joules",
]
#: :meth:`nmsim.cost.pricing.Pricing.by`'s columns besides the key (every key but ``op``)
BY_COLUMNS = ("nominal_flops", "executed_flops", "vector_flops", "bytes", "metadata_bytes", "seconds",
              "energy_joules", "bound")
#: a step's memory footprint, by component (:func:`nmsim.memory.memory_footprint`)
MEMORY_COLUMNS = ("bytes", "gib")
#: ``nmsim compare`` (token models; :func:`compare_columns`)
COMPARE_COLUMNS = ("hardware", "dtype", "pattern", "kernel", "hw_pattern", "executed_flops", "seconds", "speedup",
                   "tokens_per_second", "usd_per_million_tokens", "joules_per_token", "mem_gib", "fits",
                   "sparsified_share", "ceiling", "joules", "weights_gib", "metadata_bytes", "bound")


def item_name(cfg) -> str:
    """``image`` for an image model, else ``token``."""
    return "image" if cfg is not None and getattr(cfg, "is_image", False) else "token"


def item_columns(item: str) -> tuple[str, str, str]:
    """The three per-row column names for ``item``: rate, $ per million, joules per item."""
    return f"{item}s_per_second", f"usd_per_million_{item}s", f"joules_per_{item}"


def compare_columns(item: str = "token") -> tuple:
    """:data:`COMPARE_COLUMNS` with the per-item columns of ``item`` (``image`` for image models)."""
    return tuple(dict(zip(item_columns("token"), item_columns(item))).get(c, c) for c in COMPARE_COLUMNS)


def budget_columns(hardware: bool) -> list[str]:
    """The columns of ``nmsim budget``'s table (with ``hardware``: time and energy too), bands not included."""
    timed = ["seconds", "hours", "seconds_vs_dense", "joules", "usd", "mem_gib", "fits"] if hardware else []
    return ["recipe", "pattern", "train_flops", "vs_dense", "vs_srste", "matrix_vs_dense", "matrix_vs_srste",
            "budget_epochs", *timed, "phases"]


def sweep_axes(cfg, mode: str) -> list[str]:
    """The shape axes a ``nmsim price`` shape sweep's rows are keyed by."""
    return ["batch", "image_size"] if cfg.is_image else ["batch", "context" if mode == "decode" else "seq"]

#: the per-device memory components of a parallel layout (nmsim.memory.layout), in the cluster tables' mem_ columns
MEMORY_COMPONENTS = ("weights", "gradients", "optimizer", "masks", "activations", "buffers", "allocator", "runtime")
