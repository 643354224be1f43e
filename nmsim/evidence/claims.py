"""The paper's four training-FLOP claims, put to the protocol's runs, as the paper states them.

Claims (Bambhaniya et al., "Progressive Gradient Flow for Robust N:M Sparsity Training in Transformers",
arXiv 2402.04744 / CPAL 2025):

1. ``dense-quality``: SDGF-geometric reaches dense accuracy with 37.8 % fewer training FLOPs.
2. ``iso-flop-vs-sparse``: the abstract's "up to 2 %" higher accuracy at equal training FLOPs, against the
   conventional sparse-training recipe (SR-STE), not against dense: each progressive recipe against SR-STE at
   one FLOP count per pattern (:func:`nmsim.evidence.isoflop.common_flops_table`).
3. ``iso-flop-vs-dense``: +1.6 top-1 points over dense at equal training FLOPs: each progressive recipe's final
   metric against the dense curve of the same seed at the same FLOPs
   (:func:`nmsim.evidence.isoflop.equal_flops_table`; the dense point is mid-run, which favours the recipe).
4. ``vs-srste``: the progressive recipes reach SR-STE's quality with more than 30 % fewer training FLOPs.

Each is tested on the recipes that name it in their ``claims`` (``nmsim/recipes/catalog/``), per (recipe, pattern)
with a t-test over paired seeds, Holm-adjusted over the rows of that claim and metric
(:func:`nmsim.evidence.stats.holm`), and stated as ``holds``, ``does not hold`` or ``cannot be decided``. Each row
carries its effect (a gain in the metric's units, a saving in % of FLOPs) with its unadjusted interval beside the
Holm-adjusted p-value, and, where undecided, the seeds that would decide it at the observed spread
(:func:`nmsim.evidence.stats.seeds_needed`). A saving
reached by every seed at its first evaluation at the target pattern is fixed by the schedule (where the target
comes into force, or MDGF's decay falls below its threshold), not by training: its verdict is labelled ``follows
from the schedule`` and carries no p-value.
"""
from __future__ import annotations

import math

import pandas as pd

from nmsim.evidence import isoflop
from nmsim.evidence.stats import METRICS, Interval, better_sign, holm, p_value, seeds_needed
from nmsim.recipes import recipes_with_claim
from nmsim.units import formatted

CLAIM_SAVING_VS_DENSE_PCT = 37.8
CLAIM_GAIN_VS_SPARSE_PTS = 2.0        # "up to 2 %" top-1 over SR-STE at equal training FLOPs
CLAIM_GAIN_VS_DENSE_PTS = 1.6         # +1.6 top-1 points over dense at equal training FLOPs
CLAIM_SAVING_VS_SRSTE_PCT = 30.0
MEASURED, SCHEDULE = "measured", "follows from the schedule"

CLAIMS = {
    "dense-quality": "SDGF-geometric reaches dense quality with 37.8 % fewer training FLOPs",
    "iso-flop-vs-sparse": "up to 2 % higher accuracy than SR-STE (conventional sparse training) at equal "
                          "training FLOPs",
    "iso-flop-vs-dense": "+1.6 points higher accuracy than dense at equal training FLOPs",
    "vs-srste": "> 30 % fewer training FLOPs than SR-STE at equal quality",
}
#: what each claim compares against, and the unit of its effect (a gain in the metric's units, or a saving)
AGAINST = {"dense-quality": "dense", "iso-flop-vs-sparse": "sr-ste", "iso-flop-vs-dense": "dense",
           "vs-srste": "sr-ste"}
SAVING_UNIT = "% of FLOPs"
COLUMNS = ["claim", "metric", "pattern", "recipe", "against", "seeds", "effect", "ci_low", "ci_high", "unit",
           "p_holm", "verdict", "basis", "seeds_needed", "figures"]


