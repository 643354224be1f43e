"""Per-kind cost formulas: forward / dgrad / wgrad matrix FLOPs, vector FLOPs, bytes.

In the spirit of ``torch/utils/flop_counter.py`` but for whole training steps: the trace records one forward
op; its backward GEMMs are derived here, one per operand that needs a gradient:

* ``linear``  Y[M,N] = X[M,K]·Wᵀ:  fwd 2MKN; dgrad dX = dY·W 2MKN (if X needs grad); wgrad dW = dYᵀ·X 2MKN.
* ``matmul``  activation × activation (attention logit QKᵀ, attend PV), batch b: fwd 2bMKN, and 2bMKN for the
  gradient of each operand that needs one (both, inside a network) — booked as dgrad.
* ``conv``    fwd 2·(B·Hout·Wout)·Cout·(Cin/groups)·kh·kw; dgrad and wgrad the same count when needed.

One multiply-add = 2 FLOPs. Vector FLOPs (elementwise, norms, softmax, reductions) are per-element estimates
listed in ``VECTOR_FLOPS_PER_ELEMENT``; their backward is taken as 2× forward for ops on the gradient path.
These are the conventions FlopCounterMode uses for matrix FLOPs, so totals agree exactly (tests check).
"""
from __future__ import annotations

from typing import Callable

# forward FLOPs per output element for vector ops (documented estimates; 1 = one arithmetic op)
VECTOR_FLOPS_PER_ELEMENT: dict[str, float] = {
    "add": 1, "sub": 1, "mul": 1, "div": 1, "neg": 1, "rsub": 1, "reciprocal": 1, "rsqrt": 2, "sqrt": 1,
    "pow": 1, "exp": 1, "log": 1, "cos": 1, "sin": 1, "tanh": 4, "sigmoid": 4, "relu": 1, "threshold": 1,
    "gelu": 8, "silu": 4, "masked_fill": 1, "where": 1, "clamp": 1, "clamp_min": 1, "maximum": 1,
    "minimum": 1, "abs": 1, "sign": 1, "eq": 1, "ne": 1, "gt": 1, "lt": 1, "ge": 1, "le": 1,
    "triu": 0, "tril": 0, "erf": 4, "mean": 1, "sum": 1, "amax": 1, "amin": 1, "max": 1, "min": 1,
    "var": 3, "std": 4, "_softmax": 5, "_safe_softmax": 5, "_log_softmax": 5, "native_layer_norm": 7, "cumsum": 1,
    "topk": 2, "sort": 8,
}
BACKWARD_VECTOR_FACTOR = 2.0

Formula = Callable[[dict], dict]
REGISTRY: dict[str, Formula] = {}


def register(kind: str):
    def deco(fn: Formula) -> Formula:
        REGISTRY[kind] = fn
        return fn
    return deco


def _costs(fwd=0.0, dgrad=0.0, wgrad=0.0, vector=0.0, bwd_vector=0.0) -> dict:
    return {"fwd_flops": fwd, "dgrad_flops": dgrad, "wgrad_flops": wgrad,
            "vector_flops": vector, "bwd_vector_flops": bwd_vector}


@register("linear")
def linear(op: dict) -> dict:
    f = 2.0 * op["gemm_b"] * op["gemm_m"] * op["gemm_k"] * op["gemm_n"]
    bias = op["gemm_m"] * op["gemm_n"] if op["has_bias"] else 0
    return _costs(f, f * op["x_grad"], f * op["w_grad"], bias, bias * op["w_grad"])


@register("matmul")
def matmul(op: dict) -> dict:
    f = 2.0 * op["gemm_b"] * op["gemm_m"] * op["gemm_k"] * op["gemm_n"]
    return _costs(f, f * (op["x_grad"] + op["w_grad"]))


@register("conv")
def conv(op: dict) -> dict:
    f = 2.0 * op["gemm_b"] * op["gemm_m"] * op["gemm_k"] * op["gemm_n"]
    bias = op["gemm_m"] * op["gemm_n"] if op["has_bias"] else 0
    return _costs(f, f * op["x_grad"], f * op["w_grad"], bias, bias * op["w_grad"])


def _vector(op: dict) -> dict:
    per = VECTOR_FLOPS_PER_ELEMENT.get(op["op"], 1.0)
    numel = op["in_numel"] if op["kind"] == "reduction" else op["out_numel"]
    v = per * numel
    return _costs(vector=v, bwd_vector=BACKWARD_VECTOR_FACTOR * v * op["x_grad"])


for _kind in ("elementwise", "reduction", "softmax", "norm"):
    REGISTRY[_kind] = _vector


@register("embedding")
def embedding(op: dict) -> dict:
    # a gather: no arithmetic forward; the backward scatter-adds one row per token
    return _costs(bwd_vector=op["out_numel"] * op["w_grad"])


@register("copy")
def copy(op: dict) -> dict:
    return _costs()


def costs_for(op: dict) -> dict | None:
    """The formula's costs for a recorded op, or None when its kind has no formula (listed as uncounted)."""
    fn = REGISTRY.get(op["kind"])
    return fn(op) if fn else None
