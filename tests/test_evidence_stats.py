"""Paired statistics, iso-FLOP curve analysis and the claim verdicts (no training)."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.errors import UserError
from nmsim.evidence import claims, isoflop
from nmsim.evidence.stats import (Interval, holm, mean_ci, p_value, paired, pooled_sd, seeds_needed, t_quantile,
                                  verdict)
from nmsim.evidence.summary import most_sparse, paired_table, ranking_lines


def test_t_interval_exact():
    iv = mean_ci([1, 2, 3, 4, 5])
    assert t_quantile(0.975, 4) == pytest.approx(2.7764451051977934, rel=1e-12)
    assert (iv.n, iv.mean, iv.sd) == (5, 3.0, pytest.approx(math.sqrt(2.5)))
    assert (iv.low, iv.high) == (pytest.approx(3 - 1.9632431614775572), pytest.approx(3 + 1.9632431614775572))
    assert iv.excludes_zero and mean_ci([1, 2, 3, 4, 5], 0.5).high < iv.high


def test_interval_degenerate_cases():
    assert math.isnan(mean_ci([]).mean) and mean_ci([]).n == 0
    one = mean_ci([2.0])
    assert one.mean == 2.0 and math.isnan(one.low) and not one.excludes_zero
    assert mean_ci([1.0, float("nan"), 3.0]).n == 2


def test_paired_uses_common_seeds_only():
    a = {0: 1.0, 1: 2.0, 2: 3.5, 7: 100.0}
    b = {0: 0.5, 1: 1.5, 2: 3.0, 3: -50.0}
    iv = paired(a, b)
    assert iv.n == 3 and iv.mean == pytest.approx(0.5) and iv.sd == pytest.approx(0.0)


def test_verdict_follows_metric_direction():
    iv = mean_ci([0.10, 0.11, 0.12, 0.09, 0.10])  # recipe - reference > 0
    assert verdict(iv, "accuracy") == "better" and verdict(iv, "loss") == "worse"
    assert verdict(mean_ci([-1, 1, -0.5, 0.5]), "loss") == "not separated"
    with pytest.raises(UserError, match="unknown metric 'bleu'"):
        verdict(iv, "bleu")


def test_pooled_sd():
    assert pooled_sd([1, 3], [10, 14]) == pytest.approx(math.sqrt((2 + 8) / 2))
    assert math.isnan(pooled_sd([1], [2]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=12), st.floats(-1e3, 1e3))
def test_interval_contains_mean_and_shifts(values, shift):
    iv = mean_ci(values)
    assert iv.low <= iv.mean <= iv.high
    moved = mean_ci([v + shift for v in values])
    assert moved.mean == pytest.approx(iv.mean + shift, abs=1e-6)
    assert moved.high - moved.low == pytest.approx(iv.high - iv.low, rel=1e-6, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.integers(0, 20), st.floats(-10, 10), min_size=2, max_size=8))
def test_paired_with_itself_is_zero(values):
    iv = paired(values, values)
    assert iv.mean == 0 and iv.low == 0 and iv.high == 0 and not iv.excludes_zero


def test_reach_and_value_at_interpolate():
    f, acc = [1.0, 2.0, 3.0], [0.1, 0.3, 0.5]
    assert isoflop.reach_flops(f, acc, 0.4, "accuracy") == pytest.approx(2.5)
    assert isoflop.reach_flops(f, acc, 0.05, "accuracy") == 1.0      # first evaluation already there
    assert math.isnan(isoflop.reach_flops(f, acc, 0.6, "accuracy"))
    assert isoflop.reach_flops(f, [3.0, 2.0, 1.0], 1.5, "loss") == pytest.approx(2.5)
    assert isoflop.value_at(f, acc, 1.5) == pytest.approx(0.2)
    assert math.isnan(isoflop.value_at(f, acc, 3.5)) and math.isnan(isoflop.value_at(f, acc, 0.5))
    assert isoflop.target_of(0.5, 0.98, "accuracy") == pytest.approx(0.49)
    assert isoflop.target_of(2.0, 0.98, "loss") == pytest.approx(2.0 / 0.98)


def _curves(spec: dict, seeds=(0, 1, 2, 3, 4)) -> pd.DataFrame:
    """spec: (recipe, pattern) -> (total FLOPs, f(seed, t in (0, 1]) -> accuracy); 10 evaluations per run."""
    rows = []
    for (recipe, pattern), (flops, fn) in spec.items():
        for s in seeds:
            for i in range(1, 11):
                t = i / 10
                acc = fn(s, t)
                rows.append({"task": "toy", "recipe": recipe, "pattern": pattern, "seed": s, "step": i * 10,
                             "epoch": t, "train_flops": flops * t, "accuracy": acc, "loss": 3.0 - 2 * acc,
                             "phase": "sparse", "folder": f"{recipe}/{pattern}/{s}"})
    return pd.DataFrame(rows)


NOISE = [0.001, -0.002, 0.0, 0.002, -0.001]


def test_claims_on_constructed_curves():
    spec = {
        ("dense", "dense"): (100.0, lambda s, t: 0.6 * t + NOISE[s]),
        # reaches dense's final 0.6 at t = 0.5 of its 80 FLOPs: 40 % of dense FLOPs -> 60 % saving
        ("sdgf-geometric", "ff=1:16"): (80.0, lambda s, t: 1.2 * min(t, 0.5) + 0.01 * t + NOISE[s]),
        ("sr-ste", "ff=1:16"): (70.0, lambda s, t: 0.4 * t + NOISE[s]),
        # never reaches sr-ste's final 0.4 (a constant 0.1 below it)
        ("mdgf-exp", "ff=1:16"): (90.0, lambda s, t: 0.3 * t + NOISE[s]),
    }
    curves = _curves(spec)
    reach = isoflop.reach_table(curves, "accuracy", (1.0,))
    geo = reach[reach["recipe"] == "sdgf-geometric"].iloc[0]
    assert geo["seeds_reached"] == 5 and geo["flops_rel_dense_mean"] == pytest.approx(0.40, abs=0.01)
    eq = isoflop.equal_flops_table(curves, "accuracy").set_index("recipe")
    # sr-ste ends at 70 FLOPs with 0.4; dense has 0.6 * 0.7 = 0.42 there
    assert eq.loc["sr-ste", "delta_mean"] == pytest.approx(-0.02, abs=1e-9)
    out = claims.test_claims(curves, ("accuracy",)).set_index(["claim", "recipe"])
    assert out.loc[("dense-quality", "sdgf-geometric"), "verdict"] == "holds"
    assert out.loc[("vs-srste", "mdgf-exp"), "verdict"] == "does not hold"
    assert "never reached" in out.loc[("vs-srste", "mdgf-exp"), "figures"]
    # against SR-STE (not dense) at one FLOP count, the smallest final FLOPs (SR-STE's 70): sdgf-geometric has
    # 0.6 + 0.01 * 0.875 there, SR-STE 0.4; mdgf-exp 0.3 * 70/90 = 0.2333
    assert out.loc[("iso-flop-vs-sparse", "sdgf-geometric"), "verdict"] == "holds"
    assert out.loc[("iso-flop-vs-sparse", "sdgf-geometric"), "figures"] == \
        "+20.88 points [+20.88, +20.88] vs sr-ste (claimed: a gain of up to +2 points) at 70 FLOPs"
    assert out.loc[("iso-flop-vs-sparse", "mdgf-exp"), "verdict"] == "does not hold"
    assert set(out["basis"]) == {"measured"}
    table = paired_table(curves, validation_size=360).set_index(["metric", "recipe"])
    assert table.loc[("accuracy", "mdgf-exp"), "unit"] == "fraction" and table.loc[("loss", "dense"), "unit"] == "nats"
    assert (table["validation_size"] == 360).all() and (table["p_holm"] >= table["p_value"]).all()
    assert table.loc[("accuracy", "mdgf-exp"), "verdict"] == "worse"
    assert table.loc[("loss", "mdgf-exp"), "verdict"] == "worse"        # higher loss: worse, not "better"
    assert table.loc[("accuracy", "mdgf-exp"), "delta_mean"] == pytest.approx(-0.1)
    assert ranking_lines(paired_table(curves), "accuracy") == [
        "ff=1:16: better than sr-ste: sdgf-geometric (+0.21), dense (+0.2); worse than sr-ste: mdgf-exp (-0.1)"]
    assert ranking_lines(paired_table(curves), "loss") == [   # loss = 3 - 2 acc: same order, lower is better
        "ff=1:16: better than sr-ste: sdgf-geometric (-0.42), dense (-0.4); worse than sr-ste: mdgf-exp (+0.2)"]


def test_holm_and_p_values():
    from scipy.stats import ttest_1samp

    assert p_value(mean_ci([1, 2, 3, 4, 5])) == pytest.approx(ttest_1samp([1, 2, 3, 4, 5], 0).pvalue, rel=1e-12)
    assert p_value(mean_ci([1, 2, 3, 4, 5]), 3.0) == pytest.approx(1.0)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = holm([0.5, math.nan, 0.6])
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == 1.0
    # significant alone (p = 0.02 < 0.05), not among 8 such comparisons (Holm: 8 * 0.02 = 0.16)
    iv = mean_ci([0.1, 0.2, 0.15, 0.05, 0.12])
    assert verdict(iv, "accuracy") == "better"
    assert verdict(iv, "accuracy", holm([0.02] * 8)[0], 0.95) == "not separated"


def test_a_saving_fixed_by_the_schedule_is_labelled_so():
    spec = {("dense", "dense"): (100.0, lambda s, t: 0.6 * t + NOISE[s]),
            ("sr-ste", "ff=1:16"): (70.0, lambda s, t: 0.4 * t + NOISE[s]),
            # MDGF is at its target (D below the threshold) from t = 0.5 on, already above SR-STE's final 0.4
            ("mdgf-linear", "ff=1:16"): (70.0, lambda s, t: 0.5 * t + 0.3 + NOISE[s])}
    curves = _curves(spec)
    curves["at_target"] = ~((curves["recipe"] == "mdgf-linear") & (curves["epoch"] < 0.5))
    row = claims.test_claims(curves, ("accuracy",)).set_index(["claim", "recipe"]).loc[("vs-srste", "mdgf-linear")]
    assert (row["verdict"], row["basis"]) == ("holds", "follows from the schedule") and math.isnan(row["p_holm"])
    assert row["figures"].startswith("saving 50.0 % [50.0, 50.0] (claimed 30 %); every seed meets the target")
    text = claims.overall(claims.test_claims(curves, ("accuracy",)), "accuracy")["vs-srste"]
    assert text == "holds (holds for mdgf-linear ff=1:16 (follows from the schedule))"


def test_claim_undecided_when_seeds_disagree():
    spec = {("dense", "dense"): (100.0, lambda s, t: 0.6 * t),
            ("sdgf-geometric", "ff=1:8"): (80.0, lambda s, t: (0.62 if s % 2 else 0.58) * t)}
    out = claims.test_claims(_curves(spec), ("accuracy",))
    row = out[out["claim"] == "dense-quality"].iloc[0]
    assert row["verdict"] == "cannot be decided" and row["figures"] == "2 of 5 seeds reach the target"


def test_only_evaluations_at_the_target_pattern_count():
    f, loss = [1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 1.6, 1.4]        # low mid-run at 4:16, worse once at 1:16
    ok = [False, False, True, True]
    assert isoflop.reach_flops(f, loss, 1.5, "loss") == pytest.approx(1 + 0.5 / 1.0)
    assert isoflop.reach_flops(f, loss, 1.5, "loss", ok) == pytest.approx(3.5)   # interpolated 1.6 -> 1.4
    assert isoflop.reach_flops(f, loss, 1.65, "loss", ok) == 3.0                 # first counted one: no earlier
    assert math.isnan(isoflop.reach_flops(f, loss, 1.2, "loss", ok))
    assert math.isnan(isoflop.value_at(f, loss, 2.5, ok)) and isoflop.value_at(f, loss, 3.5, ok) == pytest.approx(1.5)
    spec = {("dense", "dense"): (100.0, lambda s, t: 0.6 * t),
            ("sr-ste", "ff=1:16"): (80.0, lambda s, t: 0.5 * t),
            ("sdgf-stepwise", "ff=1:16"): (90.0, lambda s, t: 0.55 if t < 0.75 else 0.45)}
    curves = _curves(spec)
    curves["at_target"] = (curves["recipe"] != "sdgf-stepwise") | (curves["epoch"] >= 0.75)
    vs = isoflop.reach_reference_table(curves, "accuracy").set_index("recipe")
    assert vs.loc["sdgf-stepwise", "seeds_reached"] == 0        # 0.55 > sr-ste's 0.5 only before 1:16
    assert isoflop.reach_reference_table(curves.drop(columns="at_target"), "accuracy")["seeds_reached"].iloc[0] == 5


def test_most_sparse_label():
    assert most_sparse(["ff=1:16", "ff=1:32,qkv=1:32", "ff=1:32"]) == "ff=1:32,qkv=1:32"
    assert most_sparse(["ff=1:8", "ff=2:32"]) == "ff=2:32"
    assert np.isclose(1 / 16, 2 / 32)


def test_seeds_needed_exact():
    # t(0.975, 6) / sqrt(7) = 0.925 < 1 <= t(0.975, 5) / sqrt(6) = 1.049
    assert seeds_needed(1.0, 1.0) == 7 and seeds_needed(-1.0, 1.0) == 7
    assert seeds_needed(1.0, 1.0, 0.95, 5) == 11          # Bonferroni over 5: t(0.995, 10) / sqrt(11) = 0.956
    assert seeds_needed(0.5, 1.0) == 18 and seeds_needed(1.0, 0.0) == 2
    assert seeds_needed(0.0, 1.0) == math.inf and seeds_needed(1e-4, 1.0) == math.inf   # beyond 10,000 seeds
    assert math.isnan(seeds_needed(1.0, math.nan))


@settings(deadline=None, max_examples=60)
@given(st.floats(0.01, 10), st.floats(0.01, 10), st.integers(1, 12))
def test_seeds_needed_is_where_the_test_starts_to_separate(mean, sd, family):
    n = seeds_needed(mean, sd, 0.95, family)
    if math.isinf(n):
        return
    n = int(n)
    p_at = p_value(Interval(n, mean, sd, math.nan, math.nan, 0.95))
    assert p_at < 0.05 / family
    if n > 2:
        assert p_value(Interval(n - 1, mean, sd, math.nan, math.nan, 0.95)) >= 0.05 / family * (1 - 1e-9)
    assert seeds_needed(2 * mean, sd, 0.95, family) <= n      # a larger effect never needs more seeds


def test_open_comparisons_carry_the_seeds_they_need():
    wobble = [0.004, -0.006, 0.002, 0.005, -0.003]
    spec = {("dense", "dense"): (100.0, lambda s, t: 0.6 * t + NOISE[s]),
            ("sr-ste", "ff=1:16"): (70.0, lambda s, t: 0.4 * t + NOISE[s]),
            ("mdgf-exp", "ff=1:16"): (70.0, lambda s, t: 0.4 * t + 0.001 * t + wobble[s] * t + NOISE[s])}
    table = paired_table(_curves(spec)).set_index(["metric", "recipe"])
    row = table.loc[("accuracy", "mdgf-exp")]
    d = [0.001 + w for w in wobble]
    assert row["verdict"] == "not separated" and row["delta_mean"] == pytest.approx(np.mean(d))
    assert row["seeds_needed"] == seeds_needed(np.mean(d), np.std(d, ddof=1), 0.95, 2) == 61
    assert math.isnan(table.loc[("accuracy", "dense"), "seeds_needed"])          # separated: nothing to add


def test_iso_flop_claims_against_sr_ste_and_against_dense():
    spec = {("dense", "dense"): (100.0, lambda s, t: 0.6 * t + NOISE[s]),
            ("sr-ste", "ff=1:16"): (70.0, lambda s, t: 0.4 * t + NOISE[s]),
            # ends at 80 FLOPs with 0.5 + 0.02 * seed; dense has 0.48 there: +2 points + 2 * seed
            ("sdgf-stepwise", "ff=1:16"): (80.0, lambda s, t: (0.5 + 0.02 * s) * t + NOISE[s]),
            ("mdgf-linear", "ff=1:16"): (90.0, lambda s, t: 0.3 * t + NOISE[s])}
    out = claims.test_claims(_curves(spec), ("accuracy",)).set_index(["claim", "recipe"])
    step = out.loc[("iso-flop-vs-dense", "sdgf-stepwise")]
    assert (step["against"], step["unit"], step["seeds"]) == ("dense", "fraction", 5)
    assert step["effect"] == pytest.approx(0.06) and step["verdict"] == "holds"
    assert step["figures"].startswith("+6.00 points [+2.07, +9.93] vs dense (claimed: a gain of +1.6 points) at "
                                      "its final FLOPs (0.800 of dense's; dense mid-run)")
    lin = out.loc[("iso-flop-vs-dense", "mdgf-linear")]     # 0.3 against dense's 0.54 at 90 FLOPs
    assert lin["effect"] == pytest.approx(-0.24) and lin["verdict"] == "does not hold"
    assert out.loc[("iso-flop-vs-sparse", "sdgf-stepwise"), "against"] == "sr-ste"
    assert out.loc[("vs-srste", "sdgf-stepwise"), "unit"] == "% of FLOPs"


def test_departures_from_the_paper_settings():
    from nmsim.evidence.protocol import Protocol, departures

    assert departures(Protocol()) == []
    earlier = Protocol(dense_frac=0.05, finetune_frac=0.1, beta_rule="auto-70", srste_finetune_rule="ste",
                       geometric_k={"ff=1:32": 2, "ff=1:8": 16})
    assert departures(earlier) == [
        "dense warm-up fraction 0.05 (the paper's: 0.0)", "fine-tune fraction 0.1 (the paper's: 0.0)",
        "MDGF beta rule auto-70 (the paper's: paper-fraction)", "SR-STE rule in fine-tune ste (the paper's: sr-ste)",
        "SDGF-geometric k 2 at ff=1:32 (the paper's: 16, too wide for this model)"]


def test_summary_title_flags_earlier_recipe_settings_only():
    from nmsim.evidence.protocol import Protocol
    from nmsim.evidence.views import settings_text, title_note

    assert title_note(Protocol(dense_frac=0.05)) == " (recipe settings other than the paper's: see below)"
    narrow = Protocol(geometric_k={"ff=1:32": 2})       # a k the model is too narrow for: listed, not flagged
    assert title_note(narrow) == "" and title_note(Protocol()) == ""
    assert settings_text(narrow) == ("Recipe settings differ from the paper's (docs/paper-fidelity.md): "
                                     "SDGF-geometric k 2 at ff=1:32 (the paper's: 16, too wide for this model).")
    assert settings_text(Protocol()) == "Recipe settings: the paper's (docs/paper-fidelity.md)."
