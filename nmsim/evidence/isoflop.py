"""Iso-FLOP analysis of training curves: a metric against cumulative training FLOPs.

Input: the tidy evaluation rows of :func:`nmsim.curves.runs.load_curves` (one row per run and evaluation, with
``train_flops`` priced by the trainer's cost hook). Every function works per seed and pairs seeds across
recipes; the dense recipe (pattern ``dense``) is the reference of every sparse pattern.

* :func:`reach_flops`: the FLOPs at which a curve first reaches a target (linear between evaluations).
* :func:`value_at`: the metric a curve has at given FLOPs (linear between evaluations, NaN outside them).
* :func:`target_of`: "a fraction q of a reference" for either direction: ``q·ref`` when higher is better,
  ``ref / q`` when lower is better (q = 0.99 asks for a loss at most 1/0.99 of the reference).

Only evaluations where the model is what the recipe delivers count: with a column ``at_target`` (see
:func:`nmsim.evidence.summary.finished_curves`), a sparse run reaches a quality or has a value at some FLOPs
only once its target pattern is in force and MDGF's decay is spent (an SDGF run at 4:16 on its way to 1:16,
or an MDGF run with D > 0, is not yet a 1:16 model).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nmsim.evidence.stats import better_sign, mean_ci, paired

DENSE = "dense"


def target_of(reference: float, fraction: float, metric: str) -> float:
    return reference * fraction if better_sign(metric) > 0 else reference / fraction


def _reached(value: float, target: float, metric: str) -> bool:
    return value >= target if better_sign(metric) > 0 else value <= target


def reach_flops(flops, values, target: float, metric: str, ok=None) -> float:
    """First FLOPs at which the curve reaches ``target``; NaN when it never does.

    ``ok`` (booleans, default all True) marks the evaluations that count. Between two counted evaluations the
    curve is taken as linear in FLOPs; when the first counted evaluation already reaches the target its FLOPs
    are returned (an upper bound: nothing earlier was measured)."""
    f = np.asarray(flops, dtype=float)
    v = np.asarray(values, dtype=float)
    ok = np.ones(len(v), bool) if ok is None else np.asarray(ok, bool)
    for i in range(len(v)):
        if ok[i] and _reached(v[i], target, metric):
            if i == 0 or not ok[i - 1] or v[i] == v[i - 1]:
                return float(f[i])
            frac = (target - v[i - 1]) / (v[i] - v[i - 1])
            return float(f[i - 1] + min(max(frac, 0.0), 1.0) * (f[i] - f[i - 1]))
    return math.nan


def value_at(flops, values, at: float, ok=None) -> float:
    """The curve's value at FLOPs ``at`` (linear between evaluations); NaN before the first or after the last
    (counted, see ``ok`` in :func:`reach_flops`) evaluation."""
    f = np.asarray(flops, dtype=float)
    v = np.asarray(values, dtype=float)
    if ok is not None:
        ok = np.asarray(ok, bool)
        f, v = f[ok], v[ok]
    if not len(f) or at < f[0] - 1e-9 * abs(f[0]) or at > f[-1] + 1e-9 * abs(f[-1]):
        return math.nan
    return float(np.interp(at, f, v))


def _ok(g: pd.DataFrame):
    return g["at_target"].to_numpy(bool) if "at_target" in g else None


def _first_counted(g: pd.DataFrame) -> float:
    """FLOPs of the run's first counted evaluation (NaN when none counts)."""
    ok = _ok(g)
    f = g["train_flops"].to_numpy(float)
    f = f if ok is None else f[ok]
    return float(f[0]) if len(f) else math.nan


def _schedule_seeds(by_seed: dict, flops: dict) -> int:
    """Seeds whose target is met at their first counted evaluation: their FLOPs are where the schedule puts the
    target pattern in force (or MDGF's decay below its threshold), not a training result."""
    return sum(1 for s, f in flops.items() if math.isfinite(f) and f == _first_counted(by_seed[s]))


def _runs(curves: pd.DataFrame) -> dict:
    """(recipe, pattern) -> seed -> run frame (sorted by step)."""
    out: dict = {}
    for (recipe, pattern, seed), g in curves.groupby(["recipe", "pattern", "seed"], sort=False):
        out.setdefault((recipe, pattern), {})[int(seed)] = g.sort_values("step")
    return out


def groups(curves: pd.DataFrame) -> list[tuple[str, str]]:
    """Sparse (recipe, pattern) pairs in the order they appear (dense excluded)."""
    return [k for k in _runs(curves) if k[0] != DENSE]


def finals(curves: pd.DataFrame, metric: str) -> dict:
    """(recipe, pattern) -> {seed: final metric}."""
    return {k: {s: float(g[metric].iloc[-1]) for s, g in runs.items()} for k, runs in _runs(curves).items()}


def reach_table(curves: pd.DataFrame, metric: str, fractions=(1.0, 0.99), level: float = 0.95) -> pd.DataFrame:
    """FLOPs each recipe needs to reach ``fraction`` of the dense final metric (same seed), relative to the
    dense run's total FLOPs. ``saving_pct``: 100·(1 - relative FLOPs), interval only when every seed reached."""
    runs = _runs(curves)
    dense = runs.get((DENSE, DENSE), {})
    rows = []
    for (recipe, pattern), by_seed in runs.items():
        for q in fractions:
            rel, flops = {}, {}
            for seed, g in by_seed.items():
                if seed not in dense:
                    continue
                d = dense[seed]
                target = target_of(float(d[metric].iloc[-1]), q, metric)
                flops[seed] = reach_flops(g["train_flops"], g[metric], target, metric, _ok(g))
                rel[seed] = flops[seed] / float(d["train_flops"].iloc[-1])
            rows.append({"recipe": recipe, "pattern": pattern, "metric": metric, "fraction": q,
                         **_savings(rel, flops, by_seed, level, "flops_rel_dense_mean")})
    return pd.DataFrame(rows)


