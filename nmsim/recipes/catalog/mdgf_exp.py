"""mdgf-exp (Bambhaniya et al. 2024): ``D(j) = exp(-beta * j)``, default beta = 1e-4 (D(10,920) = 0.3355,
D(76,440) ~ 4.8e-4); see :mod:`nmsim.recipes.decay`."""
from __future__ import annotations

import math

from nmsim.recipes.decay import MDGFRecipe


class MDGFExp(MDGFRecipe):
    name = "mdgf-exp"
    style = ("tab:green", "D")
    order = 40
    sets = ("paper", "quick")
    claims = ("iso-flop-vs-sparse", "iso-flop-vs-dense", "vs-srste")
    default_beta = 1e-4

    def decay(self, j: int, beta: float | None = None) -> float:
        return math.exp(-self._beta(beta) * j)

    def threshold_beta(self, length: int) -> float:
        return math.log(1.0 / self.params["zero_threshold"]) / length


RECIPE = MDGFExp
