"""dense: no masks ever; the targets are kept only as selectors (all None), d and f are ignored."""
from __future__ import annotations

from nmsim.recipes.base import Recipe


class DenseRecipe(Recipe):
    name = "dense"
    style = ("black", "*")
    order = 0
    needs_targets = False

    def span(self, total_steps: int) -> tuple[int, int]:
        self._unit(total_steps)
        return 0, total_steps

    def _sparse_state(self, step, span, total_steps):
        return self._dense_state()


RECIPE = DenseRecipe
