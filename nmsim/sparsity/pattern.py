"""N:M patterns: parsing, density, and whether a fine pattern runs on a hardware pattern.

An N:M pattern keeps at most N nonzeros in every group of M consecutive weights along the grouping
dimension (the reduction dimension for the default "row" direction). Dense is written ``dense`` and is
represented by ``None`` wherever a pattern is optional.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from nmsim.errors import UserError

MAX_M = 4096   # a sanity limit: published N:M work stops at M = 128

_NM_RE = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


class Kept:
    """What a pattern keeps, from its ``n`` and ``m`` (one rank's, or a hierarchy's products)."""
    n: int
    m: int

    @property
    def density(self) -> float:
        return self.n / self.m

    @property
    def is_dense(self) -> bool:
        return self.n == self.m


@dataclass(frozen=True, order=True)
class NMPattern(Kept):
    n: int
    m: int
    transposable: bool = False  # the mask is also N:M along the other dimension (dgrad can use it)

    def __post_init__(self):
        if self.m < 1 or self.n < 1:
            raise UserError(f"N and M must be positive, got {self.n}:{self.m}")
        if self.n > self.m:
            raise UserError(f"N > M in {self.n}:{self.m}")

    @classmethod
    def parse(cls, text: str, where: str | None = None) -> "NMPattern | None":
        """Parse ``"1:16"`` (optionally ``"1:16T"`` for a transposable mask); ``"dense"`` gives ``None``."""
        raw = str(text).strip()
        if raw.lower() in ("dense", "none", ""):
            return None
        transposable = raw.upper().endswith("T")
        match = _NM_RE.match(raw[:-1] if transposable else raw)
        if not match:
            raise UserError(f"not an N:M pattern: {text!r} (expected e.g. 1:16 or dense)", where)
        n, m = int(match.group(1)), int(match.group(2))
        if m > MAX_M:
            raise UserError(f"M must be at most {MAX_M:,} in pattern {str(text)[:40]!r}", where)
        if n > m:
            raise UserError(f"N > M in pattern {text!r}", where)
        if n < 1:
            raise UserError(f"N must be at least 1 in pattern {text!r}", where)
        return cls(n, m, transposable)

    def __str__(self) -> str:
        return f"{self.n}:{self.m}" + ("T" if self.transposable else "")

    def worst_case_per_block(self, q: int) -> int:
        """Most nonzeros any aligned block of ``q`` consecutive positions can hold under this pattern."""
        period = math.lcm(self.m, q)
        worst = 0
        for start in range(0, period, q):
            stop = start + q
            total = 0
            for g in range(start // self.m, (stop - 1) // self.m + 1):
                overlap = min(stop, (g + 1) * self.m) - max(start, g * self.m)
                total += min(self.n, overlap)
            worst = max(worst, total)
        return worst

    def fits(self, hw: "NMPattern") -> bool:
        """True when every aligned ``hw.m``-block holds at most ``hw.n`` nonzeros in the worst case.

        1:8 and 2:8 fit 2:4; 1:2 fits 2:4; 4:8 and 8:64 do not. A hierarchical hardware pattern
        (``nmsim.sparsity.hierarchical``) checks every one of its ranks.
        """
        if not isinstance(hw, NMPattern):
            return hw.accepts(self)
        return self.worst_case_per_block(hw.m) <= hw.n
