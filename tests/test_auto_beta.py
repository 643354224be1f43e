"""MDGF's automatic beta is one rule in nmsim.recipes, and the trainer records exactly that rule's value."""
import math

import pytest

from nmsim.recipes import AUTO_DECAY_FRACTION, auto_beta, make_recipe
from nmsim.train.loop import RunConfig, resolve
from nmsim.train.tasks import load_task


def test_auto_beta_values():
    assert AUTO_DECAY_FRACTION == 0.7
    # linear: D = 1 - beta*j hits 0 at j = 0.7 * 1000 = 700
    assert auto_beta(make_recipe("mdgf-linear", {"ff": "1:8"}), 1000) == float(f"{1 / 700:.6g}") == 0.00142857
    # exp, d = 0.1, f = 0.2: sparse part steps 100..800, D = exp(-beta*j) reaches 2^-11 at j = 490
    r = make_recipe("mdgf-exp", {"ff": "1:8"}, 0.1, 0.2)
    assert r.span(1000) == (100, 800)
    assert auto_beta(r, 1000) == float(f"{math.log(2048) / 490:.6g}") == 0.0155604
    assert math.exp(-auto_beta(r, 1000) * 490) == pytest.approx(2.0**-11, rel=1e-4)  # beta kept to 6 digits


def test_trainer_uses_the_rule():
    c = resolve(RunConfig(recipe="mdgf-exp", sparsity={"ff": "1:8"}))
    total = c.epochs * load_task(c.task).steps_per_epoch(c.batch)
    assert c.recipe_params["beta"] == auto_beta(make_recipe("mdgf-exp", {"ff": "1:8"}), total)
    # an explicit beta is kept
    assert resolve(RunConfig(recipe="mdgf-linear", sparsity={"ff": "1:8"},
                             recipe_params={"beta": 0.5})).recipe_params["beta"] == 0.5
