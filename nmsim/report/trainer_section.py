"""The report's reference-trainer section: runs' accuracy against the training FLOPs they logged.

Runs are grouped by :mod:`nmsim.curves.runs`: seeds of one setting make one point, and each point is set against
the dense runs of the same task, run length and setup. Points without such a dense run are listed in their own
table (``trainer_unmatched``) and left out of every ratio to dense.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nmsim.curves.runs import BASELINE, POINT, final_rows, seed_bands, unmatched
from nmsim.units import formatted

SUMMARY_FORMATS = {"accuracy_pct": "{:.2f}", "accuracy_pct_std": "{:.2f}", "vs_dense_pct": "{:+.2f}",
                   "vs_dense_low": "{:+.2f}", "vs_dense_high": "{:+.2f}", "train_flops": "{:.4g}",
                   "train_flops_rel_dense": "{:.3f}", "flops_to_dense_accuracy_rel": "{:.3f}"}
LEVEL = 0.95   # the t intervals' level, as the evidence protocol's


def sweep_table(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per point: runs, final accuracy (%: mean and std over seeds), training FLOPs, and against the dense
    runs of the same task, length and setup (NaN where there are none): the accuracy difference paired by seed
    (points; mean and its 95 % t interval, NaN bounds for one seed), FLOPs over dense and FLOPs to reach dense's
    final accuracy (where every run reached it). ``setup``/``variant`` columns only where runs differ in them."""
    from nmsim.cost.budget import flops_to_accuracy
    from nmsim.evidence.stats import paired

    final = final_rows(curves)
    dense = final[final["recipe"] == "dense"].groupby(BASELINE, sort=False).agg(
        dense_acc=("accuracy", "mean"), dense_flops=("train_flops", "mean"))
    rows = []
    for key, g in curves.groupby(POINT, sort=False):
        point = dict(zip(POINT, key))
        base = tuple(point[k] for k in BASELINE)
        ref_acc, ref_flops = dense.loc[base] if base in dense.index else (np.nan, np.nan)
        fin = final[final["folder"].isin(set(g["folder"]))]
        dense_runs = final[(final["recipe"] == "dense") & (final[BASELINE] == pd.Series(dict(zip(BASELINE, base))))
                           .all(axis=1)]
        iv = paired(dict(zip(fin["seed"], 100 * fin["accuracy"])), dict(zip(dense_runs["seed"],
                                                                          100 * dense_runs["accuracy"])), LEVEL)
        vs = (iv.mean, iv.low, iv.high) if point["recipe"] != "dense" and iv.n else (np.nan,) * 3
        reach = []
        for _, run in g.groupby("folder", sort=False):
            c = run[["train_flops", "accuracy"]].rename(columns={"train_flops": "flops"}).dropna()
            reach.append(flops_to_accuracy(c, ref_acc, strict=False) if len(c) and pd.notna(ref_acc) else None)
        ok = [x for x in reach if x is not None]
        rows.append({**point, "runs": len(fin), "accuracy_pct": 100 * fin["accuracy"].mean(),
                     "accuracy_pct_std": 100 * fin["accuracy"].std(ddof=1) if len(fin) > 1 else np.nan,
                     "vs_dense_pct": vs[0], "vs_dense_low": vs[1], "vs_dense_high": vs[2],
                     "train_flops": fin["train_flops"].mean(),
                     "train_flops_rel_dense": fin["train_flops"].mean() / ref_flops,
                     "flops_to_dense_accuracy_rel": (np.mean(ok) / ref_flops) if ok and len(ok) == len(reach)
                     else np.nan, "dense_baseline": pd.notna(ref_flops)})
    return _drop_empty(pd.DataFrame(rows))


def _drop_empty(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in ("setup", "variant") if c in frame and not frame[c].astype(str).any()])


def series(frame: pd.DataFrame) -> pd.Series:
    """A line's name in the page: the pattern, plus the task, length, setup and variant where these differ."""
    parts = [frame["pattern"].astype(str)]
    for col in ("task", "length", "setup", "variant"):
        if col in frame and frame[col].nunique() > 1:
            parts.append(frame[col].astype(str))
    out = parts[0]
    for p in parts[1:]:
        out = out + np.where(p != "", " · " + p, "")
    return out


