"""MDGF: mask decay gradient flow (Bambhaniya et al. 2024: MDGF-linear and MDGF-exponential, each a module in
``catalog/``).

The forward uses ``W~ = W * (m + D(j) * (1 - m))`` with m the target N:M mask of |W|, recomputed every step,
and the gradient wrt W~ applied to W unchanged (straight-through). ``j`` counts steps from the start of the
sparse part (``j = step`` when d = 0).

* linear: ``D(j) = max(1 - beta * j, 0)``, default beta = 2e-4 (reaches exactly 0 at j = 5,000);
* exponential: ``D(j) = exp(-beta * j)``, default beta = 1e-4 (D(10,920) = 0.3355, D(76,440) ~ 4.8e-4).

Pricing. W~ is dense while D > 0, so the GEMM cannot exploit the pattern. For cost purposes D counts as zero
once ``D < zero_threshold``; from that step the state's phase is "sparse", ``cost_patterns`` = the targets and
``blend`` is False (``decay`` still reports the exact D, so the trainer may keep blending).

Default ``zero_threshold = 2**-11 ~ 4.88e-4``: the unit roundoff of fp16 (and half the bf16 ulp of 2**-8 is
coarser still). A pruned weight scaled by D below it is smaller than the rounding error of a kept weight of the
same magnitude, so the dense W~ GEMM and the sparse W*m GEMM agree to working precision. It also reproduces
the paper's recipe: beta = 1e-4 reaches it at j = 76,247 and the paper calls D(76,440) ~ 4.8e-4 "~0", at
~70 % of its 109,200-step run.

Short runs (``beta_rule``). The paper's betas are per-step constants for a run of ``PAPER_RUN_STEPS`` = 109,200
steps (ViT-B/16, 350 epochs of 312 steps at global batch 4,096; its D(10,920) and D(76,440) checks sit at 10 % and
70 % of that run). A run of a few hundred steps with the same constant would never leave the dense forward. The
rules, when no explicit ``beta`` is given:

* ``paper``: the paper's constant per step (linear 2e-4, exp 1e-4); the cost model's default, right for
  ImageNet-length runs;
* ``paper-fraction``: the paper's constant scaled by ``PAPER_RUN_STEPS / L`` (L = steps of the sparse part; the
  paper's configs have d = f = 0, so its sparse part is its run): D takes the paper's value at the same fraction
  of the run (linear reaches 0 at 4.58 % of it, exp reaches the zero threshold at 69.8 %). The trainer's default:
  it keeps the shape of the paper's D curve, which is what a short run can reproduce;
* ``auto-70``: nmsim's earlier choice, D reaches the zero threshold at 70 % of the sparse part for both forms
  (the linear form then decays about 15x later, relative to the run, than the paper's).
"""
from __future__ import annotations

import math

from nmsim.errors import UserError
from nmsim.recipes.base import Param, Recipe, RecipeState

DEFAULT_ZERO_THRESHOLD = 2.0**-11
AUTO_DECAY_FRACTION = 0.7  # auto beta: D reaches the zero threshold at 70 % of the sparse part
PAPER_RUN_STEPS = 109_200  # ViT-B/16: 350 epochs x 312 steps (arXiv 2402.04744; public vit_base_training.yaml)
# the rules as the help text words them
BETA_RULE_WORDS = {"paper": "the paper's constant", "paper-fraction": "the paper's D at the same fraction of the run",
                   "auto-70": "D ~0 at 70% of the sparse part"}
BETA_RULES = tuple(BETA_RULE_WORDS)
TRAINER_BETA_RULE = "paper-fraction"


def auto_beta(recipe, total_steps: int) -> float:
    """The beta that makes an MDGF recipe's decay reach its zero threshold at ``AUTO_DECAY_FRACTION`` of its
    sparse part in a run of ``total_steps`` (the paper's fixed betas assume ImageNet-length runs), to 6 digits."""
    start, stop = recipe.span(total_steps)
    length = max(1, round(AUTO_DECAY_FRACTION * (stop - start)))
    return float(f"{recipe.threshold_beta(length):.6g}")


