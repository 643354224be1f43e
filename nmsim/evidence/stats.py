"""Paired statistics over seeds: mean, std and Student-t confidence intervals of paired differences.

Runs of two recipes with the same seed share the initial weights and the data order, so the per-seed
difference removes most seed-to-seed noise; the interval is ``mean(d) ± t(1 - alpha/2, n - 1) · sd(d) / √n``.
A metric carries its direction (``higher`` or ``lower`` is better) so that "better" is never guessed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nmsim.errors import UserError

# name -> (direction, unit shown to people); loss is cross-entropy in nats per target
METRICS = {"accuracy": ("higher", "fraction"), "loss": ("lower", "nats")}


def direction(metric: str) -> str:
    """``higher`` or ``lower``: which way the metric improves."""
    if metric not in METRICS:
        raise UserError(f"unknown metric {metric!r} (one of {', '.join(METRICS)})", "--metric")
    return METRICS[metric][0]


def better_sign(metric: str) -> int:
    """+1 when larger values are better, -1 when smaller are."""
    return 1 if direction(metric) == "higher" else -1


def t_quantile(p: float, dof: int) -> float:
    """Quantile ``p`` of Student's t with ``dof`` degrees of freedom (scipy)."""
    from scipy.stats import t

    return float(t.ppf(p, dof))


@dataclass(frozen=True)
class Interval:
    n: int
    mean: float
    sd: float
    low: float
    high: float
    level: float

    @property
    def excludes_zero(self) -> bool:
        return self.n >= 2 and (self.low > 0 or self.high < 0)


def mean_ci(values, level: float = 0.95) -> Interval:
    """Mean of ``values`` with its two-sided t interval (NaN bounds for fewer than 2 finite values)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(x)
    if n == 0:
        return Interval(0, math.nan, math.nan, math.nan, math.nan, level)
    mean = float(x.mean())
    if n < 2:
        return Interval(1, mean, math.nan, math.nan, math.nan, level)
    sd = float(x.std(ddof=1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return Interval(n, mean, sd, mean - half, mean + half, level)


def paired(a: dict, b: dict, level: float = 0.95) -> Interval:
    """Interval of ``a[seed] - b[seed]`` over the seeds both hold (paired by seed)."""
    seeds = sorted(set(a) & set(b))
    return mean_ci([a[s] - b[s] for s in seeds], level)


def verdict(iv: Interval, metric: str) -> str:
    """``better`` / ``worse`` (than the reference) where the interval of (recipe - reference) excludes zero,
    else ``not separated``."""
    if not iv.excludes_zero:
        return "not separated"
    return "better" if iv.mean * better_sign(metric) > 0 else "worse"


def pooled_sd(*groups) -> float:
    """Pooled seed-to-seed standard deviation of several groups of values (ddof 1 within each)."""
    num, dof = 0.0, 0
    for g in groups:
        x = np.asarray(list(g), dtype=float)
        if len(x) >= 2:
            num += float(((x - x.mean()) ** 2).sum())
            dof += len(x) - 1
    return math.sqrt(num / dof) if dof else math.nan
