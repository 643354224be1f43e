"""Pareto fronts over DataFrames (pure pandas/numpy).

A point *a* dominates *b* when *a* is at least as good in every objective and strictly better in one.
``pareto_mask`` marks the non-dominated rows; duplicates of a front point are all on the front.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def _oriented(df: pd.DataFrame, minimize: list[str], maximize: list[str]) -> np.ndarray:
    cols = [df[c].to_numpy(dtype=float) for c in minimize] + [-df[c].to_numpy(dtype=float) for c in maximize]
    return np.column_stack(cols) if cols else np.empty((len(df), 0))


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """Both vectors to be minimised."""
    return bool(np.all(a <= b) and np.any(a < b))


def pareto_mask(df: pd.DataFrame, minimize: list[str] | str = (), maximize: list[str] | str = ()) -> pd.Series:
    """Boolean Series (index of ``df``): True for rows no other row dominates. Rows with NaN in an objective
    are never on the front and never dominate."""
    minimize = [minimize] if isinstance(minimize, str) else list(minimize)
    maximize = [maximize] if isinstance(maximize, str) else list(maximize)
    if not minimize and not maximize:
        raise ValueError("pareto_mask needs at least one objective")
    x = _oriented(df, minimize, maximize)
    valid = ~np.isnan(x).any(axis=1) if len(x) else np.zeros(0, bool)
    on = valid.copy()
    pts = x[valid]
    idx = np.flatnonzero(valid)
    for k, i in enumerate(idx):
        p = pts[k]
        dominated = np.all(pts <= p, axis=1) & np.any(pts < p, axis=1)
        if dominated.any():
            on[i] = False
    return pd.Series(on, index=df.index, name="pareto")


def pareto_front(df: pd.DataFrame, minimize: list[str] | str = (), maximize: list[str] | str = ()) -> pd.DataFrame:
    """The non-dominated rows, sorted by the first objective."""
    mask = pareto_mask(df, minimize, maximize)
    first = ([minimize] if isinstance(minimize, str) else list(minimize)) or \
            ([maximize] if isinstance(maximize, str) else list(maximize))
    return df[mask].sort_values(first[0])
