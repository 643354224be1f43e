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
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

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
