"""Hierarchical N:M patterns (HighLight-style): one N:M per rank, each rank acting on blocks of the previous.

Syntax: ranks joined by ``/``, innermost (element) rank first, optional ``T`` (transposable) at the end::

    2:4/2:4    rank 0: at most 2 nonzeros in every 4 elements;
               rank 1: at most 2 non-empty 4-element blocks in every 4 blocks  -> 4 nonzeros / 16, density 1/4
    1:2/3:4    density 3/8 over spans of 8

A hierarchical pattern behaves like a flat pattern with ``n = prod(N_r)`` and ``m = prod(M_r)`` for density,
divisibility and metadata; fitting uses the real per-rank structure (source: Wu et al., "HighLight: Efficient
and Flexible DNN Acceleration with Hierarchical Structured Sparsity", MICRO 2023).

Fitting rule. A pattern (flat or hierarchical) fits a hardware hierarchical pattern when, for every hardware
rank r, any aligned block of ``S_r = M_0·…·M_r`` positions holds at most ``N_r`` non-empty sub-blocks of
``S_(r-1)`` positions (``S_(-1) = 1``: sub-blocks are single elements, i.e. nonzeros). The worst case is exact
when block sizes nest (one divides the other — always true for powers of two) and for element counts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from nmsim.errors import UserError
from nmsim.sparsity.pattern import Kept, NMPattern


def _ranks_of(pattern) -> tuple[tuple[int, int], ...]:
    if isinstance(pattern, HierarchicalPattern):
        return tuple((r.n, r.m) for r in pattern.ranks)
    return ((pattern.n, pattern.m),)


@lru_cache(maxsize=4096)
def worst_case_occupancy(ranks: tuple[tuple[int, int], ...], q: int, sub: int = 1) -> int:
    """Most non-empty aligned ``sub``-blocks any aligned ``q``-block holds under ``ranks`` (inner rank first).

    ``sub = 1`` counts nonzeros (exact for any sizes); larger ``sub`` assumes nested block sizes.
    """
    sizes = [1]
    for _, m in ranks:
        sizes.append(sizes[-1] * m)
    top = len(ranks)

    def count_subblocks(a: int, b: int) -> int:
        return (b - 1) // sub - a // sub + 1 if a < b else 0

    def f(level: int, start: int, lo: int, hi: int) -> int:
        a, b = max(start, lo), min(start + sizes[level], hi)
        if a >= b:
            return 0
        if sizes[level] <= sub:
            return 1
        n, m = ranks[level - 1]
        child = sizes[level - 1]
        if child >= sub:
            vals = sorted((f(level - 1, start + i * child, lo, hi) for i in range(m)), reverse=True)
            return sum(vals[:n])
        return min(n, count_subblocks(a, b))

    span = sizes[top]
    worst = 0
    for lo in range(0, math.lcm(span, q), q):
        hi = lo + q
        if span <= sub:
            total = count_subblocks(lo, hi)
        else:
            total = sum(f(top, u * span, lo, hi) for u in range(lo // span, (hi - 1) // span + 1))
        worst = max(worst, total)
    return worst


@dataclass(frozen=True, order=True)
class HierarchicalPattern(Kept):
    ranks: tuple[NMPattern, ...]  # innermost (element) rank first
    transposable: bool = False

    def __post_init__(self):
        if len(self.ranks) < 2:
            raise UserError("a hierarchical pattern needs at least two ranks (use NMPattern for one)")

    @property
    def n(self) -> int:
        return math.prod(r.n for r in self.ranks)

    @property
    def m(self) -> int:
        return math.prod(r.m for r in self.ranks)

    def spans(self) -> list[int]:
        """``S_r`` for every rank: the number of positions one rank-r group covers."""
        out, s = [], 1
        for r in self.ranks:
            s *= r.m
            out.append(s)
        return out

    def __str__(self) -> str:
        return "/".join(f"{r.n}:{r.m}" for r in self.ranks) + ("T" if self.transposable else "")

    def worst_case_per_block(self, q: int) -> int:
        return worst_case_occupancy(_ranks_of(self), q, 1)

    def fits(self, hw) -> bool:
        if isinstance(hw, HierarchicalPattern):
            return hw.accepts(self)
        return self.worst_case_per_block(hw.m) <= hw.n

    def accepts(self, pattern) -> bool:
        """True when ``pattern`` (flat or hierarchical) satisfies every rank of this (hardware) pattern."""
        ranks = _ranks_of(pattern)
        sub = 1
        for rank, span in zip(self.ranks, self.spans()):
            if worst_case_occupancy(ranks, span, sub) > rank.n:
                return False
            sub = span
        return True


def parse_any(text: str, where: str | None = None) -> "NMPattern | HierarchicalPattern | None":
    """Parse ``dense``, ``N:M``, ``N:MT`` or a hierarchical ``N0:M0/N1:M1[...][T]``."""
    raw = str(text).strip()
    if "/" not in raw:
        return NMPattern.parse(raw, where)
    transposable = raw.upper().endswith("T")
    body = raw[:-1] if transposable else raw
    ranks = []
    for part in body.split("/"):
        rank = NMPattern.parse(part, where) if part.strip().lower() != "dense" else None
        if rank is None or part.strip().upper().endswith("T"):
            raise UserError(f"not a hierarchical N:M pattern: {text!r} (expected e.g. 2:4/2:4)", where)
        ranks.append(rank)
    return HierarchicalPattern(tuple(ranks), transposable)
