"""Recipes with a fixed binary mask: dense, static (STE) and SR-STE (Bambhaniya et al. 2024, the recipes compared).

* dense: no masks ever; the targets are kept only as selectors (all None), d and f are ignored.
* static: the final binary N:M mask of |W| from the start of the sparse part, straight-through gradient.
* sr-ste (Zhou et al., ICLR 2021): same masks; the gradient applied to W is ``g + lambda * (1 - m) * W``,
  lambda = 2e-4 by default. The fine-tune part keeps SR-STE (``finetune_rule="sr-ste"``, the default: the paper's
  public code applies SR-STE whatever the epoch); ``finetune_rule="ste"`` is nmsim's earlier choice (plain STE in
  fine-tune, like the other recipes).
"""
from __future__ import annotations

import math

from nmsim.errors import UserError
from nmsim.recipes.base import Recipe

DEFAULT_SRSTE_LAMBDA = 2e-4
FINETUNE_RULES = ("sr-ste", "ste")


class DenseRecipe(Recipe):
    name = "dense"
    style = ("black", "*")
    needs_targets = False

    def span(self, total_steps: int) -> tuple[int, int]:
        self._unit(total_steps)
        return 0, total_steps

    def _sparse_state(self, step, span, total_steps):
        return self._dense_state()


class StaticRecipe(Recipe):
    name = "static"
    style = ("tab:gray", "x")

    def _sparse_state(self, step, span, total_steps):
        return self._binary_state("sparse", self.targets)


class SRSTERecipe(Recipe):
    name = "sr-ste"
    style = ("tab:red", "o")
    param_names = ("srste_lambda", "finetune_rule")

    def __init__(self, targets, dense_frac=0.0, finetune_frac=0.0, steps_per_epoch=None, **params):
        params.setdefault("srste_lambda", DEFAULT_SRSTE_LAMBDA)
        params.setdefault("finetune_rule", FINETUNE_RULES[0])
        super().__init__(targets, dense_frac, finetune_frac, steps_per_epoch, **params)
        lam = self.params["srste_lambda"]
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
            raise UserError(f"SR-STE lambda must be a number >= 0, got {lam!r}", "--srste-lambda")
        self.params["srste_lambda"] = float(lam)
        if self.params["finetune_rule"] not in FINETUNE_RULES:
            raise UserError(f"must be one of {', '.join(FINETUNE_RULES)}, got {self.params['finetune_rule']!r}",
                            "--finetune-rule")

    def _sparse_state(self, step, span, total_steps):
        return self._binary_state("sparse", self.targets, "sr-ste", self.params["srste_lambda"])

    def _finetune_state(self):
        if self.params["finetune_rule"] == "ste":
            return super()._finetune_state()
        return self._binary_state("finetune", self.targets, "sr-ste", self.params["srste_lambda"])
