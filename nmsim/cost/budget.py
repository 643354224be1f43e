"""Iso-FLOP budgets: what a schedule spends, how long a recipe can train for a budget, FLOPs to an accuracy.

* :func:`schedule_flops` — FLOPs a recipe spends over ``total_steps`` (``measure`` = "flops" (matrix + vector,
  the default), "matrix_flops", or with hardware "seconds"/"joules").
* :func:`dense_budget` — "same as dense for E epochs": the dense recipe's spend over ``E * steps_per_epoch``.
* :func:`affordable` — the longest run a recipe can afford. A recipe is a schedule that *scales with its length*
  (interval boundaries are fractions of the run, MDGF's decay is per step), so its cost per step varies by
  phase and the total is not ``budget / cost_per_step``. We search over the total length: the total is
  non-decreasing in the length (up to boundary rounding of a step or an epoch), so doubling then bisection
  over whole units (epochs when the recipe switches at epochs, else steps) finds the largest length ``L``
  with ``spend(L) <= budget``; ``units_exact`` interpolates linearly between ``L`` and ``L + 1`` units.
* :func:`load_curve` / :func:`flops_to_accuracy` — an accuracy-vs-FLOPs curve (CSV with columns ``flops``,
  ``accuracy``) and the FLOPs at which it first reaches a target (linear interpolation between the bracketing
  points; a UserError, or None with ``strict=False``, when it never does).
* :func:`recipe_plan_table` — the one recipe x plan costing: training FLOPs (and time, energy), ratios to dense
  and SR-STE, epochs affordable at the budget and the phases, for every recipe under every plan over a run.
  ``nmsim budget`` (through :func:`budget_table`), :func:`nmsim.budget` and the report's training and iso-FLOP
  tables all call it, so the same question gives the same number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nmsim.cost.budget_options import (BudgetQuestion, budget_patterns, check_budget,  # noqa: F401 (read here)
                                       parse_budget, parse_transposable)
from nmsim.errors import UserError

MEASURES = ("flops", "matrix_flops", "seconds", "joules")
MAX_DOUBLINGS = 48


def _check_measure(model, measure: str) -> None:
    if measure not in MEASURES:
        raise UserError(f"unknown measure {measure!r} (known: {', '.join(MEASURES)})", "--measure")
    if measure in ("seconds", "joules") and model.hw is None:
        raise UserError(f"measure {measure} needs hardware", "--hardware")


def schedule_flops(model, recipe, total_steps: int, measure: str = "flops") -> float:
    """What ``recipe`` spends over ``total_steps`` steps, priced by a ``TrainingCostModel``."""
    _check_measure(model, measure)
    return float(model.totals(recipe, int(total_steps))[measure])


def dense_budget(model, epochs: float, steps_per_epoch: int = 1, measure: str = "flops") -> float:
    """The dense recipe's spend over ``epochs * steps_per_epoch`` steps (rounded to whole steps)."""
    from nmsim.recipes import make_recipe
    steps = int(round(epochs * steps_per_epoch))
    if steps <= 0:
        raise UserError(f"the dense budget needs a positive length, got {epochs:g} epochs", "--epochs")
    dense = make_recipe("dense", {k: None for k in model.targets})
    return schedule_flops(model, dense, steps, measure)


def affordable(model, recipe, budget: float, steps_per_epoch: int | None = None, measure: str = "flops") -> dict:
    """Longest run of ``recipe`` whose spend stays within ``budget``.

    Returns ``units`` (whole epochs when the recipe switches at epochs, else steps), ``steps``, ``spent``,
    ``units_exact`` (linear interpolation towards the next unit) and ``epochs`` (``steps / steps_per_epoch``,
    ``steps_per_epoch`` defaulting to the recipe's), ``epochs_exact``. Zero units when not even one fits.
    """
    _check_measure(model, measure)
    if not (isinstance(budget, (int, float)) and math.isfinite(budget) and budget > 0):
        raise UserError(f"budget must be a positive number, got {budget!r}", "--budget")
    unit = recipe.steps_per_epoch or 1
    spe = steps_per_epoch or recipe.steps_per_epoch or 1

    def spend(units: int) -> float:
        return schedule_flops(model, recipe, units * unit, measure) if units > 0 else 0.0

    lo, hi = 0, 1
    for _ in range(MAX_DOUBLINGS):
        if spend(hi) > budget:
            break
        lo, hi = hi, hi * 2
    else:
        raise UserError(f"budget {budget:.4g} is too large to search", "--budget")
    while hi - lo > 1:  # invariant: spend(lo) <= budget < spend(hi)
        mid = (lo + hi) // 2
        if spend(mid) <= budget:
            lo = mid
        else:
            hi = mid
    spent, nxt = spend(lo), spend(lo + 1)
    frac = (budget - spent) / (nxt - spent) if nxt > spent else 0.0
    units_exact = lo + min(max(frac, 0.0), 1.0)
    return {"units": lo, "steps": lo * unit, "spent": spent, "units_exact": units_exact,
            "epochs": lo * unit / spe, "epochs_exact": units_exact * unit / spe}


