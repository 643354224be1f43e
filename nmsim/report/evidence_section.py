"""The report's iso-FLOP section for trainer runs (self-contained: :func:`add_section` is the only hook).

From the runs' curves: the metric against cumulative training FLOPs per recipe with seed bands, the FLOPs
each recipe needs to reach a fraction of the dense final metric, and each recipe against dense at equal
training FLOPs (:mod:`nmsim.evidence.isoflop`), per task x run length x setup (:data:`nmsim.curves.runs.BASELINE`):
runs without a dense run of their own group are left out. Placed next to the published-results iso-FLOP table.
"""
from __future__ import annotations

import pandas as pd

FRACTIONS = (1.0, 0.99)


def _per_group(curves: pd.DataFrame, table) -> pd.DataFrame:
    """``table(curves)`` for each task x run length x setup that has dense runs (runs of different lengths or
    tasks are never compared), with those keys as leading columns where more than one group exists."""
    from nmsim.curves.runs import BASELINE

    keys = [k for k in BASELINE if k in curves]
    groups = [(k, g) for k, g in curves.groupby(keys, sort=False) if (g["recipe"] == "dense").any()] if keys \
        else [((), curves)]
    shown = [k for k in keys if curves[k].nunique() > 1]
    frames = []
    for key, g in groups:
        t = table(g)
        values = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        frames.append(t.assign(**{k: values[k] for k in shown})[shown + [c for c in t.columns if c not in shown]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def add_section(report, curves: pd.DataFrame, metric: str = "accuracy") -> None:
    """Append the section to ``report`` (a :class:`nmsim.report.writer.Report`); nothing when no FLOPs logged."""
    from nmsim.evidence import isoflop
    from nmsim.curves.plot import plot_curves
    from nmsim.report.writer import Figure, Table

    if curves is None or curves.empty or curves["train_flops"].isna().all() \
            or not (curves["recipe"] == isoflop.DENSE).any():
        return
    s = report.section(
        "Reference trainer: iso-FLOP view",
        f"Metric: `{metric}` ({'higher' if metric == 'accuracy' else 'lower'} is better) against the cumulative "
        "training FLOPs each run logged (priced per step by nmsim's cost model). `reach`: FLOPs to reach a "
        "fraction of the dense final metric of the same seed, relative to the dense run (`saving_pct` has an "
        "interval only when every seed reached it). `equal_flops`: each recipe's final metric minus the dense "
        "curve's at the same FLOPs (mid-run dense point; favours the sparse run), with t intervals over seeds.")
    s.items.append(Figure("isoflop_curves", plot_curves(curves, (metric,), ("train_flops",)),
                          f"{metric} vs cumulative training FLOPs: mean over seeds, band ± one seed std."))
    reach = _per_group(curves, lambda c: isoflop.reach_table(c, metric, FRACTIONS))
    s.items.append(Table("isoflop_reach", reach[reach["recipe"] != isoflop.DENSE],
                         "FLOPs to reach a fraction of the dense final metric", formats={
                             "flops_rel_dense_mean": "{:.3f}", "saving_pct_mean": "{:.1f}",
                             "saving_pct_low": "{:.1f}", "saving_pct_high": "{:.1f}"}))
    s.items.append(Table("isoflop_equal_flops", _per_group(curves, lambda c: isoflop.equal_flops_table(c, metric)),
                         "Metric at equal training FLOPs, recipe minus dense", formats={
                             "flops_rel_dense": "{:.3f}", "recipe_final_mean": "{:.4f}",
                             "dense_at_equal_flops_mean": "{:.4f}", "delta_mean": "{:+.4f}",
                             "delta_low": "{:+.4f}", "delta_high": "{:+.4f}"}, hide=("dense_point",)))
