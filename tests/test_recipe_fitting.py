"""SDGF-geometric's default k fitted to the model, said in a note; a user's k is never changed."""
from __future__ import annotations

import pytest

from nmsim.errors import UserError
from nmsim.recipes.fitting import fitting_recipe
from nmsim.sparsity.pattern import NMPattern as P


def width_check(width: int):
    def check(state):
        for pattern in state.masks.values():
            if pattern is not None and width % pattern.m:
                raise UserError(f"M={pattern.m} does not divide {width}")
    return check


def test_default_k_falls_back_to_the_largest_that_fits():
    recipe, note = fitting_recipe("sdgf-geometric", {"ff": P(1, 8)}, width_check(64), 100)
    assert recipe.params["k"] == 8  # 8:64 tiles 64; the paper's 16:128 does not
    assert note == "sdgf-geometric uses k=8: the paper's k=16 does not fit (M=128 does not divide 64)"
    recipe, note = fitting_recipe("sdgf-geometric", {"ff": P(1, 8)}, width_check(768), 100)
    assert (recipe.params["k"], note) == (16, "")


def test_user_k_and_other_recipes_are_not_changed():
    with pytest.raises(UserError, match="M=128 does not divide 64"):
        fitting_recipe("sdgf-geometric", {"ff": P(1, 8)}, width_check(64), 100, k=16)
    with pytest.raises(UserError, match="M=16 does not divide 8"):
        fitting_recipe("sr-ste", {"ff": P(1, 16)}, width_check(8), 100)
    with pytest.raises(UserError, match="M=512 does not divide 4"):
        fitting_recipe("sdgf-geometric", {"ff": P(1, 32)}, width_check(4), 100)  # even k=2 gives 2:64
