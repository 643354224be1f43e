"""Training recipes as pure schedules of (step, total_steps); no torch."""
from nmsim.recipes.base import PHASES, RULES, Phase, Recipe, RecipeState
from nmsim.recipes.decay import AUTO_DECAY_FRACTION, DEFAULT_BETA, DEFAULT_ZERO_THRESHOLD, auto_beta
from nmsim.recipes.binary import DEFAULT_SRSTE_LAMBDA
from nmsim.recipes.registry import (ALL_RECIPES, PAPER_RECIPES, QUICK_RECIPES, RECIPE_NAMES, RECIPE_SETS, RECIPES,
                                    make_recipe, parse_recipe_list)
from nmsim.recipes.stepwise import geometric_sequence, stepwise_sequence

__all__ = [
    "PHASES", "RULES", "Phase", "Recipe", "RecipeState", "RECIPE_NAMES", "RECIPES", "make_recipe",
    "ALL_RECIPES", "PAPER_RECIPES", "QUICK_RECIPES", "RECIPE_SETS", "parse_recipe_list",
    "AUTO_DECAY_FRACTION", "DEFAULT_BETA", "DEFAULT_ZERO_THRESHOLD", "auto_beta", "DEFAULT_SRSTE_LAMBDA", "geometric_sequence", "stepwise_sequence",
]
