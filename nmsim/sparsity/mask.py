"""The torch N:M mask: keep the N largest-|w| entries in every group of M.

Vectorized: one ``topk`` (or ``amax`` for N = 1) over a grouped view finds the N-th largest magnitude per
group; entries strictly above it are kept and ties at it are broken toward the lower index with a cumulative
sum, so every group holds exactly N nonzeros and the result is deterministic. No full argsort per group.
"""
from __future__ import annotations

import torch

from nmsim.errors import UserError


def _grouped(weight: torch.Tensor, m: int, direction: str) -> torch.Tensor:
    if weight.dim() < 2:
        raise UserError(f"N:M masks need a 2-D (or conv) weight, got shape {tuple(weight.shape)}")
    w = weight.reshape(weight.shape[0], -1)  # conv [out, in, kh, kw] -> [out, in*kh*kw]
    if direction == "col":
        w = w.t()
    elif direction != "row":
        raise UserError(f"unknown mask direction {direction!r} (row or col)")
    if w.shape[1] % m:
        raise UserError(f"M={m} does not divide the grouped dimension {w.shape[1]} of weight {tuple(weight.shape)}")
    return w.reshape(w.shape[0], w.shape[1] // m, m)


def nm_mask(weight: torch.Tensor, n: int, m: int, direction: str = "row") -> torch.Tensor:
    """Boolean mask of ``weight``'s shape with exactly ``n`` True per group of ``m``.

    ``direction="row"`` groups along the reduction (input) dimension of ``W[out, in]`` (conv: along
    ``in*kh*kw``); ``"col"`` groups along the output dimension.
    """
    if not 1 <= n <= m:
        raise UserError(f"invalid N:M {n}:{m}")
    groups = _grouped(weight.detach(), m, direction)
    if n == m:
        keep = torch.ones_like(groups, dtype=torch.bool)
    else:
        mag = groups.abs()
        if n == 1:
            kth = mag.amax(dim=-1, keepdim=True)
        else:
            kth = mag.topk(n, dim=-1, sorted=True).values[..., -1:]
        above = mag > kth
        tied = mag == kth
        room = n - above.sum(dim=-1, keepdim=True)
        keep = above | (tied & (tied.cumsum(dim=-1) <= room))
    keep = keep.reshape(groups.shape[0], -1)
    if direction == "col":
        keep = keep.t()
    return keep.reshape(weight.shape)


def nm_mask_argsort(weight: torch.Tensor, n: int, m: int, direction: str = "row") -> torch.Tensor:
    """Reference method of the public code: a full (stable) argsort per group. Used by tests and benchmarks."""
    groups = _grouped(weight.detach(), m, direction)
    order = torch.argsort(-groups.abs(), dim=-1, stable=True)
    keep = torch.zeros_like(groups, dtype=torch.bool)
    keep.scatter_(-1, order[..., :n], True)
    keep = keep.reshape(groups.shape[0], -1)
    if direction == "col":
        keep = keep.t()
    return keep.reshape(weight.shape)
