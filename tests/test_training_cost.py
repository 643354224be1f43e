"""Training cost per recipe phase: the issue's ViT-B/16 numbers (paper convention) and schedule properties."""
from __future__ import annotations

import pytest
from hypothesis import assume, given, settings, strategies as st

from nmsim.cost.training import (HW_COLUMNS, PER_STEP_COLUMNS, TrainingCostModel, paper_graph, step_flops,
                                 training_cost)
from nmsim.errors import UserError
from nmsim.graph import load_workload
from nmsim.recipes import make_recipe
from nmsim.sparsity.pattern import NMPattern
from nmsim.sparsity.plan import SparsityPlan

F_D = 34.710553  # GFLOPs, 12.514296 + 22.196257
F_S = 12.514296 + 22.196257 / 16
T = 350 * 313


@pytest.fixture(scope="module")
def graph():
    return paper_graph(load_workload("vit-base-16"), batch=1)


@pytest.fixture(scope="module")
def plan():
    return SparsityPlan.parse("ff=1:16")


@pytest.fixture(scope="module")
def ideal(graph, plan):
    """Ideal N:M engine: executed = nominal x density, dgrad uses the (transposed) pattern, wgrad dense."""
    return TrainingCostModel(graph, plan, transposable=True, paper_convention=True)


def ratio(model, plan, name, total=T, **kw):
    recipe = make_recipe(name, plan.targets, steps_per_epoch=313, **kw)
    return training_cost(model.graph, plan, recipe, total, model=model)


def test_state_cost_keys_are_the_documented_columns(graph, plan):
    state = make_recipe("sr-ste", plan).at(0, 10)
    assert tuple(TrainingCostModel(graph, plan).state_cost(state)) == PER_STEP_COLUMNS
    assert tuple(TrainingCostModel(graph, plan, hardware="a100").state_cost(state)) == PER_STEP_COLUMNS + HW_COLUMNS


def test_dense_step_is_three_forward(ideal, plan):
    tc = ratio(ideal, plan, "dense")
    row = tc.phases.iloc[0]
    assert row["matrix_flops"] / 1e9 == pytest.approx(3 * F_D, rel=1e-6)
    assert row["fwd_flops"] / 1e9 == pytest.approx(F_D, rel=1e-6)
    assert tc.totals["matrix_flops_vs_dense"] == 1.0


def test_srste_issue_number(ideal, plan):
    tc = ratio(ideal, plan, "sr-ste")
    assert tc.totals["matrix_flops_vs_dense"] == pytest.approx((2 * F_S + F_D) / (3 * F_D), rel=1e-6)
    assert round(tc.totals["matrix_flops_vs_dense"], 4) == 0.6003
    assert tc.phases["srste_flops"].iloc[0] == 3 * 12 * 2 * 768 * 3072  # 3 per FF weight


def test_srste_without_transposed_dgrad(graph, plan):
    model = TrainingCostModel(graph, plan, paper_convention=True)  # no hardware, plain 1:16: dgrad dense
    tc = ratio(model, plan, "sr-ste")
    assert tc.totals["matrix_flops_vs_dense"] == pytest.approx((F_S + 2 * F_D) / (3 * F_D), rel=1e-6)


def test_ideal_hardware_matches_flop_model(graph, plan):
    model = TrainingCostModel(graph, plan, hardware="ideal-nm", paper_convention=True)
    tc = ratio(model, plan, "sr-ste")
    assert round(tc.totals["matrix_flops_vs_dense"], 4) == 0.6003
    assert tc.totals["hw_matrix_flops"] == pytest.approx(tc.totals["matrix_flops"], rel=1e-9)
    # at batch 1 the step is dominated by per-weight traffic (optimizer, mask recompute, SR-STE decay term):
    # SR-STE is slower than dense; at the paper's batch 256 the sparse GEMMs win
    assert tc.totals["seconds_vs_dense"] > 1
    big = TrainingCostModel(paper_graph(load_workload("vit-base-16"), batch=256), plan, hardware="ideal-nm",
                            paper_convention=True)
    assert 0 < ratio(big, plan, "sr-ste").totals["seconds_vs_dense"] < 1


