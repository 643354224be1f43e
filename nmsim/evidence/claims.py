"""The paper's three training-FLOP claims, put to the protocol's runs.

Claims (Bambhaniya et al., "Progressive Gradient Flow for Robust N:M Sparsity Training in Transformers",
arXiv 2402.04744 / CPAL 2025):

1. ``dense-quality``: SDGF-geometric reaches dense accuracy with 37.8 % fewer training FLOPs.
2. ``equal-flops``: at equal training FLOPs a progressive recipe is about 1.6 (≈ 2) points of top-1 accuracy
   above dense.
3. ``vs-srste``: the progressive recipes reach SR-STE's quality with more than 30 % fewer training FLOPs.

Each is tested per (recipe, pattern) with a t interval over paired seeds and stated as ``holds``,
``does not hold`` or ``cannot be decided`` (interval straddles the claimed figure, or seeds disagree on whether
the target is reached at all).
"""
from __future__ import annotations


import pandas as pd

from nmsim.evidence import isoflop
from nmsim.evidence.stats import better_sign

PROGRESSIVE = ("mdgf-linear", "mdgf-exp", "sdgf-stepwise", "sdgf-geometric")
CLAIM_SAVING_VS_DENSE_PCT = 37.8
CLAIM_GAIN_AT_EQUAL_FLOPS_PTS = 1.6   # top-1 points
CLAIM_SAVING_VS_SRSTE_PCT = 30.0

CLAIMS = {
    "dense-quality": "SDGF-geometric reaches dense quality with 37.8 % fewer training FLOPs",
    "equal-flops": "about +1.6 points (≈ 2 %) of accuracy over dense at equal training FLOPs",
    "vs-srste": "> 30 % fewer training FLOPs than SR-STE at equal quality",
}


def _saving_verdict(row, claimed: float) -> tuple[str, str]:
    n, reached = int(row["seeds"]), int(row["seeds_reached"])
    if n == 0:
        return "cannot be decided", "no paired runs"
    if reached == 0:
        return "does not hold", f"the target is never reached ({n} of {n} seeds miss it)"
    if reached < n:
        return "cannot be decided", f"{reached} of {n} seeds reach the target"
    lo, hi, mean = row["saving_pct_low"], row["saving_pct_high"], row["saving_pct_mean"]
    text = f"saving {mean:.1f} % [{lo:.1f}, {hi:.1f}] (claimed {claimed:g} %)"
    if lo >= claimed:
        return "holds", text
    if hi < claimed:
        return "does not hold", text
    return "cannot be decided", text


def _gain_verdict(row, metric: str) -> tuple[str, str]:
    """Accuracy: the claim is +1.6 points of top-1 (ViT-B: about 78.0 % against dense 76.4 %); loss: read as
    'better than dense', its size does not translate."""
    if int(row["seeds"]) < 2:
        return "cannot be decided", "fewer than 2 paired seeds"
    sign = better_sign(metric)
    mean, lo, hi = row["delta_mean"], row["delta_low"], row["delta_high"]
    if metric == "accuracy":
        pts = [100 * v for v in (mean, lo, hi)]
        text = (f"{pts[0]:+.2f} points [{pts[1]:+.2f}, {pts[2]:+.2f}] (claimed +{CLAIM_GAIN_AT_EQUAL_FLOPS_PTS:g} "
                "points)")
        if pts[1] >= CLAIM_GAIN_AT_EQUAL_FLOPS_PTS:
            return "holds", text
        if pts[2] < CLAIM_GAIN_AT_EQUAL_FLOPS_PTS:
            return "does not hold", text
        return "cannot be decided", text
    text = f"{metric} {mean:+.4f} [{lo:+.4f}, {hi:+.4f}] ({'lower' if sign < 0 else 'higher'} is better)"
    if (lo > 0 if sign > 0 else hi < 0):
        return "holds", text + "; better than dense (size not comparable)"
    if (hi < 0 if sign > 0 else lo > 0):
        return "does not hold", text + "; worse than dense"
    return "cannot be decided", text


def test_claims(curves: pd.DataFrame, metrics=("accuracy", "loss"), level: float = 0.95) -> pd.DataFrame:
    """One row per (claim, metric, pattern, recipe): verdict and the figures behind it."""
    rows = []
    for metric in metrics:
        reach = isoflop.reach_table(curves, metric, fractions=(1.0,), level=level)
        for _, r in reach[reach["recipe"] == "sdgf-geometric"].iterrows():
            v, text = _saving_verdict(r, CLAIM_SAVING_VS_DENSE_PCT)
            rows.append({"claim": "dense-quality", "metric": metric, "pattern": r["pattern"],
                         "recipe": r["recipe"], "verdict": v, "figures": text})
        eq = isoflop.equal_flops_table(curves, metric, level)
        for _, r in eq[eq["recipe"].isin(PROGRESSIVE)].iterrows():
            v, text = _gain_verdict(r, metric)
            rows.append({"claim": "equal-flops", "metric": metric, "pattern": r["pattern"], "recipe": r["recipe"],
                         "verdict": v, "figures": f"{text} at {r['flops_rel_dense']:.3f}x dense FLOPs"})
        vs = isoflop.reach_reference_table(curves, metric, "sr-ste", level)
        for _, r in vs[vs["recipe"].isin(PROGRESSIVE)].iterrows() if len(vs) else []:
            v, text = _saving_verdict(r, CLAIM_SAVING_VS_SRSTE_PCT)
            rows.append({"claim": "vs-srste", "metric": metric, "pattern": r["pattern"], "recipe": r["recipe"],
                         "verdict": v, "figures": text})
    return pd.DataFrame(rows, columns=["claim", "metric", "pattern", "recipe", "verdict", "figures"])


def overall(claims: pd.DataFrame, metric: str) -> dict[str, str]:
    """Claim -> one plain sentence for ``metric``: which (recipe, pattern) pairs hold / do not / cannot say."""
    out = {}
    for claim, text in CLAIMS.items():
        sub = claims[(claims["claim"] == claim) & (claims["metric"] == metric)]
        if sub.empty:
            out[claim] = "cannot be decided: no runs test it"
            continue
        parts = []
        for verdict in ("holds", "does not hold", "cannot be decided"):
            hit = sub[sub["verdict"] == verdict]
            if len(hit):
                parts.append(f"{verdict} for " + ", ".join(f"{r} {p}" for r, p in zip(hit["recipe"], hit["pattern"])))
        if (sub["verdict"] == "holds").all():
            head = "holds"
        elif (sub["verdict"] == "does not hold").all():
            head = "does not hold"
        elif (sub["verdict"] == "holds").any():
            head = "holds in part"
        else:
            head = "does not hold" if not (sub["verdict"] == "cannot be decided").any() else "cannot be decided"
        out[claim] = f"{head} ({'; '.join(parts)})"
    return out
