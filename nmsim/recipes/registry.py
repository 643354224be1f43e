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


def make_recipe(name: str, targets=None, dense_frac: float = 0.0, finetune_frac: float = 0.0,
                steps_per_epoch: int | None = None, **params) -> Recipe:
    """Build a recipe by name.

    targets: selector -> final NMPattern (or "1:16"/"dense" strings); dense_frac / finetune_frac: d and f;
    steps_per_epoch: switch at whole epochs (see nmsim.recipes.base); params: srste_lambda (sr-ste), beta and
    zero_threshold (mdgf-*), k / intervals (sdgf-geometric), boundaries (custom).
    """
    cls = RECIPES.get(str(name).strip().lower())
    if cls is None:
        raise UserError(f"unknown recipe {name!r} (valid: {', '.join(RECIPE_NAMES)})", "--recipe")
    return cls(targets or {}, dense_frac, finetune_frac, steps_per_epoch, **params)
