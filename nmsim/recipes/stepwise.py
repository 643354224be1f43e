"""Binary masks that change interval by interval: the machinery of SDGF (structure decay) and custom schedules.

Bambhaniya et al. 2024, SDGF-stepwise and SDGF-geometric (``catalog/sdgf_*.py``). The sparse part is split into equal intervals, interval
``i`` of ``n`` starting at ``floor(i * L / n)`` (in steps, or in epochs with ``steps_per_epoch``); each selector
has its own sequence, so selectors with different lengths switch at different steps (phases = union).

* stepwise, target N:M: (M-1):M, then M/2:M, M/4:M, ... down to N:M. Reachable targets: N < M and N is M halved
  a whole number of times (M/N a power of two), e.g. 1:16, 2:4, 3:6; not 3:8 or 1:6. Repeats are dropped
  (1:2 -> just 1:2; 2:4 -> 3:4, 2:4).
* geometric, factor k (a power of two >= 2): k*N:k*M, ..., 2N:2M, N:M, i.e. log2(k)+1 intervals. Paper:
  k = 16 (five intervals; 1:8 -> 16:128, 8:64, 4:32, 2:16, 1:8, the default); public code: k = 8 (four).
* custom: ``boundaries = [(position, {selector: pattern}), ...]``; a float position in [0, 1) is a fraction of
  the sparse part, an int is an offset in steps (epochs with ``steps_per_epoch``) from its start. Each entry
  changes the selectors it names; before the first entry a selector has no mask. The fine-tune mask
  of a selector not in ``targets`` is the last pattern given for it.
All use STE with a binary mask recomputed every step; the fine-tune part uses the targets.
"""
from __future__ import annotations

import math

from nmsim.errors import UserError
from nmsim.recipes.base import Recipe
from nmsim.sparsity.pattern import NMPattern


def stepwise_sequence(target: NMPattern) -> list[NMPattern]:
    """(M-1):M, M/2:M, M/4:M, ..., N:M; UserError when halving M never gives N."""
    n, m = target.n, target.m
    ratio = m // n
    if n >= m or m % n or ratio & (ratio - 1):
        raise UserError(f"stepwise cannot reach {target}: M/N must be a power of two >= 2 "
                        "(M is halved until it reaches N)", "--sparsity")
    seq, keep = [m - 1], m // 2
    while keep >= n:
        seq.append(keep)
        keep //= 2
    seq = sorted(set(seq), reverse=True)
    return [NMPattern(k, m, target.transposable) for k in seq]


def geometric_sequence(target: NMPattern, k: int) -> list[NMPattern]:
    """k*N:k*M, ..., 2N:2M, N:M for a power-of-two k >= 2."""
    steps = int(math.log2(k))
    return [NMPattern(target.n << s, target.m << s, target.transposable) for s in range(steps, -1, -1)]


class IntervalRecipe(Recipe):
    """Binary masks that change at interval starts; subclasses give ``schedule(total_steps)``."""

    def schedule(self, total_steps: int) -> dict[str, list[tuple[int, NMPattern | None]]]:
        """selector -> [(start_step, pattern), ...] within the sparse part, sorted by step."""
        out = {}
        for key, target in self.targets.items():
            seq = self._sequence(target) if target is not None else [None]
            out[key] = list(zip(self.interval_starts(len(seq), total_steps), seq))
        return out

    def _sequence(self, target: NMPattern) -> list[NMPattern]:
        raise NotImplementedError

    def _sparse_state(self, step, span, total_steps):
        current = {}
        for key, entries in self.schedule(total_steps).items():
            current[key] = None
            for start, pattern in entries:
                if start <= step:
                    current[key] = pattern
        return self._binary_state("sparse", current)

    def _change_points(self, span, total_steps):
        return [s for entries in self.schedule(total_steps).values() for s, _ in entries]