def _saving_row(row, claimed: float) -> dict:
    """Verdict parts of a saving claim before Holm: ``p`` is NaN where no test applies; ``effect`` the saving in
    % of the FLOPs compared against, ``null`` the value its test is against (the claimed saving)."""
    n, reached = int(row["seeds"]), int(row["seeds_reached"])
    lo, hi, mean, sd = row["saving_pct_low"], row["saving_pct_high"], row["saving_pct_mean"], row["saving_pct_sd"]
    out = {"basis": MEASURED, "p": math.nan, "mean": mean, "claimed": claimed, "null": claimed, "n": n,
           "effect": mean, "sd": sd, "low": lo, "high": hi, "unit": SAVING_UNIT}
    if n == 0:
        return {**out, "verdict": "cannot be decided", "figures": "no paired runs"}
    if reached == 0:
        return {**out, "verdict": "does not hold", "figures": f"the target is never reached ({n} of {n} seeds miss it)"}
    if reached < n:
        return {**out, "verdict": "cannot be decided", "figures": f"{reached} of {n} seeds reach the target"}
    text = f"saving {mean:.1f} % [{lo:.1f}, {hi:.1f}] (claimed {claimed:g} %)"
    if int(row["seeds_at_schedule"]) == n:
        verdict = "holds" if mean >= claimed else "does not hold"
        return {**out, "basis": SCHEDULE, "verdict": verdict,
                "figures": text + "; every seed meets the target at its first evaluation at the target pattern"}
    iv = Interval(n, mean, sd, lo, hi, 0.95)
    return {**out, "p": p_value(iv, claimed), "verdict": None, "figures": text}


def _gain_row(n: int, mean: float, sd: float, lo: float, hi: float, flops: str, metric: str, against: str,
              claimed_pts: float) -> dict:
    """Verdict parts of an equal-FLOPs gain claim before Holm: ``mean`` etc. are recipe - ``against`` in the
    metric's units; the claim holds where the gain is significantly above zero (the paper's figure is a
    ceiling, "up to", or one ViT-B result)."""
    out = {"basis": MEASURED, "p": math.nan, "mean": mean * better_sign(metric), "claimed": 0.0, "null": 0.0,
           "verdict": None, "n": n, "effect": mean, "sd": sd, "low": lo, "high": hi, "unit": METRICS[metric][1]}
    if n < 2:
        return {**out, "verdict": "cannot be decided", "figures": "fewer than 2 paired seeds"}
    if metric == "accuracy":
        pts = lambda v: formatted("{:+.2f}", 100 * v)  # noqa: E731
        text = (f"{pts(mean)} points [{pts(lo)}, {pts(hi)}] vs {against} (claimed: a gain of "
                f"{'up to ' if against != 'dense' else ''}+{claimed_pts:g} points)")
    else:
        d = lambda v: formatted("{:+.4f}", v)  # noqa: E731
        text = (f"{metric} {d(mean)} [{d(lo)}, {d(hi)}] vs {against} "
                f"({'lower' if better_sign(metric) < 0 else 'higher'} is better)")
    iv = Interval(n, mean, sd, lo, hi, 0.95)
    return {**out, "p": p_value(iv), "figures": f"{text} at {flops}"}


def _vs_sparse(row, metric: str, reference: str) -> dict:
    return _gain_row(int(row["delta_seeds"]), row[f"delta_vs_{reference}"], row["delta_sd"], row["delta_low"],
                     row["delta_high"], f"{row['flops']:.4g} FLOPs", metric, reference, CLAIM_GAIN_VS_SPARSE_PTS)


def _vs_dense(row, metric: str) -> dict:
    return _gain_row(int(row["seeds"]), row["delta_mean"], row["delta_sd"], row["delta_low"], row["delta_high"],
                     f"its final FLOPs ({row['flops_rel_dense']:.3f} of dense's; dense mid-run)", metric,
                     isoflop.DENSE, CLAIM_GAIN_VS_DENSE_PTS)


