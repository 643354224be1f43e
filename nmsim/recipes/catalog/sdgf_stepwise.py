"""sdgf-stepwise (Bambhaniya et al. 2024), target N:M: (M-1):M, then M/2:M, M/4:M, ... down to N:M, one interval
each; see :mod:`nmsim.recipes.stepwise`."""
from __future__ import annotations

from nmsim.recipes.stepwise import IntervalRecipe, stepwise_sequence


class SDGFStepwise(IntervalRecipe):
    name = "sdgf-stepwise"
    style = ("tab:blue", "^")
    order = 50
    sets = ("paper", "quick")
    claims = ("iso-flop-vs-sparse", "iso-flop-vs-dense", "vs-srste")

    def __init__(self, targets, dense_frac=0.0, finetune_frac=0.0, steps_per_epoch=None, **params):
        super().__init__(targets, dense_frac, finetune_frac, steps_per_epoch, **params)
        for target in self.targets.values():
            if target is not None:
                stepwise_sequence(target)

    def _sequence(self, target):
        return stepwise_sequence(target)


RECIPE = SDGFStepwise
