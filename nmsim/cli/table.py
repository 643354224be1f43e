"""Tables for people: human units from the column names, at most 100 columns wide (CSV/JSON stay raw SI).

A column's unit comes from its name: ``*seconds`` (shown as ms / s / min / h / d, heading ``*time``), ``*joules``
(J / kJ / MJ, heading ``*energy``), ``*bytes`` (KiB / MiB / GiB), ``*flops`` (SI prefixes: ``47.4 E``). Ratios and
counts keep 4 significant digits, thousands separated. A table wider than the limit first moves long text columns
(over 30 characters) below it as wrapped ``row: text`` lines, then wraps the remaining columns into blocks.
``columns`` picks and orders the columns shown.
"""
from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING

from nmsim.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

WIDTH = 100
LONG_TEXT = 30
_SI = ((1e24, "Y"), (1e21, "Z"), (1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _number(v: float) -> str:
    if abs(v) >= 1e15:
        return f"{v:.3e}"
    return f"{int(v):,}" if v.is_integer() else f"{v:,.4g}"


def si(v: float, unit: str = "") -> str:
    for scale, prefix in _SI:
        if abs(v) >= scale:
            return f"{v / scale:.3g} {prefix}{unit}".rstrip()
    if unit and 0 < abs(v) < 1:
        for scale, prefix in ((1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
            if abs(v) >= scale:
                return f"{v / scale:.3g} {prefix}{unit}"
    return f"{v:.3g} {unit}".rstrip()


def duration(v: float) -> str:
    a = abs(v)
    for limit, div, unit in ((1e-6, 1e-9, "ns"), (1e-3, 1e-6, "us"), (1, 1e-3, "ms"), (120, 1, "s"),
                             (7200, 60, "min"), (864000, 3600, "h")):
        if a < limit:
            return f"{v / div:.3g} {unit}"
    return f"{v / 86400:,.3g} d" if a < 1e6 * 86400 else f"{v / 86400:.3g} d"


def binary(v: float) -> str:
    for scale, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(v) >= scale:
            return f"{v / scale:.4g} {unit}" if v / scale >= 1000 else f"{v / scale:.3g} {unit}"
    return f"{v:.0f} B"


def _heading(stem: str, quantity: str) -> str:
    """``energy_`` + energy -> ``energy``; ``step_`` + time -> ``step_time``; ``latency_`` stays ``latency``."""
    stem = stem.rstrip("_")
    if not stem:
        return quantity
    return stem if stem.split("_")[-1] in (quantity, "latency", "wall", "duration") else f"{stem}_{quantity}"


def _unit(column: str):
    """(formatter, display heading) for a column name, or (None, name)."""
    name = str(column)
    if "_vs_" in name or name.startswith("vs_") or name.endswith(("_ratio", "_share", "_frac")):
        return None, name
    if name.endswith("seconds"):
        return duration, _heading(name[: -len("seconds")], "time")
    if name.endswith("joules"):
        return (lambda v: si(v, "J")), _heading(name[: -len("joules")], "energy")
    if name.endswith("bytes"):
        return binary, name
    if name.endswith("flops"):
        return si, name
    return None, name


def human(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with unit columns as human strings (other numbers to 4 digits)."""
    import pandas as pd

    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        series = df[col]
        fmt, heading = _unit(col)
        if heading in out.columns:
            heading = str(col)
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            out[heading] = series.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v))
                                      else str(v))
            continue
        fmt = fmt or _number
        out[heading] = series.map(lambda v: "-" if v is None or (isinstance(v, float) and math.isnan(v))
                                  else fmt(float(v)))
    if df.columns.name is not None:
        out.columns.name = df.columns.name
    return out


def pick(df: pd.DataFrame, columns: str | None) -> pd.DataFrame:
    """Only the comma-separated ``columns`` (in that order); a name not in the table is an error listing them."""
    if not columns:
        return df
    names = [c.strip() for c in columns.split(",") if c.strip()]
    have = [str(c) for c in df.columns]
    for name in names:
        if name not in have:
            raise UserError(f"no column {name!r} (columns: {', '.join(have)})", "--columns")
    return df[[c for c in df.columns if str(c) in names]].reindex(columns=[c for n in names for c in df.columns
                                                                           if str(c) == n])


def _label(df: pd.DataFrame, i: int, index: bool) -> str:
    if index:
        key = df.index[i]
        return " ".join(map(str, key)) if isinstance(key, tuple) else str(key)
    texts = [str(v) for v in df.iloc[i].tolist() if isinstance(v, str) and 0 < len(v) <= LONG_TEXT]
    return " ".join(texts[:2]) or str(i)


def render_table(df: pd.DataFrame, index: bool = True, width: int = WIDTH) -> str:
    shown = human(df)
    text = shown.to_string(index=index)
    if max(map(len, text.splitlines() or [""])) <= width:
        return text + "\n"
    long_cols = [c for c in shown.columns if shown[c].map(len).max() > LONG_TEXT]
    below = []
    for col in long_cols:
        below.append(f"{col}:")
        for i in range(len(shown)):
            head = f"  {_label(shown, i, index)}: "
            below.append(textwrap.fill(shown[col].iloc[i], width, initial_indent=head,
                                       subsequent_indent=" " * 6))
    table = shown.drop(columns=long_cols).to_string(index=index, line_width=width)
    return table + "\n" + ("\n".join(below) + "\n" if below else "")