def _decide(parts: list[dict], level: float) -> None:
    """Holm over the rows that have a test; verdict where none was given yet; for an undecided test, the seeds
    that would decide it at the observed spread (Bonferroni over the family: Holm's strictest step)."""
    adjusted = holm([p["p"] for p in parts])
    tested = sum(1 for p in parts if math.isfinite(p["p"]))
    for part, ph in zip(parts, adjusted):
        part["p_holm"], part["seeds_needed"] = ph, math.nan
        if part["verdict"] is not None:
            continue
        if math.isfinite(ph) and ph < 1 - level:
            part["verdict"] = "holds" if part["mean"] > part["claimed"] else "does not hold"
        else:
            part["verdict"] = "cannot be decided"
            if math.isfinite(ph):
                part["seeds_needed"] = seeds_needed(part["effect"] - part["null"], part["sd"], level, tested)


def _rows(table: pd.DataFrame, claim: str) -> list:
    """The rows of ``table`` whose recipe the claim is tested on."""
    return [r for _, r in table[table["recipe"].isin(recipes_with_claim(claim))].iterrows()] if len(table) else []


def test_claims(curves: pd.DataFrame, metrics=("accuracy", "loss"), level: float = 0.95,
                reference: str = "sr-ste") -> pd.DataFrame:
    """One row per (claim, metric, pattern, recipe): what it is compared against, the effect with its interval
    and unit, the Holm-adjusted p-value, verdict, basis (measured / follows from the schedule), the seeds that
    would decide an undecided test, and the figures as a sentence."""
    rows = []
    for metric in metrics:
        families = {}
        reach = isoflop.reach_table(curves, metric, fractions=(1.0,), level=level)
        families["dense-quality"] = [(r, _saving_row(r, CLAIM_SAVING_VS_DENSE_PCT))
                                     for r in _rows(reach, "dense-quality")]
        common = isoflop.common_flops_table(curves, metric, reference, level)
        families["iso-flop-vs-sparse"] = [(r, _vs_sparse(r, metric, reference))
                                          for r in _rows(common, "iso-flop-vs-sparse")]
        equal = isoflop.equal_flops_table(curves, metric, level)
        families["iso-flop-vs-dense"] = [(r, _vs_dense(r, metric)) for r in _rows(equal, "iso-flop-vs-dense")]
        vs = isoflop.reach_reference_table(curves, metric, reference, level)
        families["vs-srste"] = [(r, _saving_row(r, CLAIM_SAVING_VS_SRSTE_PCT)) for r in _rows(vs, "vs-srste")]
        for claim, members in families.items():
            _decide([part for _, part in members], level)
            against = reference if AGAINST[claim] == "sr-ste" else AGAINST[claim]
            rows += [{"claim": claim, "metric": metric, "pattern": r["pattern"], "recipe": r["recipe"],
                      "against": against, "seeds": part["n"], "effect": part["effect"], "ci_low": part["low"],
                      "ci_high": part["high"], "unit": part["unit"], "p_holm": part["p_holm"],
                      "verdict": part["verdict"], "basis": part["basis"], "seeds_needed": part["seeds_needed"],
                      "figures": part["figures"]} for r, part in members]
    return pd.DataFrame(rows, columns=COLUMNS)


def overall(claims: pd.DataFrame, metric: str) -> dict[str, str]:
    """Claim -> one plain sentence for ``metric``: which (recipe, pattern) pairs hold / do not / cannot say; a
    verdict that follows from the schedule is marked so."""
    out = {}
    for claim in CLAIMS:
        sub = claims[(claims["claim"] == claim) & (claims["metric"] == metric)]
        if sub.empty:
            out[claim] = "cannot be decided: no runs test it"
            continue
        parts = []
        for verdict in ("holds", "does not hold", "cannot be decided"):
            hit = sub[sub["verdict"] == verdict]
            if len(hit):
                parts.append(f"{verdict} for " + ", ".join(
                    f"{r} {p}" + (f" ({SCHEDULE})" if b == SCHEDULE else "")
                    for r, p, b in zip(hit["recipe"], hit["pattern"], hit["basis"])))
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
