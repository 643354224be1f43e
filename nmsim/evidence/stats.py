"""Paired statistics over seeds: mean, std and Student-t confidence intervals of paired differences.

Runs of two recipes with the same seed share the initial weights and the data order, so the per-seed
difference removes most seed-to-seed noise; the interval is ``mean(d) ± t(1 - alpha/2, n - 1) · sd(d) / √n``.
A metric carries its direction (``higher`` or ``lower`` is better) so that "better" is never guessed.

Multiplicity. A protocol makes many comparisons per metric (every recipe x pattern against the reference, the
claims per recipe x pattern). Verdicts use Holm-adjusted p-values (Holm 1979, step-down Bonferroni: controls the
family-wise error rate at ``1 - level`` with no assumption on how the tests depend on each other); the intervals
shown next to them are the unadjusted per-comparison t intervals.
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


def p_value(iv: Interval, null: float = 0.0) -> float:
    """Two-sided one-sample t-test p-value of ``mean == null`` for the values behind ``iv`` (NaN for fewer than
    2 values; 0 or 1 when every value is equal, for a mean off / on the null)."""
    from scipy.stats import t

    if iv.n < 2 or not math.isfinite(iv.sd):
        return math.nan
    if iv.sd == 0:
        return 1.0 if iv.mean == null else 0.0
    return float(2 * t.sf(abs(iv.mean - null) / (iv.sd / math.sqrt(iv.n)), iv.n - 1))


def holm(pvalues) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (NaN entries stay NaN and are not counted)."""
    p = [float(v) for v in pvalues]
    idx = sorted((i for i, v in enumerate(p) if math.isfinite(v)), key=lambda i: p[i])
    m, out, running = len(idx), [math.nan] * len(p), 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def seeds_needed(mean: float, sd: float, level: float = 0.95, comparisons: int = 1, most: int = 10_000) -> float:
    """Seeds (paired) for a two-sided t-test of ``mean == 0`` to reach significance if the observed ``mean`` and
    ``sd`` of the paired differences held: the smallest n with t(1 - alpha / (2·comparisons), n - 1)·sd/√n <
    |mean|, alpha = 1 - level. ``comparisons`` > 1 applies Bonferroni over the family, the strictest step of Holm
    (an upper bound on what Holm needs). Infinite for a zero mean or beyond ``most``; NaN without a spread."""
    from scipy.stats import t

    if not (math.isfinite(mean) and math.isfinite(sd)) or sd < 0:
        return math.nan
    if mean == 0:
        return math.inf
    n = np.arange(2, most + 1)
    ok = t.ppf(1 - (1 - level) / (2 * max(1, comparisons)), n - 1) * sd / np.sqrt(n) < abs(mean)
    return float(n[ok.argmax()]) if ok.any() else math.inf


def verdict(iv: Interval, metric: str, p_adjusted: float | None = None, level: float | None = None) -> str:
    """``better`` / ``worse`` (than the reference) where the comparison is significant, else ``not separated``:
    with ``p_adjusted`` (Holm) significant means ``p_adjusted < 1 - level``, without it the interval of
    (recipe - reference) excludes zero."""
    significant = iv.excludes_zero if p_adjusted is None else (
        math.isfinite(p_adjusted) and p_adjusted < 1 - (iv.level if level is None else level))
    if not significant:
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
