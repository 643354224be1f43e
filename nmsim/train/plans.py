"""The trainer's side of a plan (:class:`nmsim.sparsity.SparsityPlan`): a run config's ``sparsity`` mapping and
the plan a run stands for. No torch, so the CLI checks a plan before the trainer is imported."""
from __future__ import annotations

from nmsim.errors import UserError
from nmsim.sparsity.pattern import NMPattern
from nmsim.sparsity.plan import SparsityPlan


def parse_sparsity(text, where: str = "--sparsity") -> dict[str, str]:
    """A plan (any form of :meth:`nmsim.sparsity.SparsityPlan.of`) as the trainer's ``RunConfig.sparsity``:
    ``"ff=1:16,qk=1:4"`` -> ``{"ff": "1:16", "qk": "1:4"}``. The trainer swaps whole role groups for N:M
    layers, so a rule is ``SELECTOR=N:M`` (no layers, regular expression, direction or hierarchical pattern)."""
    plan = SparsityPlan.of(text, where)
    for rule in plan.rules:
        if rule.layers is not None or rule.selector.startswith("re:") or rule.selector == "all":
            raise UserError(f"the trainer takes role selectors without layers (e.g. ff=1:16), got {str(rule)!r}",
                            where)
        if rule.direction != "row":
            raise UserError(f"the trainer sets the direction for every layer with --direction, got {str(rule)!r}",
                            where)
        if rule.pattern is not None and not isinstance(rule.pattern, NMPattern):
            raise UserError(f"the trainer takes flat N:M patterns, got {str(rule)!r}", where)
    return plan.to_mapping()


def run_plan(recipe: str, sparsity) -> SparsityPlan:
    """A run's plan (dense for the dense recipe, whatever its targets) from its config's ``sparsity``: its
    ``label`` is what tables show, its ``slug`` the run folder's name."""
    return SparsityPlan.dense() if recipe == "dense" else SparsityPlan.of(sparsity or {}, "sparsity")