def test_sdgf_stepwise_issue_number(ideal, plan):
    tc = ratio(ideal, plan, "sdgf-stepwise")
    assert list(tc.phases["label"]) == [f"sparse ff={n}:16" for n in (15, 8, 4, 2, 1)]
    assert round(tc.totals["matrix_flops_vs_dense"], 4) == 0.7336


def test_mdgf_exp_issue_number(ideal, plan):
    tc = ratio(ideal, plan, "mdgf-exp", beta=1e-4)
    assert list(tc.phases["start_step"]) == [0, 76_247]
    srste = (2 * F_S + F_D) / (3 * F_D)
    expected = (76_247 + (T - 76_247) * srste) / T
    assert tc.totals["matrix_flops_vs_dense"] == pytest.approx(expected, rel=1e-6)
    assert round(tc.totals["matrix_flops_vs_dense"], 4) == 0.8785
    assert tc.phases["blend_flops"].iloc[0] > 0 and tc.phases["blend_flops"].iloc[1] == 0
    assert tc.totals["matrix_flops_vs_srste"] == pytest.approx(expected / srste, rel=1e-6)


def test_unreachable_geometric(graph):
    plan = SparsityPlan.parse("ff=1:128")
    model = TrainingCostModel(graph, plan, paper_convention=True)
    recipe = make_recipe("sdgf-geometric", plan.targets)
    with pytest.raises(UserError, match="M=2048 does not divide gemm_k=768"):
        training_cost(graph, plan, recipe, 1000, model=model)


def test_step_flops_hook_matches_model():
    cfg = load_workload("trainer-vit-digits")
    targets = {"ff": NMPattern(1, 4)}
    recipe = make_recipe("sr-ste", targets)
    state = recipe.at(5, 10)
    value = step_flops(cfg, targets, state, 8)
    from nmsim.graph import trace_workload
    model = TrainingCostModel(trace_workload(cfg, batch=8), SparsityPlan.parse("ff=1:4"))
    assert value == model.state_cost(state)["step_flops"]
    dense = step_flops(cfg, targets, make_recipe("dense", targets).at(0, 10), 8)
    assert 0 < value < dense
    from nmsim.train import flops as train_flops
    assert train_flops.step_flops(cfg, targets, state, 8) == value


RECIPES = ("dense", "static", "sr-ste", "mdgf-linear", "mdgf-exp", "sdgf-stepwise", "sdgf-geometric")


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(RECIPES), n_m=st.sampled_from([(2, 4), (1, 4), (1, 8), (1, 16), (1, 32)]),
       d=st.sampled_from([0.0, 0.05, 0.1]), f=st.sampled_from([0.0, 0.1, 0.2]),
       total=st.integers(min_value=20, max_value=200_000))
def test_bounds_and_phase_sums(graph, name, n_m, d, f, total):
    plan = SparsityPlan.parse(f"ff={n_m[0]}:{n_m[1]}")
    model = _models(graph, plan)
    recipe = make_recipe(name, plan.targets, d, f)
    try:
        tc = training_cost(graph, plan, recipe, total, model=model)
    except UserError as exc:  # geometric 1:32 needs 16:512, and 512 does not divide 768
        assert name == "sdgf-geometric" and "does not divide" in str(exc)
        assume(False)
    dense_step = model.state_cost(make_recipe("dense", plan.targets).at(0, 1))["matrix_flops"]
    sparse_step = model.state_cost(make_recipe("static", plan.targets).at(0, 1))["matrix_flops"]
    m = tc.totals["matrix_flops"]
    assert sparse_step * total * (1 - 1e-12) <= m <= dense_step * total * (1 + 1e-12)
    ph = tc.phases
    assert ph["steps"].sum() == total == tc.totals["steps"]
    assert ph["phase_matrix_flops"].sum() == pytest.approx(m, rel=1e-12)
    assert ph["phase_flops"].sum() == pytest.approx(tc.totals["flops"], rel=1e-12)
    assert (ph["step_flops"] == ph["matrix_flops"] + ph["vector_flops"]).all()


_MODEL_CACHE: dict = {}


def _models(graph, plan):
    key = str(plan)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = TrainingCostModel(graph, plan, transposable=True, paper_convention=True)
    return _MODEL_CACHE[key]
