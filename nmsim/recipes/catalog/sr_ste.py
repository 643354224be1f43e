"""sr-ste (Zhou et al., ICLR 2021): the static recipe's masks; the gradient applied to W is
``g + lambda * (1 - m) * W``, lambda = 2e-4 by default. The fine-tune part keeps SR-STE (``finetune_rule="sr-ste"``,
the default: the paper's public code applies SR-STE whatever the epoch); ``finetune_rule="ste"`` is nmsim's
earlier choice (plain STE in fine-tune, like the other recipes)."""
from __future__ import annotations

import math

from nmsim.errors import UserError
from nmsim.recipes.base import Param, Recipe

DEFAULT_SRSTE_LAMBDA = 2e-4
FINETUNE_RULES = ("sr-ste", "ste")


class SRSTERecipe(Recipe):
    name = "sr-ste"
    style = ("tab:red", "o")
    order = 20
    sets = ("paper", "quick")
    params = (Param("srste_lambda", float, "SR-STE lambda (default 2e-4)"),
              Param("finetune_rule", str, "SR-STE's rule in fine-tune: sr-ste (default, as the paper's code) or ste"))

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

    @classmethod
    def trainer_params(cls, given, targets, dense_frac, finetune_frac, total_steps):
        """The fine-tune rule recorded, so that configs from before the rule read as what they ran."""
        return {**given, "finetune_rule": given.get("finetune_rule", FINETUNE_RULES[0])}

    @classmethod
    def legacy_params(cls, params):
        """Before the rule was recorded, fine-tune used plain STE."""
        return params if "finetune_rule" in params else {**params, "finetune_rule": "ste"}

    def _sparse_state(self, step, span, total_steps):
        return self._binary_state("sparse", self.targets, "sr-ste", self.params["srste_lambda"])

    def _finetune_state(self):
        if self.params["finetune_rule"] == "ste":
            return super()._finetune_state()
        return self._binary_state("finetune", self.targets, "sr-ste", self.params["srste_lambda"])


RECIPE = SRSTERecipe
