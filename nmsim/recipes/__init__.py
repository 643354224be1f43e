"""Training recipes as pure schedules of (step, total_steps); no torch."""
from nmsim.recipes.base import PHASES, RULES, Phase, Recipe, RecipeState
from nmsim.recipes.decay import (AUTO_DECAY_FRACTION, BETA_RULES, DEFAULT_BETA, DEFAULT_ZERO_THRESHOLD, PAPER_RUN_STEPS,
                                 TRAINER_BETA_RULE, auto_beta, rule_beta)
from nmsim.recipes.binary import DEFAULT_SRSTE_LAMBDA, FINETUNE_RULES
from nmsim.recipes.registry import (ALL_RECIPES, PAPER_RECIPES, QUICK_RECIPES, RECIPE_NAMES, RECIPE_SETS, RECIPES,
                                    make_recipe, parse_recipe_list)
from nmsim.recipes.stepwise import geometric_sequence, stepwise_sequence

__all__ = [
    "PHASES", "RULES", "Phase", "Recipe", "RecipeState", "RECIPE_NAMES", "RECIPES", "make_recipe",
    "ALL_RECIPES", "PAPER_RECIPES", "QUICK_RECIPES", "RECIPE_SETS", "parse_recipe_list",
    "AUTO_DECAY_FRACTION", "DEFAULT_BETA", "DEFAULT_ZERO_THRESHOLD", "auto_beta", "DEFAULT_SRSTE_LAMBDA",
    "BETA_RULES", "PAPER_RUN_STEPS", "TRAINER_BETA_RULE", "rule_beta", "FINETUNE_RULES",
    "geometric_sequence", "stepwise_sequence",
]
