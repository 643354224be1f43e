"""One parser per list kind (recipes, patterns, hardware): every command goes through these."""
import pytest

from nmsim.errors import UserError
from nmsim.hardware import list_specs, parse_hardware_list
from nmsim.recipes import ALL_RECIPES, PAPER_RECIPES, RECIPE_NAMES, parse_recipe_list
from nmsim.sparsity.lists import parse_pattern_list, plan_text


def test_recipe_sets_and_order():
    assert ALL_RECIPES == tuple(n for n in RECIPE_NAMES if n != "custom")
    assert parse_recipe_list("all") == list(ALL_RECIPES)
    assert parse_recipe_list("paper") == list(PAPER_RECIPES)
    assert parse_recipe_list(" SR-STE , dense,sr-ste") == ["sr-ste", "dense"]
    assert parse_recipe_list(["dense", "paper"]) == ["dense", *PAPER_RECIPES]


@pytest.mark.parametrize("text,where,msg", [
    (",", "--recipes", "--recipes: give at least one recipe"),
    ("sr-ste,custom", "--recipes", "--recipes: custom needs --boundaries; price it with nmsim schedule or the API"),
    ("srste", "--recipe", "--recipe: unknown recipe 'srste' (valid: dense, static, sr-ste, mdgf-linear, mdgf-exp, "
                          "sdgf-stepwise, sdgf-geometric; sets: all, paper, quick)"),
])
def test_recipe_errors(text, where, msg):
    with pytest.raises(UserError) as exc:
        parse_recipe_list(text, where)
    assert str(exc.value) == msg


def test_pattern_list_canonical():
    assert parse_pattern_list("dense, 2:4,ff=1:8+qk=1:4,2:4") == ["dense", "2:4", "ff=1:8,qk=1:4"]
    assert [plan_text(p, "qk") for p in parse_pattern_list("dense,1:8,ff=1:4")] == ["dense", "qk=1:8", "ff=1:4"]
    with pytest.raises(UserError, match="no pattern given"):
        parse_pattern_list(" , ")
    with pytest.raises(UserError, match="not an N:M pattern: '1:x'"):
        parse_pattern_list("1:4,1:x")


def test_sweep_and_report_read_the_same_list():
    from nmsim.report.options import parse_patterns
    from nmsim.train.sweep import parse_patterns as sweep_patterns
    text = "1:8,ff=1:8+qk=1:4"
    assert parse_patterns(text) == ["dense", "ff=1:8", "ff=1:8,qk=1:4"]
    assert sweep_patterns(text) == [{"ff": "1:8"}, {"ff": "1:8", "qk": "1:4"}]


def test_hardware_list():
    assert parse_hardware_list("all") == list_specs()
    assert parse_hardware_list(" a100,h100,a100 ") == ["a100", "h100"]
    with pytest.raises(UserError, match="no hardware given"):
        parse_hardware_list(",")
    with pytest.raises(UserError, match="all stands alone"):
        parse_hardware_list("a100,all")


def test_budget_takes_plan_items(capsys):
    from nmsim.cli import main
    rc = main(["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--steps-per-epoch", "10",
               "--batch", "64", "--recipes", "sr-ste", "--patterns", "1:8,ff=1:8+qk=1:4", "--format", "csv"])
    out = capsys.readouterr().out
    assert rc == 0
    rows = out.splitlines()
    assert rows[1].startswith("sr-ste,ff=1:8,") and rows[2].startswith('sr-ste,"ff=1:8,qk=1:4",')
