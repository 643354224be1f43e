"""SDGF: structure decay with binary masks that get sparser interval by interval, and custom schedules.

Bambhaniya et al. 2024, SDGF-stepwise and SDGF-geometric. The sparse part is split into equal intervals, interval
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
from nmsim.recipes.base import Recipe, check_targets
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


class SDGFStepwise(IntervalRecipe):
    name = "sdgf-stepwise"
    style = ("tab:blue", "^")

    def __init__(self, targets, dense_frac=0.0, finetune_frac=0.0, steps_per_epoch=None, **params):
        super().__init__(targets, dense_frac, finetune_frac, steps_per_epoch, **params)
        for target in self.targets.values():
            if target is not None:
                stepwise_sequence(target)

    def _sequence(self, target):
        return stepwise_sequence(target)


class SDGFGeometric(IntervalRecipe):
    name = "sdgf-geometric"
    style = ("tab:purple", "v")
    param_names = ("k", "intervals")

    def __init__(self, targets, dense_frac=0.0, finetune_frac=0.0, steps_per_epoch=None, **params):
        super().__init__(targets, dense_frac, finetune_frac, steps_per_epoch, **params)
        k, intervals = self.params.get("k"), self.params.get("intervals")
        if intervals is not None:
            if isinstance(intervals, bool) or not isinstance(intervals, int) or intervals < 2:
                raise UserError(f"intervals must be an integer >= 2, got {intervals!r}", "--intervals")
            if k is None:
                k = 2 ** (intervals - 1)
        k = 16 if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or k < 2 or k & (k - 1):
            raise UserError(f"k must be a power of two >= 2 (paper 16, public code 8), got {k!r}", "--k")
        if intervals is not None and intervals != int(math.log2(k)) + 1:
            raise UserError(f"k={k} gives log2(k)+1 = {int(math.log2(k)) + 1} intervals, not {intervals}",
                            "--intervals")
        self.params = {"k": k, "intervals": int(math.log2(k)) + 1}

    def _sequence(self, target):
        return geometric_sequence(target, self.params["k"])


class CustomRecipe(IntervalRecipe):
    name = "custom"
    param_names = ("boundaries",)
    needs_targets = False

    def __init__(self, targets, dense_frac=0.0, finetune_frac=0.0, steps_per_epoch=None, **params):
        super().__init__(targets, dense_frac, finetune_frac, steps_per_epoch, **params)
        raw = self.params.get("boundaries")
        if not raw:
            raise UserError("custom recipe needs boundaries: [(position, {selector: pattern}), ...]", "--boundaries")
        entries = []
        for i, item in enumerate(raw):
            try:
                pos, patterns = item
                patterns = dict(patterns)
            except (TypeError, ValueError):
                raise UserError(f"entry {i}: expected (position, {{selector: pattern}})", "--boundaries") from None
            ok_float = isinstance(pos, float) and 0 <= pos < 1
            ok_int = isinstance(pos, int) and not isinstance(pos, bool) and pos >= 0
            if not (ok_float or ok_int):
                raise UserError(f"entry {i}: position must be a fraction in [0, 1) or a step >= 0, got {pos!r}",
                                "--boundaries")
            entries.append((pos, check_targets(patterns, None, "--boundaries")))
        explicit = dict(self.targets)
        for _, patterns in entries:  # a selector's final (fine-tune) mask defaults to its last pattern
            self.targets.update({k: v for k, v in patterns.items() if k not in explicit})
        self.params = {"boundaries": entries}

    def _param_text(self) -> str:
        return ", boundaries=" + "; ".join(
            f"{pos}:" + ",".join(f"{k}={v or 'dense'}" for k, v in pats.items())
            for pos, pats in self.params["boundaries"])

    def schedule(self, total_steps):
        unit = self._unit(total_steps)
        start, stop = self.span(total_steps)
        units = (stop - start) // unit
        resolved = sorted(
            ((start + (math.floor(pos * units) if isinstance(pos, float) else pos) * unit, pats)
             for pos, pats in self.params["boundaries"]),
            key=lambda e: e[0],
        )
        for i, (pos, _) in enumerate(self.params["boundaries"]):
            step = start + (math.floor(pos * units) if isinstance(pos, float) else pos) * unit
            if step >= stop:
                what = "step" if unit == 1 else "epoch"
                raise UserError(f"entry {i}: position {pos} ({what} {step // unit}) is past the end of the sparse part "
                                f"({what}s {start // unit} to {stop // unit}); nothing would use it", "--boundaries")
        out = {key: [] for key in self.targets}
        for step, pats in resolved:
            for key, pattern in pats.items():
                out[key].append((step, pattern))
        return out
