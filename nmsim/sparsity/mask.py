"""The torch N:M mask: keep the N largest-|w| entries in every group of M (ties go to the lower index).

Every group holds exactly N kept entries and the result is deterministic. No full argsort per group:

* M <= 8: ranks by pairwise comparison of the group's columns (M·(M−1)/2 vectorized compares);
  ``compiled=True`` fuses them into one kernel through ``torch.compile`` (a one-off compile of seconds on
  CPU; worth it for long runs and large layers, see ``make bench``).
* N = 1 (M > 8): one ``argmax`` (first maximum wins) and a scatter.
* otherwise: the N-th largest magnitude from ``topk`` as a threshold; the rare groups with ties at the
  threshold are resolved with a cumulative sum toward the lower index.
"""
from __future__ import annotations

import functools

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


def _ungroup(keep: torch.Tensor, weight: torch.Tensor, direction: str) -> torch.Tensor:
    keep = keep.reshape(keep.shape[0], -1)
    if direction == "col":
        keep = keep.t()
    return keep.reshape(weight.shape)


def _keep_pairwise(mag: torch.Tensor, n: int) -> torch.Tensor:
    """[G, M] magnitudes -> [G, M] keep; rank_i = how many members beat i (the lower index wins ties)."""
    m = mag.shape[1]
    cols = mag.t().contiguous()
    rank = torch.arange(m - 1, -1, -1, dtype=torch.int16, device=mag.device)
    rank = rank.unsqueeze(1).expand(m, mag.shape[0]).contiguous()  # i loses to every later j ...
    for i in range(m):
        for j in range(i + 1, m):
            i_wins = torch.ge(cols[i], cols[j])
            rank[j].add_(i_wins)
            rank[i].add_(i_wins, alpha=-1)                          # ... unless it wins
    return (rank < n).t()


def _keep_threshold(mag: torch.Tensor, n: int) -> torch.Tensor:
    kth = mag.topk(n, dim=-1, sorted=True).values[:, -1:]
    above = mag > kth
    keep = above | (mag == kth)
    ambiguous = (keep.sum(-1) != n).nonzero(as_tuple=True)[0]
    if len(ambiguous):  # ties at the threshold: keep the lower indices
        a, t = above[ambiguous], mag[ambiguous] == kth[ambiguous]
        keep[ambiguous] = a | (t & (t.cumsum(-1) <= n - a.sum(-1, keepdim=True)))
    return keep


def _rank_fused(mag: torch.Tensor, n: int, m: int) -> torch.Tensor:
    kept = []
    for i in range(m):
        beaten = torch.zeros_like(mag[:, 0], dtype=torch.int32)
        for j in range(m):
            if j != i:
                beaten = beaten + ((mag[:, j] >= mag[:, i]) if j < i else (mag[:, j] > mag[:, i])).int()
        kept.append(beaten < n)
    return torch.stack(kept, dim=1)


@functools.lru_cache(maxsize=None)
def _compiled_rank():
    return torch.compile(_rank_fused, dynamic=True)


def nm_mask(weight: torch.Tensor, n: int, m: int, direction: str = "row", compiled: bool = False) -> torch.Tensor:
    """Boolean mask of ``weight``'s shape with exactly ``n`` True per group of ``m``.

    ``direction="row"`` groups along the reduction (input) dimension of ``W[out, in]`` (conv: along
    ``in*kh*kw``); ``"col"`` groups along the output dimension.
    """
    if not 1 <= n <= m:
        raise UserError(f"invalid N:M {n}:{m}")
    groups = _grouped(weight.detach(), m, direction)
    mag = groups.reshape(-1, m).abs()
    if n == m:
        keep = torch.ones_like(mag, dtype=torch.bool)
    elif m <= 8:
        keep = _compiled_rank()(mag, n, m) if compiled else _keep_pairwise(mag, n)
    elif n == 1:
        keep = torch.zeros_like(mag, dtype=torch.bool).scatter_(-1, mag.argmax(-1, keepdim=True), True)
    else:
        keep = _keep_threshold(mag, n)
    return _ungroup(keep.reshape(groups.shape), weight, direction)


def nm_mask_argsort(weight: torch.Tensor, n: int, m: int, direction: str = "row") -> torch.Tensor:
    """Reference: a full (stable) argsort per group, as the public code sorts. Used by tests and benchmarks."""
    groups = _grouped(weight.detach(), m, direction)
    order = torch.argsort(-groups.abs(), dim=-1, stable=True)
    keep = torch.zeros_like(groups, dtype=torch.bool)
    keep.scatter_(-1, order[..., :n], True)
    return _ungroup(keep, weight, direction)
