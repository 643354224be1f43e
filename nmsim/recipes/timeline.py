"""The phase timeline of a recipe as a tidy DataFrame (one row per pricing phase); used by ``nmsim schedule``."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nmsim.recipes.base import Recipe

if TYPE_CHECKING:
    import pandas as pd


def timeline(recipe: Recipe, total_steps: int, steps_per_epoch: int | None = None) -> pd.DataFrame:
    """Columns: start_step, stop_step, steps, [start_epoch, stop_epoch], label, phase, one column per selector
    (mask pattern in force, "dense" for none), ``<selector>_cost`` (pattern the GEMM can exploit),
    D_start, D_end (D at the first and last step of the phase), rule, srste_lambda."""
    import pandas as pd

    return pd.DataFrame(timeline_rows(recipe, total_steps, steps_per_epoch))


def timeline_rows(recipe: Recipe, total_steps: int, steps_per_epoch: int | None = None) -> list[dict]:
    """:func:`timeline`'s rows as dicts (no pandas: ``nmsim schedule`` checks ``--columns`` against them)."""
    rows = []
    for phase in recipe.phases(total_steps):
        state, last = phase.state, recipe.at(phase.stop_step - 1, total_steps)
        row = {"start_step": phase.start_step, "stop_step": phase.stop_step, "steps": phase.steps}
        if steps_per_epoch:
            row["start_epoch"] = round(phase.start_step / steps_per_epoch, 3)
            row["stop_epoch"] = round(phase.stop_step / steps_per_epoch, 3)
        row.update(label=phase.label, phase=state.phase)
        for sel in recipe.targets:
            row[sel] = str(state.masks.get(sel) or "dense")
            row[f"{sel}_cost"] = str(state.cost_patterns.get(sel) or "dense")
        row.update(D_start=state.decay, D_end=last.decay, rule=state.rule, srste_lambda=state.srste_lambda)
        rows.append(row)
    return rows
