"""Recipe names -> classes; ``make_recipe`` is the one constructor the trainer, cost model and CLI use."""
from __future__ import annotations

from nmsim.errors import UserError
from nmsim.recipes.base import Recipe
from nmsim.recipes.binary import DenseRecipe, SRSTERecipe, StaticRecipe
from nmsim.recipes.decay import MDGFExp, MDGFLinear
from nmsim.recipes.stepwise import CustomRecipe, SDGFGeometric, SDGFStepwise

_CLASSES = (DenseRecipe, StaticRecipe, SRSTERecipe, MDGFLinear, MDGFExp, SDGFStepwise, SDGFGeometric,
            CustomRecipe)
RECIPES: dict[str, type[Recipe]] = {cls.name: cls for cls in _CLASSES}
RECIPE_NAMES: tuple[str, ...] = tuple(RECIPES)
# the one list a command means by "all": every recipe that needs no inputs beyond a plan (custom needs boundaries)
ALL_RECIPES: tuple[str, ...] = tuple(n for n in RECIPE_NAMES if n != "custom")
# the sparse recipes the SR-STE (Zhou et al., 2021) and decaying-mask (Kao et al., 2022) papers compare
PAPER_RECIPES: tuple[str, ...] = ("sr-ste", "mdgf-linear", "mdgf-exp", "sdgf-stepwise", "sdgf-geometric")
# one recipe of each family (SR-STE, decaying mask, decaying structure): the report's own quick trainer sweep
QUICK_RECIPES: tuple[str, ...] = ("sr-ste", "mdgf-exp", "sdgf-stepwise")
RECIPE_SETS: dict[str, tuple[str, ...]] = {"all": ALL_RECIPES, "paper": PAPER_RECIPES, "quick": QUICK_RECIPES}


def parse_recipe_list(text, where: str = "--recipes") -> list[str]:
    """The one grammar of every ``--recipes``: ``"sr-ste,mdgf-exp"``, a set name (``all``, ``paper``,
    ``quick``) or a mix,
    as text or a sequence -> canonical names in order, without duplicates. ``custom`` is refused: it needs
    boundaries, so it is priced one at a time (``nmsim schedule`` or the API)."""
    items = text if isinstance(text, (list, tuple)) else str(text).split(",")
    names = [str(t).strip().lower() for t in items if str(t).strip()]
    if not names:
        raise UserError("give at least one recipe", where)
    out: list[str] = []
    for name in names:
        if name == "custom":
            raise UserError("custom needs --boundaries; price it with nmsim schedule or the API", where)
        if name not in ALL_RECIPES and name not in RECIPE_SETS:
            raise UserError(f"unknown recipe {name!r} (valid: {', '.join(ALL_RECIPES)}; sets: "
                            f"{', '.join(RECIPE_SETS)})", where)
        out += [n for n in RECIPE_SETS.get(name, (name,)) if n not in out]
    return out


def make_recipe(name: str, targets=None, dense_frac: float = 0.0, finetune_frac: float = 0.0,
                steps_per_epoch: int | None = None, **params) -> Recipe:
    """Build a recipe by name.

    targets: the plan, in any form of :meth:`nmsim.sparsity.SparsityPlan.of` (``"ff=1:16,qk=1:4"``,
    ``{"ff": "1:16"}``, a SparsityPlan): rule key -> final pattern; dense_frac / finetune_frac: d and f;
    steps_per_epoch: switch at whole epochs (see nmsim.recipes.base); params: srste_lambda (sr-ste), beta and
    zero_threshold (mdgf-*), k / intervals (sdgf-geometric), boundaries (custom).
    """
    cls = RECIPES.get(str(name).strip().lower())
    if cls is None:
        raise UserError(f"unknown recipe {name!r} (valid: {', '.join(RECIPE_NAMES)})", "--recipe")
    return cls(targets or {}, dense_frac, finetune_frac, steps_per_epoch, **params)
