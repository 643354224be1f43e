"""The recipe registry: one module per recipe in nmsim/recipes/catalog/, and nothing else keyed by recipe names."""
import ast
import sys
from pathlib import Path

from nmsim.recipes import RECIPE_NAMES, RECIPE_SETS, RECIPES, catalog, recipes_with_claim
from nmsim.recipes.registry import discover

ROOT = Path(__file__).resolve().parents[1]


def test_every_catalog_module_is_a_recipe_in_list_order():
    modules = sorted(p.stem for p in Path(catalog.__file__).parent.glob("*.py") if p.stem != "__init__")
    assert modules == sorted(n.replace("-", "_") for n in RECIPE_NAMES)
    assert RECIPE_NAMES == ("dense", "static", "sr-ste", "mdgf-linear", "mdgf-exp", "sdgf-stepwise",
                            "sdgf-geometric", "custom")
    assert RECIPE_SETS == {"all": RECIPE_NAMES[:-1],
                           "paper": ("sr-ste", "mdgf-linear", "mdgf-exp", "sdgf-stepwise", "sdgf-geometric"),
                           "quick": ("sr-ste", "mdgf-exp", "sdgf-stepwise")}
    assert recipes_with_claim("dense-quality") == ("sdgf-geometric",)
    assert recipes_with_claim("vs-srste") == ("mdgf-linear", "mdgf-exp", "sdgf-stepwise", "sdgf-geometric")


def _name_comparisons(path: Path, names: set, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            hits = {n.value for n in ast.walk(node) if isinstance(n, ast.Constant)} & names
            found += [f"{path.relative_to(root)}:{node.lineno}: {sorted(hits)}"] if hits else []
    return found


def test_no_code_outside_the_catalog_compares_with_a_recipe_name():
    """Behaviour belongs to the recipe's module; dense and SR-STE are named only as the references."""
    names = set(RECIPE_NAMES) - {"dense", "sr-ste"}
    found = [hit for path in sorted((ROOT / "nmsim").rglob("*.py")) if "catalog" not in path.parts
             for hit in _name_comparisons(path, names)]
    assert found == []


def test_the_check_finds_a_comparison(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("if name in ('mdgf-linear', 'x'):\n    pass\nok = name == 'dense'\n")
    assert _name_comparisons(probe, {"mdgf-linear"}, tmp_path) == ["probe.py:1: ['mdgf-linear']"]


def test_a_new_recipe_is_one_new_module(tmp_path, monkeypatch):
    (tmp_path / "mdgf_cosine.py").write_text(
        "import math\nfrom nmsim.recipes.decay import MDGFRecipe\n\n\n"
        "class MDGFCosine(MDGFRecipe):\n"
        "    name, order, default_beta, claims = 'mdgf-cosine', 45, 2e-4, ('vs-srste',)\n\n"
        "    def decay(self, j, beta=None):\n"
        "        return 0.5 * (1.0 + math.cos(math.pi * min(self._beta(beta) * j, 1.0)))\n\n\n"
        "RECIPE = MDGFCosine\n")
    monkeypatch.setattr(catalog, "__path__", [*catalog.__path__, str(tmp_path)])
    try:
        found = {cls.name: cls for cls in discover()}
    finally:
        sys.modules.pop(f"{catalog.__name__}.mdgf_cosine", None)
    assert list(found) == ["dense", "static", "sr-ste", "mdgf-linear", "mdgf-exp", "mdgf-cosine", "sdgf-stepwise",
                           "sdgf-geometric", "custom"]
    recipe = found["mdgf-cosine"]({"ff": "1:8"}, beta_rule="paper")
    assert recipe.param_names == RECIPES["mdgf-exp"].param_names == ("beta", "zero_threshold", "beta_rule")
    assert recipe.decay(2_500) == 0.5 and recipe.decay(5_000) == 0.0
    assert [p.label for p in recipe.phases(10_000)] == ["decay ff=1:8", "sparse ff=1:8"]
