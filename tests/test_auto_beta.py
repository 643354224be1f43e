"""MDGF's beta rules (paper constant, paper-fraction, auto-70) live in nmsim.recipes; the trainer records the
rule and its value; SR-STE keeps its rule in fine-tune unless told otherwise."""
import math

import pytest

from nmsim.errors import UserError
from nmsim.recipes import AUTO_DECAY_FRACTION, PAPER_RUN_STEPS, auto_beta, make_recipe, rule_beta
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


def test_paper_fraction_keeps_the_papers_d_at_the_same_fraction_of_the_run():
    assert PAPER_RUN_STEPS == 109_200 == 350 * 312
    lin = make_recipe("mdgf-linear", {"ff": "1:8"}, beta_rule="paper-fraction")
    assert lin.beta_for(1000) == rule_beta(lin, 1000, "paper-fraction") == 0.02184   # 2e-4 * 109.2
    # the paper's linear D reaches 0 at step 5,000 of 109,200 (4.58 %): here at step ceil(45.79) = 46
    assert lin.zero_step(1000) == 46 == math.ceil(5000 / PAPER_RUN_STEPS * 1000)
    assert lin.beta_for(PAPER_RUN_STEPS) == 2e-4    # at the paper's length it is the paper's constant
    assert lin.zero_step(PAPER_RUN_STEPS) == 4998 == make_recipe("mdgf-linear", {"ff": "1:8"}).zero_step(PAPER_RUN_STEPS)
    exp = make_recipe("mdgf-exp", {"ff": "1:8"}, beta_rule="paper-fraction")
    # exp: D(10,920) = 0.3355 at 10 % of the paper's run, so at 10 % of any run
    assert exp.at(100, 1000).decay == pytest.approx(math.exp(-1e-4 * 10_920), rel=1e-5) == pytest.approx(0.3355, abs=1e-4)
    assert exp.zero_step(PAPER_RUN_STEPS) == 76_247 == make_recipe("mdgf-exp", {"ff": "1:8"}).zero_step(PAPER_RUN_STEPS)
    # with d and f the sparse part is what is scaled: steps 100..800 here
    part = make_recipe("mdgf-linear", {"ff": "1:8"}, 0.1, 0.2, beta_rule="paper-fraction")
    assert part.beta_for(1000) == float(f"{2e-4 * PAPER_RUN_STEPS / 700:.6g}") == 0.0312
    # the cost model's default stays the paper's constant
    assert make_recipe("mdgf-exp", {"ff": "1:8"}).beta_for(1000) == 1e-4


def test_trainer_records_the_rule_and_its_beta():
    c = resolve(RunConfig(recipe="mdgf-exp", sparsity={"ff": "1:8"}))
    total = c.epochs * load_task(c.task).steps_per_epoch(c.batch)
    assert total == 660
    assert c.recipe_params == {"beta_rule": "paper-fraction", "beta": float(f"{1e-4 * 109_200 / 660:.6g}")}
    assert c.recipe_params["beta"] == 0.0165455
    old = resolve(RunConfig(recipe="mdgf-exp", sparsity={"ff": "1:8"}, recipe_params={"beta_rule": "auto-70"}))
    assert old.recipe_params["beta"] == auto_beta(make_recipe("mdgf-exp", {"ff": "1:8"}), total)
    paper = resolve(RunConfig(recipe="mdgf-linear", sparsity={"ff": "1:8"}, recipe_params={"beta_rule": "paper"}))
    assert paper.recipe_params["beta"] == 2e-4
    # an explicit beta is kept
    assert resolve(RunConfig(recipe="mdgf-linear", sparsity={"ff": "1:8"},
                             recipe_params={"beta": 0.5})).recipe_params == {"beta": 0.5}


def test_srste_keeps_its_rule_in_finetune():
    fine = make_recipe("sr-ste", {"ff": "2:4"}, finetune_frac=0.5).at(7, 10)
    assert (fine.phase, fine.rule, fine.srste_lambda) == ("finetune", "sr-ste", 2e-4)
    ste = make_recipe("sr-ste", {"ff": "2:4"}, finetune_frac=0.5, finetune_rule="ste").at(7, 10)
    assert (ste.phase, ste.rule, ste.srste_lambda) == ("finetune", "ste", 0.0)
    with pytest.raises(UserError) as err:
        make_recipe("sr-ste", {"ff": "2:4"}, finetune_rule="none")
    assert str(err.value) == "--finetune-rule: must be one of sr-ste, ste, got 'none'"
    with pytest.raises(UserError) as err:
        make_recipe("mdgf-exp", {"ff": "2:4"}, beta_rule="fast")
    assert str(err.value) == "--beta-rule: must be one of paper, paper-fraction, auto-70, got 'fast'"
