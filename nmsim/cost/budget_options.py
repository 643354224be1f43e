"""``budget``'s question checked before anything is traced or priced, without pandas: recipe names, plans,
prices, numbers, the budget, the optimizer, the settings the spec refuses and the run length.
:func:`nmsim.cost.budget.budget_table` starts with :func:`check_budget`, and ``nmsim budget`` calls it before
importing the pricing code: a mistake is one line, said before the heavy imports."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nmsim.errors import UserError


def parse_budget(text) -> float | None:
    """``--budget``: ``dense`` (None: what dense spends over the run) or a positive FLOP count."""
    if text is None or str(text).strip().lower() == "dense":
        return None
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"expected 'dense' or a FLOP count like 3.5e21, got {text!r}", "--budget") from None
    if not value > 0 or value == float("inf"):
        raise UserError(f"must be a positive FLOP count, got {text!r}", "--budget")
    return value


def parse_transposable(text) -> bool | None:
    """``--transposable``: auto (None), yes or no."""
    if text is None or isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("auto", ""):
        return None
    if value in ("yes", "true", "1"):
        return True
    if value in ("no", "false", "0"):
        return False
    raise UserError(f"expected auto, yes or no, got {text!r}", "--transposable")


def budget_patterns(text: str | None) -> list:
    """``--patterns``: a bare N:M retargets every rule of --sparsity, a plan item replaces it ([None]: none given)."""
    from nmsim.sparsity.lists import parse_pattern_list
    from nmsim.sparsity.pattern import NMPattern
    from nmsim.sparsity.plan import SparsityPlan
    if not text:
        return [None]
    out = []
    for item in parse_pattern_list(text):
        if item == "dense":
            raise UserError("patterns must be N:M (dense is the dense recipe)", "--patterns")
        out.append(SparsityPlan.parse(item, "--patterns") if "=" in item else NMPattern.parse(item, "--patterns"))
    return out


@dataclass
class BudgetQuestion:
    """A checked budget question: recipe names, the plans priced, prices, the model and the run length."""
    names: list
    targets: list
    prices: dict
    config: Any
    length: Any
    transposable: bool | None


def check_budget(workload, sparsity: str, *, recipes: str = "all", patterns: str | None = None, epochs=None,
                 dataset_size=None, steps_per_epoch=None, steps=None, samples=None, tokens=None,
                 batch: int | None = None, dense_frac: float = 0.0, finetune_frac: float = 0.0, beta=None, k=None,
                 hardware=None, dtype=None, weight_dtype=None, kernel=None, transposable=None,
                 optimizer: str = "adamw", budget="dense", seq: int | None = None,
                 price_per_hour=None) -> BudgetQuestion:
    """Every option of :func:`nmsim.cost.budget.budget_table` checked, in the order its errors are said."""
    from nmsim.recipes import parse_recipe_list
    from nmsim.sparsity.plan import SparsityPlan

    names = parse_recipe_list(recipes)   # names and plans first
    base_plan = SparsityPlan.parse(sparsity)
    items = budget_patterns(patterns)
    if hardware:
        from nmsim.hardware import load
        load(hardware)
    from nmsim.cost.economics import parse_overrides
    prices = price_per_hour if isinstance(price_per_hour, dict) else parse_overrides(price_per_hour)
    if batch is not None and batch <= 0:
        raise UserError(f"must be a positive integer, got {batch}", "--batch")
    if beta is not None and beta <= 0:
        raise UserError(f"beta must be > 0, got {beta:g}", "--beta")
    if base_plan.is_dense:
        raise UserError("give the sparse targets, e.g. --sparsity ff=1:16", "--sparsity")
    parse_budget(budget)
    from nmsim.cost.vector_terms import optimizer_flops_per_param
    optimizer_flops_per_param(optimizer)
    trans = parse_transposable(transposable)
    targets = [base_plan if item is None else item if isinstance(item, SparsityPlan)
               else base_plan.with_pattern(item) for item in items]
    from nmsim.graph import load_workload, resolve_workload
    cfg = load_workload(workload)
    for plan in targets:
        plan.check_depth(cfg)   # a layer past the model
    from nmsim.cost.run_length import run_length
    if seq is not None:   # a text model's sequence length: tokens per sample, and per step x batch
        cfg = resolve_workload(workload, seq_len=seq)
    length = run_length(batch=batch or cfg.batch, tokens_per_sample=cfg.tokens, batch_given=batch is not None,
                        epochs=epochs, dataset_size=dataset_size, steps_per_epoch=steps_per_epoch, steps=steps,
                        samples=samples, tokens=tokens)
    from nmsim.recipes import make_recipe, recipe_class
    make_recipe("dense", None, dense_frac, finetune_frac)   # the fractions, as every recipe checks them
    given = {name: value for name, value in (("beta", beta), ("k", k)) if value is not None}
    for name in names:   # and the parameters given, by each recipe that takes them
        mine = {p: v for p, v in given.items() if p in recipe_class(name).param_names}
        if mine:
            make_recipe(name, targets[0], dense_frac, finetune_frac, **mine)
    if hardware:   # last: the execution models import numpy
        from nmsim.execution.settings import check_settings
        check_settings(hardware, dtype, weight_dtype=weight_dtype, kernel=kernel, plans=targets)
    return BudgetQuestion(names, targets, prices, cfg, length, trans)
