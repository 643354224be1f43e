"""mdgf-linear (Bambhaniya et al. 2024): ``D(j) = max(1 - beta * j, 0)``, default beta = 2e-4 (D reaches exactly 0
at j = 5,000); see :mod:`nmsim.recipes.decay`."""
from __future__ import annotations

from nmsim.recipes.decay import MDGFRecipe


class MDGFLinear(MDGFRecipe):
    name = "mdgf-linear"
    style = ("tab:orange", "s")
    order = 30
    sets = ("paper",)
    claims = ("iso-flop-vs-sparse", "iso-flop-vs-dense", "vs-srste")
    default_beta = 2e-4

    def decay(self, j: int, beta: float | None = None) -> float:
        return max(1.0 - self._beta(beta) * j, 0.0)

    def threshold_beta(self, length: int) -> float:
        return 1.0 / length


RECIPE = MDGFLinear