def _savings(rel: dict, flops: dict, by_seed: dict, level: float, mean_column: str) -> dict:
    """A row's seed counts and FLOP saving from each seed's relative FLOPs (``rel``, NaN: never reached) and
    FLOPs (``flops``): the mean relative FLOPs (``mean_column``) and the saving's interval, only when every seed
    reached."""
    reached = {s: v for s, v in rel.items() if math.isfinite(v)}
    iv = mean_ci([100 * (1 - v) for v in reached.values()], level) if rel and len(reached) == len(rel) else None
    return {"seeds": len(rel), "seeds_reached": len(reached), "seeds_at_schedule": _schedule_seeds(by_seed, flops),
            "saving_pct_sd": iv.sd if iv else math.nan,
            mean_column: float(np.mean(list(reached.values()))) if reached else math.nan,
            "saving_pct_mean": iv.mean if iv else math.nan,
            "saving_pct_low": iv.low if iv else math.nan, "saving_pct_high": iv.high if iv else math.nan}


def reach_reference_table(curves: pd.DataFrame, metric: str, reference: str = "sr-ste",
                          level: float = 0.95) -> pd.DataFrame:
    """FLOPs each recipe needs to reach the ``reference`` recipe's final metric (same pattern and seed),
    relative to the reference run's total FLOPs; ``saving_pct`` as in :func:`reach_table`."""
    runs = _runs(curves)
    rows = []
    for (recipe, pattern), by_seed in runs.items():
        ref = runs.get((reference, pattern))
        if recipe in (reference, DENSE) or not ref:
            continue
        rel, flops = {}, {}
        for seed, g in by_seed.items():
            if seed in ref:
                r = ref[seed]
                flops[seed] = reach_flops(g["train_flops"], g[metric], float(r[metric].iloc[-1]), metric, _ok(g))
                rel[seed] = flops[seed] / float(r["train_flops"].iloc[-1])
        rows.append({"recipe": recipe, "pattern": pattern, "reference": reference, "metric": metric,
                     **_savings(rel, flops, by_seed, level, "flops_rel_reference_mean")})
    return pd.DataFrame(rows)


def equal_flops_table(curves: pd.DataFrame, metric: str, level: float = 0.95) -> pd.DataFrame:
    """Each sparse run's final metric against the dense run of the same seed at the same cumulative FLOPs
    (dense curve interpolated there): ``delta`` = recipe - dense (so positive is better for accuracy, negative
    for loss), with its t interval over seeds. The dense point is mid-schedule (its learning rate has not
    decayed yet), which favours the sparse run; the table says so in ``dense_point``."""
    runs = _runs(curves)
    dense = runs.get((DENSE, DENSE), {})
    rows = []
    for (recipe, pattern), by_seed in runs.items():
        if recipe == DENSE:
            continue
        mine, ref, rel = {}, {}, []
        for seed, g in by_seed.items():
            if seed not in dense:
                continue
            f_end = float(g["train_flops"].iloc[-1])
            d = dense[seed]
            at = value_at(d["train_flops"], d[metric], f_end)
            if math.isfinite(at):
                mine[seed], ref[seed] = float(g[metric].iloc[-1]), at
                rel.append(f_end / float(d["train_flops"].iloc[-1]))
        iv = paired(mine, ref, level)
        rows.append({"recipe": recipe, "pattern": pattern, "metric": metric, "seeds": iv.n,
                     "flops_rel_dense": float(np.mean(rel)) if rel else math.nan,
                     "recipe_final_mean": float(np.mean(list(mine.values()))) if mine else math.nan,
                     "dense_at_equal_flops_mean": float(np.mean(list(ref.values()))) if ref else math.nan,
                     "delta_mean": iv.mean, "delta_sd": iv.sd, "delta_low": iv.low, "delta_high": iv.high,
                     "dense_point": "mid-run dense curve"})
    return pd.DataFrame(rows)


def common_flops_table(curves: pd.DataFrame, metric: str, reference: str = "sr-ste",
                       level: float = 0.95) -> pd.DataFrame:
    """Every recipe's metric at one FLOP count per pattern (the smallest final FLOPs among that pattern's
    recipes), paired against ``reference`` at the same FLOPs."""
    runs = _runs(curves)
    rows = []
    patterns = list(dict.fromkeys(p for (r, p) in runs if r != DENSE))
    for pattern in patterns:
        members = {k: v for k, v in runs.items() if k[1] == pattern or k[0] == DENSE}
        budget = min(float(g["train_flops"].iloc[-1]) for v in members.values() for g in v.values())
        at = {k: {s: value_at(g["train_flops"], g[metric], budget, _ok(g)) for s, g in v.items()}
              for k, v in members.items()}
        ref = at.get((reference, pattern), {})
        for (recipe, _), vals in at.items():
            iv_self = mean_ci(vals.values(), level)
            iv = paired(vals, ref, level) if recipe != reference and ref else None
            rows.append({"pattern": pattern, "recipe": recipe, "metric": metric, "flops": budget,
                         "seeds": iv_self.n, "mean": iv_self.mean, "std": iv_self.sd,
                         f"delta_vs_{reference}": iv.mean if iv else math.nan, "delta_sd": iv.sd if iv else math.nan,
                         "delta_seeds": iv.n if iv else 0,
                         "delta_low": iv.low if iv else math.nan, "delta_high": iv.high if iv else math.nan})
    return pd.DataFrame(rows)
