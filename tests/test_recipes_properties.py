"""Hypothesis properties of recipe schedules: D in [0, 1] and non-increasing, SDGF density non-increasing,
phases tile [0, T) and agree with at()."""
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nmsim.errors import UserError

from nmsim.recipes import RECIPE_NAMES, make_recipe
from nmsim.sparsity.pattern import NMPattern

REACHABLE = [NMPattern(n, m) for n, m in [(1, 2), (2, 4), (1, 4), (1, 8), (2, 8), (1, 16), (1, 32), (4, 16), (3, 6)]]
fracs = st.sampled_from([0.0, 0.0125, 0.05, 0.1, 0.2, 0.29, 0.45])


@st.composite
def recipes(draw, names=tuple(n for n in RECIPE_NAMES if n != "custom")):
    name = draw(st.sampled_from(names))
    targets = {"ff": draw(st.sampled_from(REACHABLE))}
    if draw(st.booleans()):
        targets["qk"] = draw(st.sampled_from(REACHABLE))
    d, f = draw(fracs), draw(fracs)
    params = {}
    if name.startswith("mdgf"):
        params["beta"] = draw(st.sampled_from([1e-4, 2e-4, 1e-3, 1e-2, 0.3]))
    if name == "sdgf-geometric":
        params["k"] = draw(st.sampled_from([2, 4, 8, 16]))
    spe = draw(st.sampled_from([None, 1, 7]))
    total = draw(st.integers(1, 3000)) * (spe or 1)
    return make_recipe(name, targets, d, f, steps_per_epoch=spe, **params), total


@st.composite
def custom_recipes(draw):
    d, f, total = draw(fracs), draw(fracs), draw(st.integers(1, 2000))
    start, stop = make_recipe("custom", {}, d, f, boundaries=[(0, {"ff": None})]).span(total)
    assume(stop > start)   # boundaries need a sparse part to fall in (past its end is an error, tested below)
    positions = draw(st.lists(st.one_of(st.floats(0, 0.99), st.integers(0, stop - start - 1)), min_size=1,
                              max_size=5))
    boundaries = [(pos, {draw(st.sampled_from(["ff", "qk"])): draw(st.sampled_from(REACHABLE + [None]))})
                  for pos in positions]
    return make_recipe("custom", {}, d, f, boundaries=boundaries), total


@settings(max_examples=50, deadline=None)
@given(fracs, fracs, st.integers(1, 2000), st.integers(0, 200))
def test_custom_boundary_past_the_run_is_an_error(d, f, total, extra):
    start, stop = make_recipe("custom", {}, d, f, boundaries=[(0, {"ff": None})]).span(total)
    recipe = make_recipe("custom", {}, d, f, boundaries=[(0, {"ff": NMPattern(2, 4)}),
                                                        (stop - start + extra, {"ff": NMPattern(1, 4)})])
    with pytest.raises(UserError, match="past the end of the sparse part"):
        recipe.phases(total)


@settings(max_examples=150, deadline=None)
@given(st.one_of(recipes(), custom_recipes()), st.data())
def test_phases_tile_and_match_at(case, data):
    recipe, total = case
    phases = recipe.phases(total)
    assert phases[0].start_step == 0 and phases[-1].stop_step == total
    for a, b in zip(phases, phases[1:]):
        assert a.stop_step == b.start_step and a.state.pricing_key() != b.state.pricing_key()
    for p in phases:
        assert p.steps > 0 and p.state == recipe.at(p.start_step, total)
        step = data.draw(st.integers(p.start_step, p.stop_step - 1))
        assert recipe.at(step, total).pricing_key() == p.state.pricing_key()
        assert recipe.at(p.stop_step - 1, total).pricing_key() == p.state.pricing_key()


@settings(max_examples=150, deadline=None)
@given(recipes(), st.lists(st.floats(0, 1, exclude_max=True), min_size=2, max_size=6))
def test_decay_in_unit_interval_and_non_increasing(case, positions):
    recipe, total = case
    steps = sorted(int(x * total) for x in positions)
    values = [recipe.at(s, total).decay for s in steps]
    if recipe.name == "dense":
        assert values == [1.0] * len(values)
        return
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values == sorted(values, reverse=True)


@settings(max_examples=150, deadline=None)
@given(recipes(names=("sdgf-stepwise", "sdgf-geometric", "static", "sr-ste")))
def test_binary_mask_density_non_increasing(case):
    recipe, total = case
    phases = recipe.phases(total)
    for sel in recipe.targets:
        density = [p.state.density(sel) for p in phases]
        assert density == sorted(density, reverse=True)
        assert density[-1] in (1.0, recipe.targets[sel].density)  # ends on the target (or still dense)
    if recipe.name == "sdgf-geometric":  # geometric keeps N/M fixed once sparse
        assert {p.state.density("ff") for p in phases if p.state.phase != "dense"} <= {recipe.targets["ff"].density}


@settings(max_examples=100, deadline=None)
@given(recipes(names=("mdgf-linear", "mdgf-exp")))
def test_mdgf_cost_patterns_follow_threshold(case):
    recipe, total = case
    thr = recipe.params["zero_threshold"]
    for p in recipe.phases(total):
        s = p.state
        if s.phase == "decay":
            assert s.decay >= thr and all(v is None for v in s.cost_patterns.values())
        elif s.phase in ("sparse", "finetune"):
            assert s.decay < thr and s.cost_patterns == s.masks
