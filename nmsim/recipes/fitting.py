"""Recipes whose default parameters must fit the model (a recipe's ``fallback``: SDGF-geometric's k).

SDGF-geometric starts at ``(k*N):(k*M)`` (the paper's k = 16; the public code uses 8). A block of ``k*M`` values
must tile every sparsified layer's reduction dimension, which small models do not always allow (``ff=1:8`` with
k = 16 needs blocks of 128 in a 64-wide layer). :func:`fitting_recipe` builds the recipe with its defaults and,
when the parameter was not chosen by the user and the default does not fit, takes the first of the recipe's
fallback values that does and says so in the returned note. A value the user chose is never changed.
"""
from __future__ import annotations

from typing import Callable

from nmsim.errors import UserError
from nmsim.recipes.registry import make_recipe


def _fits(recipe, check: Callable, total: int) -> None:
    for phase in recipe.phases(total):
        check(phase.state)


def fitting_recipe(name: str, targets: dict, check: Callable, total: int, dense_frac: float = 0.0,
                   finetune_frac: float = 0.0, steps_per_epoch: int | None = None, **params):
    """``(recipe, note)``: ``make_recipe(...)`` whose every phase passes ``check(state)`` (which raises UserError).

    The note is ``""`` unless the recipe fell back from a default (SDGF-geometric's k); the recipe's ``params``
    hold the value used. Raises the first UserError when nothing fits.
    """
    recipe = make_recipe(name, targets, dense_frac, finetune_frac, steps_per_epoch=steps_per_epoch, **params)
    try:
        _fits(recipe, check, total)
        return recipe, ""
    except UserError as first:
        if recipe.fallback is None or any(p in params for p in recipe.fallback_unless):
            raise
        key, values = recipe.fallback
        for value in values:
            alt = make_recipe(name, targets, dense_frac, finetune_frac, steps_per_epoch=steps_per_epoch,
                              **{**params, key: value})
            try:
                _fits(alt, check, total)
            except UserError:
                continue
            return alt, (f"{recipe.name} uses {key}={value}: the paper's {key}={recipe.params[key]} does not fit "
                         f"({first.message})")
        raise
