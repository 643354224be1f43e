"""sdgf-geometric (Bambhaniya et al. 2024), factor k (a power of two >= 2): k*N:k*M, ..., 2N:2M, N:M, i.e.
log2(k)+1 intervals. Paper: k = 16 (five intervals; 1:8 -> 16:128, 8:64, 4:32, 2:16, 1:8, the default); public
code: k = 8 (four). A block of k*M values must tile every sparsified layer's reduction dimension: where the
default k does not fit a small model, smaller ones are tried (:mod:`nmsim.recipes.fitting`)."""
from __future__ import annotations

import math

from nmsim.errors import UserError
from nmsim.recipes.base import Param
from nmsim.recipes.stepwise import IntervalRecipe, geometric_sequence

DEFAULT_K = 16


class SDGFGeometric(IntervalRecipe):
    name = "sdgf-geometric"
    style = ("tab:purple", "v")
    order = 60
    sets = ("paper",)
    claims = ("dense-quality", "iso-flop-vs-sparse", "iso-flop-vs-dense", "vs-srste")
    params = (Param("k", int, "SDGF-geometric factor k (paper 16, public code 8)", default=DEFAULT_K),
              Param("intervals", int, "SDGF-geometric number of intervals (default log2(k)+1)"))
    fallback = ("k", (8, 4, 2))
    fallback_unless = ("k", "intervals")

    def __init__(self, targets, dense_frac=0.0, finetune_frac=0.0, steps_per_epoch=None, **params):
        super().__init__(targets, dense_frac, finetune_frac, steps_per_epoch, **params)
        k, intervals = self.params.get("k"), self.params.get("intervals")
        if intervals is not None:
            if isinstance(intervals, bool) or not isinstance(intervals, int) or intervals < 2:
                raise UserError(f"intervals must be an integer >= 2, got {intervals!r}", "--intervals")
            if k is None:
                k = 2 ** (intervals - 1)
        k = DEFAULT_K if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or k < 2 or k & (k - 1):
            raise UserError(f"k must be a power of two >= 2 (paper 16, public code 8), got {k!r}", "--k")
        if intervals is not None and intervals != int(math.log2(k)) + 1:
            raise UserError(f"k={k} gives log2(k)+1 = {int(math.log2(k)) + 1} intervals, not {intervals}",
                            "--intervals")
        self.params = {"k": k, "intervals": int(math.log2(k)) + 1}

    def _sequence(self, target):
        return geometric_sequence(target, self.params["k"])


RECIPE = SDGFGeometric
