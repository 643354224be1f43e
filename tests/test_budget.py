"""Iso-FLOP budgets: affordable lengths, dense budgets, accuracy-vs-FLOPs curves."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from nmsim.cost.budget import affordable, dense_budget, flops_to_accuracy, load_curve, schedule_flops
from nmsim.cost.training import TrainingCostModel, paper_graph
from nmsim.errors import UserError
from nmsim.graph import load_workload
from nmsim.recipes import make_recipe
from nmsim.sparsity.plan import SparsityPlan


@pytest.fixture(scope="module")
def model():
    graph = paper_graph(load_workload("vit-base-16"), batch=1)
    return TrainingCostModel(graph, SparsityPlan.parse("ff=1:16"), transposable=True, paper_convention=True)


def recipe(model, name, spe=313, **kw):
    return make_recipe(name, model.plan.targets, steps_per_epoch=spe, **kw)


def test_dense_affords_its_own_budget(model):
    budget = dense_budget(model, 350, 313)
    fit = affordable(model, recipe(model, "dense"), budget, 313)
    assert fit["epochs"] == 350 and fit["epochs_exact"] == pytest.approx(350)
    assert fit["spent"] == pytest.approx(budget)


def test_constant_cost_recipe_scales_inversely(model):
    budget = dense_budget(model, 350, 313, "matrix_flops")
    fit = affordable(model, recipe(model, "static"), budget, 313, "matrix_flops")
    ratio = schedule_flops(model, recipe(model, "static"), 313, "matrix_flops") / \
        schedule_flops(model, recipe(model, "dense"), 313, "matrix_flops")
    assert fit["epochs_exact"] == pytest.approx(350 / ratio, rel=1e-9)
    assert fit["epochs"] == int(350 / ratio)


def test_phase_varying_recipe_is_searched(model):
    r = recipe(model, "mdgf-exp")
    budget = dense_budget(model, 350, 313)
    fit = affordable(model, r, budget, 313)
    units = fit["units"]
    assert schedule_flops(model, r, units * 313) <= budget < schedule_flops(model, r, (units + 1) * 313)
    assert 350 < fit["epochs"] < 350 / 0.6


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(["sr-ste", "sdgf-stepwise", "mdgf-linear", "mdgf-exp"]),
       budget_steps=st.integers(min_value=1, max_value=50_000))
def test_affordable_brackets_budget(model, name, budget_steps):
    r = recipe(model, name, spe=None)
    m = "matrix_flops"  # (MDGF's blend and mask vector FLOPs make its decay steps dearer than dense in total)
    budget = dense_budget(model, budget_steps, measure=m)
    fit = affordable(model, r, budget, measure=m)
    assert fit["steps"] >= budget_steps  # no step has more matrix FLOPs than a dense one
    assert schedule_flops(model, r, fit["steps"], m) <= budget
    assert schedule_flops(model, r, fit["steps"] + 1, m) > budget


def test_bad_budget_and_measure(model):
    with pytest.raises(UserError, match="positive"):
        affordable(model, recipe(model, "dense"), -1.0)
    with pytest.raises(UserError, match="needs hardware"):
        schedule_flops(model, recipe(model, "dense"), 313, "seconds")


def test_curve_interpolation(tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("flops,accuracy\n3e18,70\n1e18,50\n2e18,60\n")
    assert flops_to_accuracy(path, 65) == pytest.approx(2.5e18)
    assert flops_to_accuracy(path, 40) == 1e18
    assert flops_to_accuracy(path, 70) == 3e18
    with pytest.raises(UserError, match=r"curve.csv: accuracy 80 is never reached \(best 70"):
        flops_to_accuracy(path, 80)
    assert flops_to_accuracy(path, 80, strict=False) is None
    frame = pd.DataFrame({"flops": [1.0, 2.0], "accuracy": [0.1, 0.3]})
    assert flops_to_accuracy(frame, 0.2) == pytest.approx(1.5)


def test_curve_missing_column(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("flops,top1\n1,2\n")
    with pytest.raises(UserError) as info:
        load_curve(path)
    msg = str(info.value)
    assert "runs.csv" in msg and "'accuracy'" in msg and "\n" not in msg
    with pytest.raises(UserError, match="not found"):
        load_curve(tmp_path / "nope.csv")
