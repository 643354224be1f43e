"""The recipe parameter flags of every command that builds a recipe (``train``, ``sweep``, ``schedule``), from
the recipes' own parameters (:data:`nmsim.recipes.PARAMS`): ``--beta-rule`` -> ``beta_rule``, read back by
:func:`nmsim.recipes.given_params`."""
from __future__ import annotations

from nmsim.recipes import PARAMS

FLAGS = tuple(p for p in PARAMS if p.kind is not None)
NAMES = tuple(p.name for p in FLAGS)


def add_recipe_flags(p, trainer: bool) -> None:
    """Add the recipe parameter flags to parser ``p``; ``trainer``: the command trains (defaults the trainer's)."""
    for param in FLAGS:
        text = param.help
        if param.choices:
            default = param.trainer_default if trainer and param.trainer_default is not None else param.default
            text += ": " + ", ".join(f"{v} ({w}{'; default' if v == default else ''})"
                                     for v, w in param.choices.items())
        p.add_argument(param.flag, type=param.kind, help=text.replace("%", "%%"))
