"""Recipe schedules against Bambhaniya et al. 2024 and its public code (boundaries, D values, k=16 sequence)."""
import math
import subprocess
import sys

import pytest

from nmsim.errors import UserError
from nmsim.recipes import RECIPE_NAMES, make_recipe
from nmsim.sparsity.pattern import NMPattern

P = NMPattern.parse


def starts(recipe, total, spe=1, sel="ff"):
    """{start epoch: pattern string} of the recipe's phases."""
    return {p.start_step // spe: str(p.state.masks[sel]) for p in recipe.phases(total)}


PUBLIC = [  # the public code's interval boundaries (350 epochs, d = f = 0)
    ("sdgf-stepwise", "1:16", {}, {0: "15:16", 70: "8:16", 140: "4:16", 210: "2:16", 280: "1:16"}),
    ("sdgf-stepwise", "1:8", {}, {0: "7:8", 87: "4:8", 175: "2:8", 262: "1:8"}),
    ("sdgf-geometric", "1:8", {"k": 8}, {0: "8:64", 87: "4:32", 175: "2:16", 262: "1:8"}),
    ("sdgf-stepwise", "1:32", {}, {0: "31:32", 58: "16:32", 116: "8:32", 175: "4:32", 233: "2:32", 291: "1:32"}),
]


@pytest.mark.parametrize("name,target,params,expected", PUBLIC)
def test_public_code_boundaries_one_step_per_epoch(name, target, params, expected):
    assert starts(make_recipe(name, {"ff": P(target)}, **params), 350) == expected


@pytest.mark.parametrize("name,target,params,expected", PUBLIC)
def test_public_code_boundaries_epoch_granularity(name, target, params, expected):
    recipe = make_recipe(name, {"ff": P(target)}, steps_per_epoch=313, **params)
    phases = recipe.phases(350 * 313)
    assert all(p.start_step % 313 == 0 for p in phases)
    assert starts(recipe, 350 * 313, 313) == expected
    for epoch, pattern in expected.items():  # at() agrees at the first and last step of each epoch
        assert str(recipe.at(epoch * 313, 350 * 313).masks["ff"]) == pattern
        assert str(recipe.at(epoch * 313 + 312, 350 * 313).masks["ff"]) == pattern


def test_step_granularity_floors_in_steps():
    recipe = make_recipe("sdgf-stepwise", {"ff": P("1:8")})
    assert [p.start_step for p in recipe.phases(350 * 313)] == [0, 27387, 54775, 82162]


def test_paper_geometric_k16():
    recipe = make_recipe("sdgf-geometric", {"ff": P("1:8")})
    assert recipe.params == {"k": 16, "intervals": 5}
    assert [str(p.state.masks["ff"]) for p in recipe.phases(350)] == ["16:128", "8:64", "4:32", "2:16", "1:8"]
    assert all(p.state.density("ff") == 1 / 8 for p in recipe.phases(350))
    assert make_recipe("sdgf-geometric", {"ff": P("1:8")}, intervals=4).params["k"] == 8


def test_stepwise_sequences():
    def seq(t):
        return [str(p.state.masks["ff"]) for p in make_recipe("sdgf-stepwise", {"ff": P(t)}).phases(1000)]
    assert seq("2:4") == ["3:4", "2:4"]
    assert seq("1:4") == ["3:4", "2:4", "1:4"]
    assert seq("1:2") == ["1:2"]
    assert seq("3:6") == ["5:6", "3:6"]


def test_mdgf_exp_values():
    recipe = make_recipe("mdgf-exp", {"ff": P("1:16")})
    assert round(recipe.at(10_920, 109_200).decay, 4) == 0.3355
    assert recipe.at(76_440, 109_200).decay == pytest.approx(4.8e-4, rel=0.01)
    assert recipe.at(0, 100).decay == 1.0


def test_mdgf_linear_zero_at_5000():
    recipe = make_recipe("mdgf-linear", {"ff": P("1:8")})
    assert recipe.at(4_999, 10_000).decay > 0
    assert recipe.at(5_000, 10_000).decay == 0.0
    assert recipe.at(9_999, 10_000).decay == 0.0


def test_mdgf_pricing_switch_at_zero_threshold():
    recipe = make_recipe("mdgf-exp", {"ff": P("1:16")})
    thr = recipe.params["zero_threshold"]
    assert thr == 2.0**-11
    phases = recipe.phases(109_200)
    assert [p.state.phase for p in phases] == ["decay", "sparse"]
    switch = phases[1].start_step
    assert recipe.at(switch - 1, 109_200).decay >= thr > recipe.at(switch, 109_200).decay
    assert switch < 76_440  # the paper's "D ~ 0" point is priced sparse
    assert phases[0].state.cost_patterns == {"ff": None} and phases[0].state.blend
    assert phases[1].state.cost_patterns == {"ff": P("1:16")} and not phases[1].state.blend


def test_dense_warmup_offsets_decay_and_finetune_is_binary():
    recipe = make_recipe("mdgf-exp", {"ff": P("1:16")}, dense_frac=0.1, finetune_frac=0.2)
    assert recipe.span(1000) == (100, 800)
    assert recipe.at(99, 1000).phase == "dense" and recipe.at(99, 1000).decay == 1.0
    assert recipe.at(100, 1000).decay == 1.0  # j counts from the start of the sparse part (not /100)
    assert recipe.at(101, 1000).decay == pytest.approx(math.exp(-1e-4))
    fine = recipe.at(800, 1000)
    assert (fine.phase, fine.decay, fine.rule, fine.masks) == ("finetune", 0.0, "ste", {"ff": P("1:16")})
    assert [p.state.phase for p in recipe.phases(1000)] == ["dense", "decay", "finetune"]


def test_fractions_read_as_decimals():
    assert make_recipe("static", {"ff": P("1:4")}, dense_frac=0.29).span(100) == (29, 100)


def test_binary_recipes():
    static = make_recipe("static", {"ff": P("1:16"), "qk": P("1:4")}).at(0, 10)
    assert (static.rule, static.decay, static.srste_lambda, static.mask_recompute) == ("ste", 0.0, 0.0, True)
    assert static.cost_patterns == static.masks == {"ff": P("1:16"), "qk": P("1:4")}
    sr = make_recipe("sr-ste", {"ff": P("2:4")}).at(5, 10)
    assert (sr.rule, sr.srste_lambda) == ("sr-ste", 2e-4)
    dense = make_recipe("dense", {"ff": P("2:4")}, finetune_frac=0.5)
    assert [(p.state.phase, p.steps) for p in dense.phases(10)] == [("dense", 10)]
    assert dense.at(9, 10).masks == {"ff": None} and dense.dense_cost_steps(10) == 10


def test_selectors_switch_independently():
    recipe = make_recipe("sdgf-stepwise", {"ff": P("1:16"), "qk": P("1:4")})
    starts_ = [p.start_step for p in recipe.phases(60)]
    assert starts_ == sorted(set([0, 12, 24, 36, 48] + [0, 20, 40]))


def test_custom_boundaries():
    recipe = make_recipe("custom", {}, finetune_frac=0.2,
                         boundaries=[(0, {"ff": "4:8"}), (0.5, {"ff": "2:8", "qk": "1:4"})])
    assert recipe.targets == {"ff": P("2:8"), "qk": P("1:4")}
    assert [(p.start_step, p.label) for p in recipe.phases(100)] == [
        (0, "sparse ff=4:8"), (40, "sparse ff=2:8,qk=1:4"), (80, "finetune ff=2:8,qk=1:4")]


def test_describe_and_names():
    assert RECIPE_NAMES == ("dense", "static", "sr-ste", "mdgf-linear", "mdgf-exp", "sdgf-stepwise",
                            "sdgf-geometric", "custom")
    text = make_recipe("mdgf-exp", {"ff": P("1:16")}, dense_frac=0.05).describe()
    assert "mdgf-exp" in text and "ff=1:16" in text and "beta=0.0001" in text


BAD = [
    (dict(name="nope"), "--recipe", "unknown recipe 'nope'"),
    (dict(dense_frac=0.6, finetune_frac=0.4), "--finetune-frac", "must be < 1"),
    (dict(dense_frac=-0.1), "--dense-frac", "must be >= 0"),
    (dict(name="mdgf-exp", beta=0.0), "--beta", "beta must be > 0"),
    (dict(name="mdgf-linear", beta=-1e-3), "--beta", "beta must be > 0"),
    (dict(name="sr-ste", srste_lambda=-1.0), "--srste-lambda", "lambda"),
    (dict(name="sdgf-geometric", k=6), "--k", "power of two"),
    (dict(name="sdgf-stepwise", targets={"ff": P("3:8")}), "--sparsity", "cannot reach 3:8"),
    (dict(name="static", beta=1e-4), "--beta", "does not apply"),
    (dict(name="static", targets={}), "--sparsity", "needs at least one sparse target"),
]


@pytest.mark.parametrize("kwargs,where,text", BAD)
def test_bad_inputs(kwargs, where, text):
    kwargs = {"name": "static", "targets": {"ff": P("1:16")}, **kwargs}
    with pytest.raises(UserError) as err:
        make_recipe(kwargs.pop("name"), kwargs.pop("targets"), **kwargs)
    assert err.value.where == where and text in err.value.message


@pytest.mark.parametrize("step,total", [(-1, 10), (10, 10), (0, 0), (0, -5), (1.5, 10)])
def test_bad_steps(step, total):
    with pytest.raises(UserError):
        make_recipe("static", {"ff": P("1:16")}).at(step, total)


def test_epoch_granularity_needs_whole_epochs():
    with pytest.raises(UserError, match="whole number of epochs"):
        make_recipe("static", {"ff": P("1:16")}, steps_per_epoch=3).phases(10)


def test_no_torch_import():
    """nmsim/recipes/ never imports torch itself (nmsim.sparsity's package __init__ may, via the plan module)."""
    import ast
    import pathlib

    import nmsim.recipes
    for path in pathlib.Path(nmsim.recipes.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "torch" for n in names), path
    code = ("import sys, nmsim.sparsity.pattern; before = 'torch' in sys.modules; "
            "import nmsim.recipes, nmsim.recipes.timeline; assert before or 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_numpy_integers_accepted():
    np = pytest.importorskip("numpy")
    recipe = make_recipe("sdgf-stepwise", {"ff": P("1:8")}, steps_per_epoch=np.int64(1))
    assert str(recipe.at(np.int64(100), np.int64(350)).masks["ff"]) == "4:8"
    assert [type(p.start_step) for p in recipe.phases(np.int64(350))] == [int] * 4
