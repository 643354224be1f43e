"""static: the final binary N:M mask of |W| from the start of the sparse part, straight-through gradient."""
from __future__ import annotations

from nmsim.recipes.base import Recipe


class StaticRecipe(Recipe):
    name = "static"
    style = ("tab:gray", "x")
    order = 10

    def _sparse_state(self, step, span, total_steps):
        return self._binary_state("sparse", self.targets)


RECIPE = StaticRecipe