def findings(curves: pd.DataFrame, limit: int = 3) -> list[str]:
    """Sentences for the report's Findings: per task x run length with dense runs (the first ``limit``), the most
    accurate sparse point against dense; how many points had no dense baseline."""
    st = sweep_table(curves)
    out = []
    groups = [c for c in BASELINE if c in st]
    for key, g in st.groupby(groups, sort=False):
        sparse, dense = g[(g["recipe"] != "dense") & g["dense_baseline"]], g[g["recipe"] == "dense"]
        if sparse.empty or dense.empty or len(out) == limit:
            continue
        best = sparse.loc[sparse["accuracy_pct"].idxmax()]
        where = ", ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)) if str(k))
        seeds = int(best["runs"])
        sign = lambda c: formatted("{:+.2f}", best[c])  # noqa: E731
        vs = (f"; against dense, paired by seed, {sign('vs_dense_pct')} points, {LEVEL:.0%} interval "
              f"[{sign('vs_dense_low')}, {sign('vs_dense_high')}]" if pd.notna(best["vs_dense_low"])
              else "; one seed: no interval")
        out.append(f"Reference trainer ({where}): the sparse point with the highest mean accuracy is "
                   f"{best['recipe']} at {best['pattern']}, {best['accuracy_pct']:.2f}% over {seeds} seed"
                   f"{'s' if seeds != 1 else ''} with {best['train_flops_rel_dense']:.3f}x the dense runs' training "
                   f"FLOPs (dense {float(dense['accuracy_pct'].iloc[0]):.2f}%{vs}).")
    alone = unmatched(curves)
    if len(alone):
        out.append(f"{len(alone)} trainer point(s) have no dense run of the same task and run length: listed, not "
                   "compared.")
    return out


def add_section(report, curves: pd.DataFrame, source: str, labels: dict, colors: dict) -> None:
    """Append the section (figure, summary, unmatched runs, raw rows) for ``curves``."""
    from nmsim.report import figures as F
    from nmsim.report.interactive import Chart
    from nmsim.report.writer import Figure, Table

    s = report.section("Reference trainer: accuracy vs measured training FLOPs")
    st = sweep_table(curves)
    alone = unmatched(curves)
    groups = curves[BASELINE].drop_duplicates()
    s.text.append(f"Source: {source}. FLOPs are the cumulative training FLOPs the trainer logged (priced per step by "
                  "`nmsim.cost`). Runs are one point only when task, run length (epochs at a batch) and settings "
                  "agree; each is set against the dense runs of the same task, run length and setup"
                  + (f" ({len(groups)} such groups)" if len(groups) > 1 else "") +
                  ". Accuracy is the mean over seeds with its seed std; `vs_dense_pct` is the accuracy difference to the "
                  f"dense runs paired by seed, in points, with its {LEVEL:.0%} t interval (`vs_dense_low`, "
                  "`vs_dense_high`): an interval that contains 0 does not separate the point from dense.")
    dense_b = st.loc[st["recipe"] == "dense", "train_flops"]
    budget = float(dense_b.iloc[0]) if len(dense_b) == 1 else None   # one dense budget line only for one group
    bands = seed_bands(curves)
    bands = _drop_empty(bands.assign(series=series(bands)))
    seeds = int(bands["seeds"].max()) if len(bands) else 0
    filters = tuple(c for c in ("task", "length", "setup", "recipe", "pattern", "variant")
                    if c in bands and bands[c].nunique() > 1) or ("recipe", "pattern")
    s.items.append(Figure("trainer_sweep", F.sweep_curves(curves, budget),
                          "Test accuracy against cumulative training FLOPs, one line per run" +
                          (f"; in the page, the mean over up to {seeds} seeds with a min-max band." if seeds > 1
                           else "."),
                          chart=Chart("line", x=("train_flops", "epoch", "step"), y="accuracy_pct",
                                      band=("accuracy_pct_min", "accuracy_pct_max") if seeds > 1 else None,
                                      color="recipe", dash="series", filters=filters,
                                      hover=("task", "length", "recipe", "pattern", "step", "epoch", "seeds",
                                             "accuracy_pct_std", "accuracy_pct_min", "accuracy_pct_max"),
                                      lines=({"axis": "x", "value": budget, "label": "dense budget",
                                              "column": "train_flops"},) if budget else (),
                                      labels=labels, colors=colors, frame=bands,
                                      title="Reference trainer: test accuracy vs training FLOPs")))
    s.items.append(Table("trainer_sweep", st, "Trainer sweep summary: one row per task x run length x recipe x "
                         "pattern (seeds averaged)", formats=SUMMARY_FORMATS))
    if len(alone):
        s.text.append(f"{len(alone)} sparse point(s) have no dense run of the same task, run length and setup: they "
                      "are listed in `trainer_unmatched` and not compared with any dense run.")
        s.items.append(Table("trainer_unmatched", _drop_empty(alone), "Runs without a matching dense baseline"))
    s.items.append(Table("trainer_curves", curves, "All evaluation rows", show=False))
    s.items.append(Table("trainer_bands", bands, "Per evaluation step over seeds", show=False))
