"""Training recipes as pure schedules of (step, total_steps); no torch."""
from nmsim.recipes.base import PHASES, RULES, Phase, Recipe, RecipeState
from nmsim.recipes.decay import DEFAULT_BETA, DEFAULT_ZERO_THRESHOLD
from nmsim.recipes.binary import DEFAULT_SRSTE_LAMBDA
from nmsim.recipes.registry import RECIPE_NAMES, RECIPES, make_recipe
from nmsim.recipes.stepwise import geometric_sequence, stepwise_sequence

__all__ = [
    "PHASES", "RULES", "Phase", "Recipe", "RecipeState", "RECIPE_NAMES", "RECIPES", "make_recipe",
    "DEFAULT_BETA", "DEFAULT_ZERO_THRESHOLD", "DEFAULT_SRSTE_LAMBDA", "geometric_sequence", "stepwise_sequence",
]