def rule_beta(recipe, total_steps: int, rule: str) -> float:
    """The beta of ``rule`` (see the module docstring) for an MDGF recipe in a run of ``total_steps``, to 6
    digits (``paper``: the paper's constant as is)."""
    if rule == "paper":
        return recipe.default_beta
    if rule == "auto-70":
        return auto_beta(recipe, total_steps)
    start, stop = recipe.span(total_steps)
    return float(f"{recipe.default_beta * PAPER_RUN_STEPS / max(1, stop - start):.6g}")


def _number(value, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{what} must be a finite number, got {value!r}", where)
    return float(value)


class MDGFRecipe(Recipe):
    """Decaying mask; a subclass gives ``default_beta`` (the paper's), ``decay`` and ``threshold_beta``."""

    params = (Param("beta", float, "MDGF decay rate per step (default: by --beta-rule)"),
              Param("zero_threshold", float, "MDGF: D below this counts as 0 for pricing (default 2**-11)"),
              Param("beta_rule", str, "MDGF beta without --beta", BETA_RULE_WORDS, "paper", TRAINER_BETA_RULE))
    default_beta: float   # the paper's, per step

    @classmethod
    def trainer_params(cls, given, targets, dense_frac, finetune_frac, total_steps):
        """Without an explicit beta, the trainer's rule and the beta it gives the run, recorded."""
        if "beta" in given:
            return dict(given)
        params = {**given, "beta_rule": given.get("beta_rule", TRAINER_BETA_RULE)}
        return {**params, "beta": cls(targets, dense_frac, finetune_frac, **params).beta_for(total_steps)}

    @classmethod
    def legacy_params(cls, params):
        """Before the rule was recorded, an explicit beta came from the ``auto-70`` rule."""
        return {"beta_rule": "auto-70", **params} if "beta" in params and "beta_rule" not in params else params

    def __init__(self, targets, dense_frac=0.0, finetune_frac=0.0, steps_per_epoch=None, **params):
        rule = params.setdefault("beta_rule", "paper")
        if rule not in BETA_RULES:
            raise UserError(f"must be one of {', '.join(BETA_RULES)}, got {rule!r}", "--beta-rule")
        if rule == "paper":
            params.setdefault("beta", self.default_beta)
        params.setdefault("zero_threshold", DEFAULT_ZERO_THRESHOLD)
        super().__init__(targets, dense_frac, finetune_frac, steps_per_epoch, **params)
        if self.params.get("beta") is not None:  # else beta_for(total_steps) applies the rule
            beta = _number(self.params["beta"], "--beta", "beta")
            if beta <= 0:
                raise UserError(f"beta must be > 0, got {beta:g}", "--beta")
            self.params["beta"] = beta
        thr = _number(self.params["zero_threshold"], "--zero-threshold", "zero threshold")
        if not 0 <= thr <= 1:
            raise UserError(f"zero threshold must be in [0, 1], got {thr:g}", "--zero-threshold")
        self.params["zero_threshold"] = thr

    def beta_for(self, total_steps: int) -> float:
        """The beta in force in a run of ``total_steps``: the explicit one, else its rule's."""
        beta = self.params.get("beta")
        return beta if beta is not None else rule_beta(self, total_steps, self.params["beta_rule"])

    def decay(self, j: int, beta: float | None = None) -> float:
        """D(j), j = steps since the start of the sparse part (``beta``: default the explicit one)."""
        raise NotImplementedError

    def threshold_beta(self, length: int) -> float:
        """The beta with which D reaches the zero threshold ``length`` steps into the sparse part."""
        raise NotImplementedError

    def _beta(self, beta: float | None) -> float:
        return self.params["beta"] if beta is None else beta

    def _sparse_state(self, step, span, total_steps):
        d = self.decay(step - span[0], self.beta_for(total_steps))
        masks = dict(self.targets)
        if d >= self.params["zero_threshold"]:
            return RecipeState("decay", masks, d, "ste", 0.0, {k: None for k in masks}, True, True)
        return RecipeState("sparse", masks, d, "ste", 0.0, dict(masks), True, False)

    def zero_step(self, total_steps: int) -> int:
        """First step of the sparse part where D < zero_threshold (``finetune_start`` if never)."""
        start, hi = self.span(total_steps)
        lo, thr, beta = start, self.params["zero_threshold"], self.beta_for(total_steps)
        while lo < hi:  # D is non-increasing: bisect on the same function at() uses
            mid = (lo + hi) // 2
            if self.decay(mid - start, beta) < thr:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _change_points(self, span, total_steps):
        return [self.zero_step(total_steps)]
