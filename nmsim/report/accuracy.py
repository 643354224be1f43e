"""A user's accuracy CSV (``nmsim report --accuracy FILE``): read with :mod:`nmsim.io`, then every row checked.

Columns: ``plan``, ``recipe``, ``value``; optional ``metric``, ``unit``, ``higher_is_better``, ``epochs``,
``steps``, ``tokens``, ``batch``, ``source`` (README, "A trade-off report with your own accuracy CSV"). Checks,
each a one-line :class:`UserError` naming the file and the row (numbered as lines: the header is row 1):

* one row per recipe x plan (a second one is an error naming both rows); a known recipe; the dense recipe at
  the dense plan and every other recipe at a sparse one;
* one metric, unit, direction and run length per file;
* values against the metric (:func:`metric_range`): an accuracy or other percentage in [0, 100], or in [0, 1] for
  every row (a fraction that, as a percentage, falls among the column's percentages is a scale mix), a
  perplexity >= 1, a loss or other cost >= 0; a ``higher_is_better`` that contradicts a metric's known direction
  is refused.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from nmsim.errors import UserError

COLUMNS = ("plan", "recipe", "value")
# metric-name words (split on _, -, space) -> (lowest, highest, higher is better), in priority order: an error
# rate is a percentage where lower is better, whatever else its name says (top1_error)
HIGHEST_PCT = 100.0
METRIC_WORDS = (({"error", "err"}, (0.0, HIGHEST_PCT, False)),
                ({"wer", "cer"}, (0.0, math.inf, False)),
                ({"perplexity", "ppl"}, (1.0, math.inf, False)),
                ({"loss", "nll", "bpb", "bpc", "bits"}, (0.0, math.inf, False)),
                ({"accuracy", "acc", "top1", "top5", "top", "f1", "precision", "recall", "bleu", "rouge", "em",
                  "exact"}, (0.0, HIGHEST_PCT, True)))
PERCENT_UNITS = ("%", "percent", "pct")
RUN_LENGTH = ("epochs", "steps", "tokens")
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def read_accuracy_csv(path: str | Path) -> pd.DataFrame:
    """The CSV as a frame (``plan`` in the report's form, ``recipe`` lower-case, ``value`` a float); UserError at
    the first problem."""
    from nmsim.io import read_csv

    where = str(path)
    df = read_csv(path, "accuracy CSV", columns=COLUMNS, numeric=("value",))
    if df.empty:
        raise UserError("holds a header but no rows", where)
    df["plan"] = [_plan(p, where, i) for i, p in enumerate(df["plan"])]
    df["recipe"] = [_recipe(r, p, where, i) for i, (r, p) in enumerate(zip(df["recipe"], df["plan"]))]
    _no_duplicates(df, where)
    for col in ("metric", "unit", "higher_is_better"):
        _one_value(df, col, where)
    _run_length(df, where)
    lo, hi, higher = metric_range(_first(df, "metric") or "accuracy", _first(df, "unit") or "")
    given = _direction(df, where)
    if given is not None and higher is not None and given != higher:
        line = _row(df[df["higher_is_better"].notna()].index[0])
        raise UserError(f"row {line}: higher_is_better {str(given).lower()} contradicts the metric "
                        f"{_first(df, 'metric') or 'accuracy'} ({'higher' if higher else 'lower'} is better)", where)
    _check_values(df["value"], lo, hi, where)
    return df


def metric_range(metric: str, unit: str = "") -> tuple[float, float, bool | None]:
    """(lowest, highest, higher is better or None when unknown) of a metric by its name and unit; ``highest`` of
    a percentage is 100 (a 0-1 fraction is accepted when every row uses it)."""
    words = {w for w in metric.lower().replace("-", "_").replace(" ", "_").split("_") if w}
    for names, span in METRIC_WORDS:
        if words & names:
            return span
    percent = unit.strip().lower() in PERCENT_UNITS or bool(words & {"pct", "percent"})
    return (0.0, HIGHEST_PCT, None) if percent else (-math.inf, math.inf, None)


def _row(index: int) -> int:
    return int(index) + 2


def _first(df: pd.DataFrame, col: str) -> str | None:
    if col not in df or df[col].dropna().empty:
        return None
    return str(df[col].dropna().iloc[0]).strip()


def _plan(text, where: str, i: int) -> str:
    from nmsim.report.options import normalize_plan

    if pd.isna(text) or not str(text).strip():
        raise UserError(f"row {_row(i)}: plan is empty (write dense for the dense baseline)", where)
    try:
        return normalize_plan(str(text).strip(), "plan")
    except UserError as exc:
        raise UserError(f"row {_row(i)}: plan {str(text).strip()!r}: {exc.message}", where) from None


def _recipe(name, plan: str, where: str, i: int) -> str:
    from nmsim.recipes.registry import ALL_RECIPES

    text = "" if pd.isna(name) else str(name).strip().lower()
    if text not in ALL_RECIPES:
        raise UserError(f"row {_row(i)}: unknown recipe {text!r} (valid: {', '.join(ALL_RECIPES)})", where)
    if (text == "dense") != (plan == "dense"):
        need = "the dense recipe runs at plan dense" if text == "dense" else f"recipe {text} needs a sparse plan"
        raise UserError(f"row {_row(i)}: {need}, got plan {plan}", where)
    return text


def _no_duplicates(df: pd.DataFrame, where: str) -> None:
    dup = df[df.duplicated(["recipe", "plan"], keep=False)]
    if len(dup):
        first = dup.iloc[0]
        lines = [_row(i) for i in dup[(dup["recipe"] == first["recipe"]) & (dup["plan"] == first["plan"])].index]
        values = ", ".join(f"{v:g}" for v in dup.loc[[i - 2 for i in lines[:2]], "value"])
        raise UserError(f"rows {lines[0]} and {lines[1]}: two rows for recipe {first['recipe']} at plan "
                        f"{first['plan']} ({values}); give one value per recipe x plan (a mean over seeds)", where)


def _one_value(df: pd.DataFrame, col: str, where: str) -> None:
    """``col`` (metric, unit, higher_is_better) names one thing for the whole file: two are an error naming the
    first row of each."""
    if col not in df:
        return
    text = df[col].dropna().astype(str).str.strip().replace({"True": "true", "False": "false"})   # as written
    seen = dict.fromkeys(text)
    if len(seen) > 1:
        a, b = list(seen)[:2]
        la, lb = _row(text[text == a].index[0]), _row(text[text == b].index[0])
        raise UserError(f"{col}: row {la} says {a!r}, row {lb} says {b!r}; one {col} per accuracy CSV", where)


def _direction(df: pd.DataFrame, where: str) -> bool | None:
    raw = _first(df, "higher_is_better")
    if raw is None:
        return None
    if raw.lower() not in TRUE + FALSE:
        line = _row(df[df["higher_is_better"].notna()].index[0])
        raise UserError(f"row {line}: higher_is_better must be true or false, got {raw!r}", where)
    return raw.lower() in TRUE


def _run_length(df: pd.DataFrame, where: str) -> None:
    """epochs, steps, tokens and batch: positive numbers (steps and batch whole), one run length per file."""
    for col in (*RUN_LENGTH, "batch"):
        if col not in df:
            continue
        for i, raw in df[col].items():
            if pd.isna(raw) or (isinstance(raw, str) and not raw.strip()):
                continue
            v = pd.to_numeric(raw, errors="coerce")
            if not (math.isfinite(v) and v > 0 and (col in ("epochs", "tokens") or float(v).is_integer())):
                want = "a positive number" if col in ("epochs", "tokens") else "a positive whole number"
                raise UserError(f"row {_row(i)}: {col} must be {want}, got {raw!r}", where)
        values = pd.to_numeric(df[col], errors="coerce")
        if values.dropna().nunique() > 1:
            a, b = values.dropna().unique()[:2]
            la, lb = _row(values[values == a].index[0]), _row(values[values == b].index[0])
            raise UserError(f"{col}: row {la} says {a:g}, row {lb} says {b:g}; the rows of one accuracy CSV "
                            "share one run length", where)


def _check_values(values: pd.Series, lo: float, hi: float, where: str) -> None:
    for i, v in values.items():
        if not lo <= v <= hi:
            span = f"from {lo:g} to {hi:g}" if math.isfinite(hi) else f"at least {lo:g}"
            raise UserError(f"row {_row(i)}: value must be {span} for this metric, got {v:g}", where)
    if hi == HIGHEST_PCT:   # a fraction is a scale mix when, as a percentage, it falls among the percentages
        percents = values[values > 1]
        if len(percents):
            low, high = percents.min() / 2, percents.max() * 2
            mixed = values[(values > 0) & (values < 1) & (100 * values >= low) & (100 * values <= high)]
            if len(mixed):
                f, p = mixed.index[0], percents.index[0]
                raise UserError(f"value: row {_row(f)} ({values[f]:g}) reads as a 0-1 fraction, row {_row(p)} "
                                f"({values[p]:g}) as a percentage; use one scale for the whole column", where)
