"""Recipes whose default parameters must fit the model: SDGF-geometric's k.

SDGF-geometric starts at ``(k*N):(k*M)`` (the paper's k = 16; the public code uses 8). A block of ``k*M`` values
must tile every sparsified layer's reduction dimension, which small models do not always allow (``ff=1:8`` with
k = 16 needs blocks of 128 in a 64-wide layer). :func:`fitting_recipe` builds the recipe with its defaults and,
when k was not chosen by the user and the default does not fit, takes the largest k in :data:`FALLBACK_K` that
does and says so in the returned note. A k the user chose is never changed.
"""
from __future__ import annotations

from typing import Callable

from nmsim.errors import UserError
from nmsim.recipes.registry import make_recipe

FALLBACK_K = (8, 4, 2)


def _fits(recipe, check: Callable, total: int) -> None:
    for phase in recipe.phases(total):
        check(phase.state)


def fitting_recipe(name: str, targets: dict, check: Callable, total: int, dense_frac: float = 0.0,
                   finetune_frac: float = 0.0, steps_per_epoch: int | None = None, **params):
    """``(recipe, note)``: ``make_recipe(...)`` whose every phase passes ``check(state)`` (which raises UserError).

    The note is ``""`` unless SDGF-geometric fell back from the default k; the recipe's ``params["k"]`` is the k
    used. Raises the first UserError when nothing fits.
    """
    recipe = make_recipe(name, targets, dense_frac, finetune_frac, steps_per_epoch=steps_per_epoch, **params)
    try:
        _fits(recipe, check, total)
        return recipe, ""
    except UserError as first:
        if recipe.name != "sdgf-geometric" or "k" in params or "intervals" in params:
            raise
        for k in FALLBACK_K:
            alt = make_recipe(name, targets, dense_frac, finetune_frac, steps_per_epoch=steps_per_epoch,
                              **params, k=k)
            try:
                _fits(alt, check, total)
            except UserError:
                continue
            return alt, f"sdgf-geometric uses k={k}: the paper's k=16 does not fit ({first.message})"
        raise
