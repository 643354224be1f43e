"""Per-device training memory of a parallel layout: weights, gradients, optimizer, masks, activations, buffers,
runtime. A single device is the layout TP1 PP1 DP1 with one micro-batch of the whole batch.

States (bytes per parameter from the :mod:`~nmsim.memory.precision` scheme): ZeRO-1 shards the optimizer state
over the data-parallel group, ZeRO-2 also the gradients, ZeRO-3/FSDP also the weights (Rajbhandari et al. 2020);
tensor parallelism splits every sharded GEMM weight by ``tp``; pipeline parallelism gives each stage its layers
(the embedding to the first, the head to the last). N:M: the forward copy of the weights is the phase's
compressed bytes (``state_bytes``); master weights, Adam state and gradients stay dense; masks cost 1 byte per
masked weight (a torch bool tensor) while a mask is in force.

Activations: :mod:`~nmsim.memory.activations` per layer and micro-batch. 1F1B keeps ``min(pp, micro-batches)``
micro-batches in flight on the first stage (times ``1 + (pp-1)/(pp v)`` with ``v`` interleaved chunks); the last
stage keeps the fp32 logits. Buffers: ZeRO-3 prefetches two layers' gathered weights. Allocator: the caching
allocator's overhead over the bytes above (:data:`ALLOCATOR_OVERHEAD`). Runtime: the CUDA context and kernels
(:data:`RUNTIME_BYTES`) on GPUs.
"""
from __future__ import annotations

import numpy as np

from nmsim.memory.activations import activation_bytes_per_token, logits_bytes_per_token

from nmsim.columns import MEMORY_COMPONENTS as COMPONENTS  # noqa: E402 (read here)

#: PyTorch's caching allocator reserves more than it hands out (block rounding, fragmentation): reserved =
#: allocated x (1 + ALLOCATOR_OVERHEAD), fitted on the ``fit`` rows of nmsim/data/measurements/memory.yaml
#: (``nmsim validate --memory`` refits it and scores the other rows).
ALLOCATOR_OVERHEAD = 0.0897

#: CUDA context + loaded kernels, measured by nvidia-smi after ``torch.ones((1, 1)).to("cuda")``: 1,343 MiB
#: (Hugging Face transformers docs, "Efficient training on a single GPU", V100 16 GB, PyTorch 1.10). Not part of
#: torch.cuda.max_memory_allocated, but of what the device has left.
RUNTIME_BYTES = 1343 * 2 ** 20


def runtime_bytes(hw) -> float:
    return float(RUNTIME_BYTES) if getattr(hw, "kind", "") == "gpu" else 0.0


def activation_size(dtype: str) -> float:
    """Bytes per kept activation element: 16-bit, or 4 for fp32/tf32 training (fp8 GEMMs keep bf16 activations)."""
    from nmsim.sparsity.metadata import dtype_bytes
    return max(2.0, float(dtype_bytes(dtype)))


def layout_memory(L, sizes, cfg, seq, state_bytes, precision, *, size=2.0, fwd_size=2.0, flash=False,
                  dropout=False, masked=0.0, runtime=0.0, allocator=None):
    """Per-device bytes per component for layouts ``L`` (dict of arrays ``tp pp dp zero mb m recompute sp v``),
    worst of first and last stage. ``sizes`` has ``layers``, ``layer_params``, ``pre_params``, ``post_params``;
    ``state_bytes`` = (per-layer forward weight bytes, pre bytes, post bytes) for the phase (unsharded);
    ``precision`` a :class:`~nmsim.memory.precision.Precision` whose weights beyond the forward copy's
    ``fwd_size`` bytes per parameter (AMP's fp32 weights) are dense. Returns component -> array and ``total``."""
    tp, pp, dp, z, mb = (np.asarray(L[k], float) for k in ("tp", "pp", "dp", "zero", "mb"))
    rec, sp, v, m = np.asarray(L["recompute"]), np.asarray(L["sp"], bool), np.asarray(L["v"], float), L["m"]
    layer_w, pre_w, post_w = state_bytes
    ls = np.ceil(sizes.layers / pp)
    lw = float(np.max(layer_w))
    per_tok, full_layer = activation_bytes_per_token(cfg, seq, tp, sp, rec, flash=flash, dropout=dropout, size=size)
    tokens = mb * seq
    act_layer = per_tok * tokens
    inflight = np.minimum(pp, m) * np.where(v > 1, 1 + (pp - 1) / (pp * v), 1.0)
    recompute_live = np.where(rec == 2, full_layer * tokens, 0.0)
    logits = logits_bytes_per_token(cfg, tp) * tokens
    extra_w = max(precision.weights - fwd_size, 0.0)
    out = {}
    for first, last in ((True, pp == 1), (False, True)):
        last = np.asarray(last, bool)
        params = (ls * sizes.layer_params + (sizes.pre_params if first else 0.0)
                  + np.where(last, sizes.post_params, 0.0)) / tp
        wbytes = (ls * lw + (pre_w if first else 0.0) + np.where(last, post_w, 0.0)) / tp + extra_w * params
        comp = {
            "weights": wbytes / np.where(z >= 3, dp, 1.0),
            "gradients": precision.gradients * params / np.where(z >= 2, dp, 1.0),
            "optimizer": precision.optimizer * params / np.where(z >= 1, dp, 1.0),
            "masks": masked / sizes.layers * ls / tp / np.where(z >= 3, dp, 1.0),
            "activations": ls * act_layer * (inflight if first else 1.0) + recompute_live
            + np.where(last, logits, 0.0),
            "buffers": np.where(z >= 3, 2.0 * lw / tp, 0.0),
        }
        comp = with_overheads(comp, runtime, allocator)
        total = sum(comp.values())
        if not out:
            out = {**comp, "total": total}
        else:
            worse = total > out["total"]
            out = {k: np.where(worse, comp.get(k, total), out[k]) for k in (*COMPONENTS, "total")}
            out["total"] = np.where(worse, total, out["total"])
    return out



def with_overheads(comp: dict, runtime: float, allocator: float | None = None) -> dict:
    """``comp`` plus ``allocator`` (the overhead fraction of everything allocated; None: the fitted one) and
    ``runtime`` bytes."""
    k = ALLOCATOR_OVERHEAD if allocator is None else allocator
    allocated = sum(comp.values())
    return {**comp, "allocator": k * allocated, "runtime": np.zeros_like(allocated) + float(runtime)}
