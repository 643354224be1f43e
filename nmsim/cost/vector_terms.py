"""Vector (non-GEMM) FLOPs that a sparse-training step adds on top of the graph's own elementwise ops.

All counts are per weight element (or per parameter) per optimizer step; they do not grow with the batch.
1 FLOP = one add, multiply, compare, divide or square root (an FMA is 2, as everywhere in nmsim).

* **Mask computation** (top-N in every group of M of |W|), per weight element of a layer whose mask is
  recomputed this step: ``2 + log2(M)`` = 1 for |w|, ``log2(M)`` compares for the selection (a partial sort /
  selection network over a group of M costs about ``M log2 M`` compares, i.e. ``log2 M`` per element; 2:4 -> 2,
  1:16 -> 4, 16:128 -> 7), and 1 multiply to apply the mask (``W * m``, reused by forward and dgrad).
* **SR-STE decay term** ``lambda * (1 - m) * W`` added to the gradient: 3 per weight of a masked layer
  (multiply by the complement mask, scale by lambda, add to the gradient).
* **MDGF blend** ``W * (m + D (1 - m))`` while D counts as nonzero: 3 per weight (``D * (1 - m) + m`` as one
  FMA = 2, then the multiply with W = 1).
* **Optimizer step**, per parameter: AdamW 14 (first moment 3, second moment 4, sqrt 1, +eps 1, divide 1,
  lr scale 1, decoupled weight decay 2, update 1; bias corrections are scalars), Adam 12 (no decoupled
  decay), SGD with momentum 4, plain SGD 2.
"""
from __future__ import annotations

import math

from nmsim.errors import UserError

OPTIMIZER_FLOPS_PER_PARAM = {"adamw": 14.0, "adam": 12.0, "sgd-momentum": 4.0, "sgd": 2.0}
# memory traffic per parameter of one optimizer step on fp32 master weights, gradients and states:
# AdamW/Adam read w, g, m, v and write w, m, v (7 x 4 B); SGD+momentum reads w, g, buf, writes w, buf (5 x 4 B)
OPTIMIZER_BYTES_PER_PARAM = {"adamw": 28.0, "adam": 28.0, "sgd-momentum": 20.0, "sgd": 12.0}
# per weight of a masked layer (fp32 weights, 1-byte masks): mask recompute reads w, writes the mask and W*m
# (4 + 1 + 4); SR-STE reads w, mask, g and writes g (4 + 1 + 4 + 4); the MDGF blend reads w, mask, writes W~ (9)
MASK_BYTES_PER_WEIGHT = 9.0
SRSTE_BYTES_PER_WEIGHT = 13.0
BLEND_BYTES_PER_WEIGHT = 9.0
SRSTE_FLOPS_PER_WEIGHT = 3.0
BLEND_FLOPS_PER_WEIGHT = 3.0


def mask_flops_per_weight(m: int) -> float:
    """Top-N-of-M mask computation and application, per weight element (``2 + log2 M``)."""
    return 2.0 + math.log2(max(int(m), 1))


def optimizer_bytes_per_param(optimizer: str) -> float:
    optimizer_flops_per_param(optimizer)  # same validation
    return OPTIMIZER_BYTES_PER_PARAM[str(optimizer).strip().lower()]


def optimizer_flops_per_param(optimizer: str) -> float:
    key = str(optimizer).strip().lower()
    if key not in OPTIMIZER_FLOPS_PER_PARAM:
        raise UserError(f"unknown optimizer {optimizer!r} (known: {', '.join(OPTIMIZER_FLOPS_PER_PARAM)})",
                        "--optimizer")
    return OPTIMIZER_FLOPS_PER_PARAM[key]
