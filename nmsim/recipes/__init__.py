"""Training recipes as pure schedules of (step, total_steps); no torch. One module per recipe in ``catalog/``."""
from nmsim.recipes.base import PHASES, RULES, Param, Phase, Recipe, RecipeState
from nmsim.recipes.catalog.sr_ste import DEFAULT_SRSTE_LAMBDA, FINETUNE_RULES
from nmsim.recipes.decay import (AUTO_DECAY_FRACTION, BETA_RULES, DEFAULT_ZERO_THRESHOLD, PAPER_RUN_STEPS,
                                 TRAINER_BETA_RULE, auto_beta, rule_beta)
from nmsim.recipes.registry import (ALL_RECIPES, PAPER_RECIPES, PARAMS, QUICK_RECIPES, RECIPE_NAMES, RECIPE_SETS,
                                    RECIPES, given_params, make_recipe, parse_recipe_list, recipe_class, recipe_style,
                                    recipes_with_claim)
from nmsim.recipes.stepwise import geometric_sequence, stepwise_sequence

__all__ = [
    "PHASES", "RULES", "Param", "Phase", "Recipe", "RecipeState", "RECIPE_NAMES", "RECIPES", "make_recipe",
    "given_params", "recipe_class", "recipe_style", "recipes_with_claim", "PARAMS",
    "ALL_RECIPES", "PAPER_RECIPES", "QUICK_RECIPES", "RECIPE_SETS", "parse_recipe_list",
    "AUTO_DECAY_FRACTION", "DEFAULT_ZERO_THRESHOLD", "auto_beta", "DEFAULT_SRSTE_LAMBDA",
    "BETA_RULES", "PAPER_RUN_STEPS", "TRAINER_BETA_RULE", "rule_beta", "FINETUNE_RULES",
    "geometric_sequence", "stepwise_sequence",
]