# ---- accuracy curves -------------------------------------------------------------------------------------

CURVE_COLUMNS = ("flops", "accuracy")


def load_curve(path: str | Path) -> pd.DataFrame:
    """Read an accuracy-vs-FLOPs CSV (columns ``flops``, ``accuracy``; others ignored), sorted by flops."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError("curve file not found", str(path)) from None
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read CSV: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                        str(path)) from None
    return validate_curve(frame, str(path))


def validate_curve(frame: pd.DataFrame, where: str = "curve") -> pd.DataFrame:
    cols = {str(c).strip().lower(): c for c in frame.columns}
    for col in CURVE_COLUMNS:
        if col not in cols:
            raise UserError(f"missing column {col!r} (has: {', '.join(map(str, frame.columns)) or 'none'})", where)
    out = pd.DataFrame({c: pd.to_numeric(frame[cols[c]], errors="coerce") for c in CURVE_COLUMNS})
    bad = out[out.isna().any(axis=1)]
    if len(bad):
        raise UserError(f"row {int(bad.index[0]) + 2}: flops and accuracy must be numbers", where)
    if len(out) == 0:
        raise UserError("no rows", where)
    return out.sort_values("flops", kind="stable").reset_index(drop=True)


def flops_to_accuracy(curve, target: float, *, strict: bool = True, where: str = "curve") -> float | None:
    """FLOPs at which ``curve`` (a path or DataFrame) first reaches ``target`` accuracy.

    Linear interpolation between the last point below the target and the first at or above it; the first
    point's FLOPs when it already reaches the target. Never reached: UserError naming the best accuracy, or
    None with ``strict=False``.
    """
    if isinstance(curve, (str, Path)):
        where, curve = str(curve), load_curve(curve)
    else:
        curve = validate_curve(curve, where)
    flops, acc = curve["flops"].to_numpy(float), curve["accuracy"].to_numpy(float)
    for i in range(len(acc)):
        if acc[i] >= target:
            if i == 0:
                return float(flops[0])
            f0, f1, a0, a1 = flops[i - 1], flops[i], acc[i - 1], acc[i]
            return float(f0 + (f1 - f0) * (target - a0) / (a1 - a0))
    if strict:
        raise UserError(f"accuracy {target:g} is never reached (best {acc.max():g} at {flops[acc.argmax()]:.4g} "
                        "FLOPs)", where)
    return None


# ---- recipe x plan tables: one pricing path for `nmsim budget`, `nmsim report` and `nmsim.budget` --------------

UNREACHABLE = ("raise", "skip", "note")


@dataclass
class RecipePlanCost:
    """``totals``: one row per recipe x plan: ``recipe``, ``plan`` (the caller's label), ``train_flops``,
    ``train_matrix_flops``, ``vs_dense``/``vs_srste`` (FLOPs over the dense / SR-STE run of the same length and
    plan), ``matrix_vs_dense``/``matrix_vs_srste``, ``budget_epochs`` (epochs affordable at the budget), with
    hardware ``seconds``, ``hours``, ``seconds_vs_dense``, ``joules``; ``phases`` (text: steps or epochs of each
    phase and its step cost over dense) and ``note``. ``phases``: one row per recipe x plan x recipe phase.
    ``skipped``: combinations left out (``unreachable="skip"``). ``model``: the last plan's cost model."""
    totals: pd.DataFrame
    phases: pd.DataFrame
    skipped: list
    model: object


def recipe_plan_table(graph, plans, recipes, length, *, budget: float | None = None, dense_frac: float = 0.0,
                      finetune_frac: float = 0.0, params: dict | None = None, fit_defaults: bool = False,
                      unreachable: str = "raise", **model_options) -> RecipePlanCost:
    """Price every recipe in ``recipes`` under every ``(label, SparsityPlan)`` in ``plans`` over ``length`` (a
    :class:`nmsim.cost.run_length.RunLength`: steps, and steps per epoch where recipes switch).

    A dense plan gets the dense recipe only, and the dense recipe is priced once (at the first plan). ``budget``:
    the FLOPs ``budget_epochs`` is measured against (default: what dense spends over the run, per plan).
    ``params``: recipe parameters (``{"beta": 1e-4}``), each given to the recipes that take it. ``fit_defaults``: a
    default SDGF-geometric k that does not fit falls back (:mod:`nmsim.recipes.fitting`, said in ``note``).
    ``unreachable``: what a combination that cannot be priced does: ``raise``; ``skip`` (only a plan the recipe
    cannot reach, listed in ``skipped``); ``note`` (a row of NaN with the reason). ``model_options`` go to
    :class:`~nmsim.cost.training.TrainingCostModel` (hardware, dtype, transposable, optimizer, ...).
    """
    from nmsim.cost.training import TrainingCostModel

    if unreachable not in UNREACHABLE:
        raise ValueError(f"unreachable must be one of {UNREACHABLE}, got {unreachable!r}")
    rows, phases, skipped, model = [], [], [], None
    for i, (label, plan) in enumerate(plans):
        model = TrainingCostModel(graph, plan, **model_options)
        dense_flops = dense_budget(model, length.epochs, length.steps_per_epoch)
        for name in _recipes_of(plan, recipes, first=i == 0):
            try:
                recipe, note = _make_recipe(model, name, length, dense_frac, finetune_frac, params or {},
                                            fit_defaults)
                row, ph = _price(model, recipe, length, dense_flops, budget or dense_flops)
            except UserError as exc:
                if unreachable == "raise" or (unreachable == "skip" and exc.where != "--sparsity"):
                    raise
                if unreachable == "skip":
                    skipped.append(f"{name} {label}: {exc}")
                    continue
                row, ph = _unpriced(exc), None
                note = row.pop("note")
            plan_label = "dense" if name == "dense" else label
            rows.append({"recipe": name, "plan": plan_label, **row, "note": note})
            if ph is not None:
                phases.append(ph.assign(recipe=name, plan=plan_label))
    phase_frame = pd.concat(phases, ignore_index=True) if phases else pd.DataFrame()
    return RecipePlanCost(pd.DataFrame(rows), phase_frame, skipped, model)


def _recipes_of(plan, recipes, first: bool) -> list:
    """The recipes priced under ``plan``: dense only for a dense plan; dense once, at the first plan."""
    if plan.is_dense:
        return ["dense"]
    return [r for r in recipes if r != "dense" or first]


def _make_recipe(model, name: str, length, dense_frac, finetune_frac, params: dict, fit_defaults: bool):
    """(recipe, note) for ``name`` on the model's targets (dense: every target dense)."""
    from nmsim.recipes import make_recipe, recipe_class
    from nmsim.recipes.fitting import fitting_recipe

    targets = {k: None for k in model.targets} if name == "dense" else model.targets
    kw = {k: v for k, v in params.items() if k in recipe_class(name).param_names}
    spe = length.steps_per_epoch
    if fit_defaults:
        return fitting_recipe(name, targets, lambda state: model.check_reachable(state, name), length.steps,
                              dense_frac, finetune_frac, steps_per_epoch=spe, **kw)
    recipe = make_recipe(name, targets, dense_frac, finetune_frac, steps_per_epoch=spe, **kw)
    return recipe, ""


def _price(model, recipe, length, dense_flops: float, budget: float) -> tuple[dict, pd.DataFrame]:
    """(totals row, phases frame) of ``recipe`` over ``length``; ratios over the dense run of ``dense_flops``."""
    from nmsim.cost.training import normalised

    steps, spe = length.steps, length.steps_per_epoch
    ph = model.phases(recipe, steps)  # raises for a pattern the recipe cannot reach
    ph = ph.assign(flops_rel_dense=ph["phase_flops"] / dense_flops,
                   step_flops_vs_dense=ph["step_flops"] / (dense_flops / steps))
    tot = normalised(model, recipe, steps)
    fit = affordable(model, recipe, budget, spe)
    row = {"train_flops": tot["flops"], "vs_dense": tot["flops_vs_dense"], "vs_srste": tot["flops_vs_srste"],
           "matrix_vs_dense": tot["matrix_flops_vs_dense"], "matrix_vs_srste": tot["matrix_flops_vs_srste"],
           "budget_epochs": fit["epochs_exact"]}
    if model.hw is not None:
        row.update(seconds=tot["seconds"], hours=tot["seconds"] / 3600, seconds_vs_dense=tot["seconds_vs_dense"],
                   joules=tot["joules"])
    row.update(phases=phase_text(ph, spe), train_matrix_flops=tot["matrix_flops"])
    return row, ph


def table_columns(hardware: bool) -> list[str]:
    """The columns of :func:`budget_table`'s table (with ``hardware``: time and energy too)."""
    from nmsim.columns import budget_columns
    columns = budget_columns(hardware)
    if not hardware:
        return columns
    from nmsim.bands import with_band_columns
    return with_band_columns(columns)


def _unpriced(exc: UserError) -> dict:
    """The row of a combination that cannot be priced: NaN costs and the reason."""
    text = str(exc)
    note = text.split(": ", 1)[-1] if "cannot reach" in text else text
    return {"train_flops": math.nan, "vs_dense": math.nan, "budget_epochs": math.nan, "train_matrix_flops": math.nan,
            "note": note}


def phase_text(phases: pd.DataFrame, steps_per_epoch: int) -> str:
    """``sr-ste [0,350)e x0.600``: each phase's range (in epochs when recipes switch at epochs, else steps) and its
    step FLOPs over a dense step."""
    unit, div = ("e", steps_per_epoch) if steps_per_epoch > 1 else ("", 1)

    def at(step: float) -> str:   # 1144410 (never 1.14441e+06); epochs to 4 digits
        x = step / div
        return f"{x:.0f}" if float(x).is_integer() or abs(x) >= 1e4 else f"{x:.4g}"

    return "; ".join(f"{r.label} [{at(r.start_step)},{at(r.stop_step)}){unit} x{r.step_flops_vs_dense:.3f}"
                     for r in phases.itertuples())


# ---- `nmsim budget` / `nmsim.budget`: the question in the CLI's terms -------------------------------------------

@dataclass
class BudgetRun:
    """``table``: :attr:`RecipePlanCost.totals` as ``nmsim budget`` shows it (``pattern`` for the plan label);
    what was priced: ``workload`` (a ModelConfig), ``length`` (RunLength), ``model`` (hardware, dtype)."""
    table: pd.DataFrame
    skipped: list
    workload: object
    length: object
    model: object


def budget_table(workload, sparsity: str, *, recipes: str = "all", patterns: str | None = None, epochs=None,
                 dataset_size=None, steps_per_epoch=None, steps=None, samples=None, tokens=None,
                 batch: int | None = None, dense_frac: float = 0.0, finetune_frac: float = 0.0, beta=None, k=None,
                 hardware=None, dtype=None, weight_dtype=None, kernel=None, unfused: bool = False,
                 transposable=None, optimizer: str = "adamw", budget="dense",
                 paper_convention: bool = False, seq: int | None = None, price_per_hour=None, recompute=None,
                 precision: str | None = None) -> BudgetRun:
    """``nmsim budget``: training FLOPs (and with ``hardware`` seconds, joules) of every recipe x pattern over a
    run given once as ``epochs`` (with ``dataset_size`` or ``steps_per_epoch`` + ``batch``), ``steps``,
    ``samples`` or ``tokens``, and the epochs each affords at ``budget`` (``dense``: dense over the run).
    ``seq``: a text model's sequence length (tokens per sample) instead of the workload's. With hardware, ``usd``
    is the run's dollars: its device-hours (``hours``, one device) x the device's hourly price
    (``price_per_hour`` over the bundled list prices, :mod:`nmsim.cost.economics`; NaN where none is known),
    and each row carries the step's ``mem_gib`` on one device and whether it ``fits`` (:mod:`nmsim.memory`:
    the larger of the dense and the plan's sparse phase; ``recompute``, ``precision``), and ``table.attrs``
    ``max_batch`` the largest batch whose step fits (gradient accumulation reaches the rest)."""
    q = check_budget(workload, sparsity, recipes=recipes, patterns=patterns, epochs=epochs,
                     dataset_size=dataset_size, steps_per_epoch=steps_per_epoch, steps=steps, samples=samples,
                     tokens=tokens, batch=batch, dense_frac=dense_frac, finetune_frac=finetune_frac, beta=beta,
                     k=k, hardware=hardware, dtype=dtype, weight_dtype=weight_dtype,
                     kernel=kernel, transposable=transposable, optimizer=optimizer, budget=budget, seq=seq,
                     price_per_hour=price_per_hour)   # every option before tracing: an error is then the only line
    names, targets, prices, cfg, length = q.names, q.targets, q.prices, q.config, q.length
    from nmsim.cost.pricing import plans_preflight
    with plans_preflight(targets):   # a plan the graph refuses: said before tracing's progress line
        graph = _budget_graph(cfg, length, paper_convention)
    plans = []
    for plan in targets:
        plan.resolve(graph.ops)  # selector and divisibility errors for the final targets
        plans.append((plan.label, plan))   # what was priced, in plan text form (a bare 2:4 on ff,qk: ff=2:4,qk=2:4)
    cost = recipe_plan_table(
        graph, plans, names, length, budget=parse_budget(budget), dense_frac=dense_frac,
        finetune_frac=finetune_frac, params={name: v for name, v in (("beta", beta), ("k", k)) if v is not None},
        unreachable="skip" if len(names) * len(targets) > 1 else "raise",
        hardware=hardware, dtype=dtype, transposable=q.transposable, optimizer=optimizer,
        paper_convention=paper_convention, weight_dtype=weight_dtype, kernel=kernel,
        fusion=False if unfused else None, recompute=recompute)
    if cost.totals.empty:
        raise UserError("no recipe x pattern combination could be priced", "--recipes")
    table = cost.totals.drop(columns=["train_matrix_flops", "note"]).rename(columns={"plan": "pattern"})
    if cost.model.hw is not None and "hours" in table:
        from nmsim.cost.economics import hourly_price
        table.insert(table.columns.get_loc("joules") + 1, "usd",
                     table["hours"] * hourly_price(cost.model.hw.name, prices))
    if hardware:
        _add_memory(table, graph, dict(plans), cost.model, unfused=unfused, recompute=recompute, precision=precision)
    if cost.model.hw is not None:   # the run's time is a single-device training step's, times the steps
        from nmsim import bands
        table = bands.attach(table, bands.band("training step", cost.model.hw))
    return BudgetRun(table, cost.skipped, cfg, length, cost.model)


def _add_memory(table: pd.DataFrame, graph, plans: dict, model, *, unfused: bool, recompute, precision) -> None:
    """``mem_gib`` and ``fits`` per row (the larger of the dense phase's and the plan's footprint), and
    ``table.attrs['max_batch']``: the largest batch of the traced length whose step fits (activations grow
    linearly with the batch; the states do not)."""
    from nmsim.memory import GIB, memory_footprint
    kw = {"fusion": False if unfused else None, "recompute": recompute, "precision": precision}
    dense = memory_footprint(graph, None, model.hw, model.dtype, "training", **kw)
    one = memory_footprint(graph, None, model.hw, model.dtype, "training", batch=1, **kw)
    totals = {}
    for label, plan in plans.items():
        fp = memory_footprint(graph, plan, model.hw, model.dtype, "training", **kw)
        totals[label] = max(fp.loc["total", "bytes"], dense.loc["total", "bytes"])
    cap = dense.attrs["capacity_gib"]
    table["mem_gib"] = [totals.get(p, dense.loc["total", "bytes"]) / GIB for p in table["pattern"]]
    table["fits"] = table["mem_gib"] <= cap
    per_sample = one.loc["activations", "bytes"]
    fixed = max(totals.values(), default=dense.loc["total", "bytes"]) - dense.loc["activations", "bytes"]
    table.attrs["max_batch"] = max(int((cap * GIB - fixed) // per_sample), 0) if per_sample > 0 else None
    table.attrs["capacity_gib"] = cap


def _budget_graph(cfg, length, paper_convention: bool):
    """The traced graph of a budget question (the paper's view with ``paper_convention``)."""
    from nmsim.cost.training import paper_graph
    from nmsim.graph import trace_workload

    return paper_graph(cfg, length.batch) if paper_convention else trace_workload(cfg, batch=length.batch)
