"""Tables for people: human units from the column names, at most 100 columns wide (CSV/JSON stay raw SI).

A column's unit comes from its name: ``*seconds`` (shown as ms / s / min / h / d, heading ``*time``), ``*joules``
(J / kJ / MJ, heading ``*energy``; "not given" without a figure), ``*usd`` (dollars), ``tokens_per_second``,
``usd_per_million_tokens``, ``joules_per_token`` (images for image models: ``tokens/s``, ``$/M_tokens``,
``J/token``), ``*bytes`` (KiB / MiB / GiB), ``*flops`` (SI prefixes: ``47.4 EFLOP``). Ratios and
counts keep 4 significant digits, thousands separated. A table wider than the limit first moves long text columns
(over 30 characters) below it as wrapped ``row: text`` lines, then wraps the remaining columns into blocks that
each repeat the row keys.
``columns`` picks and orders the columns shown (:func:`keyed`: also for CSV and JSON).
"""
from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING

from nmsim.errors import UserError
from nmsim.units import NOT_GIVEN, binary, dollars, duration, fixed, joules, si  # noqa: F401 (the table's formatters)

if TYPE_CHECKING:
    import pandas as pd

WIDTH = 100
LONG_TEXT = 30
def _number(v: float) -> str:
    if abs(v) >= 1e15:
        return si(v)
    return f"{int(v):,}" if v.is_integer() else fixed(v, 4)


def _heading(stem: str, quantity: str) -> str:
    """``energy_`` + energy -> ``energy``; ``step_`` + time -> ``step_time``; ``latency_`` stays ``latency``."""
    stem = stem.rstrip("_")
    if not stem:
        return quantity
    return stem if stem.split("_")[-1] in (quantity, "latency", "wall", "duration") else f"{stem}_{quantity}"


def _unit(column: str):
    """(formatter, display heading) for a column name, or (None, name)."""
    name = str(column)
    if name.endswith("_80%"):   # an 80 % band's range (nmsim.bands.fold): text already in the column's units
        return None, f"{_unit(name[:-4])[1]}_80%"
    for item in ("token", "image"):   # what a buyer asks: throughput, $ per million, energy per item
        if name == f"{item}s_per_second":
            return _number, f"{item}s/s"
        if name == f"usd_per_million_{item}s":
            return dollars, f"$/M_{item}s"
        if name == f"joules_per_{item}":
            return joules, f"J/{item}"
    if name == "usd" or name.endswith("_usd"):
        return dollars, name
    if name == "usd_per_hour":
        return dollars, "$/h"
    if "_vs_" in name or name.startswith("vs_") or name.endswith(("_ratio", "_share", "_frac")):
        return None, name
    if name.endswith("_per_second"):        # rates: peak FLOP/s, bandwidth B/s
        stem = name[: -len("_per_second")]
        for suffix, unit in (("flops", "FLOP/s"), ("bytes", "B/s")):
            if stem.endswith(suffix):
                return (lambda v, u=unit: si(v, u)), stem[: -len(suffix)].rstrip("_") or stem
        return None, name
    if name.endswith("seconds"):
        return duration, _heading(name[: -len("seconds")], "time")
    if name.endswith("joules"):
        return joules, _heading(name[: -len("joules")], "energy")
    if name.endswith("bytes"):
        return binary, name
    if name.endswith("flops"):
        return (lambda v: si(v, "FLOP")), name
    return None, name


def _formatted(column: str, value: float) -> str:
    """One value of ``column`` in the table's human units."""
    fmt = _unit(column)[0] or _number
    return fmt(float(value))


def _text_cell(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _human_rows(rows):
    """:func:`human` of :class:`nmsim.frame.Rows`: text columns, by display heading."""
    import numpy as np

    from nmsim.frame import Rows

    out: dict = {}
    for col in rows.columns:
        values = rows[col]
        fmt, heading = _unit(col)
        if heading in out:
            heading = str(col)
        if values.dtype.kind not in "iuf":   # text, flags and mixed columns: as text
            out[heading] = [_text_cell(v.item() if hasattr(v, "item") else v) for v in values]
            continue
        missing = NOT_GIVEN if fmt in (joules, dollars) else "-"
        fmt = fmt or _number
        out[heading] = [missing if v != v else fmt(float(v)) for v in values.tolist()]
    return Rows({k: np.array(v, dtype=object).reshape(-1) if v else np.zeros(0, dtype=object)
                 for k, v in out.items()})


def human(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with unit columns as human strings (other numbers to 4 digits)."""
    if hasattr(df, "to_pandas"):
        return _human_rows(df)
    import pandas as pd

    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        series = df[col]
        fmt, heading = _unit(col)
        if heading in out.columns:
            heading = str(col)
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            out[heading] = series.astype(object).map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v))
                                      else str(v))
            continue
        # energy and money without a figure read "not given" (their formatters say it), other numbers "-"
        missing = NOT_GIVEN if fmt in (joules, dollars) else "-"
        fmt = fmt or _number
        out[heading] = series.map(lambda v, fmt=fmt, missing=missing: missing if v is None or (
            isinstance(v, float) and math.isnan(v)) else fmt(float(v)))
    if df.columns.name is not None:
        out.columns.name = df.columns.name
    return out


def pick(df: pd.DataFrame, columns: str | None, bands: bool = False) -> pd.DataFrame:
    """Only the comma-separated ``columns`` (in that order), by the heading shown (``time``) or the raw name
    (``seconds``, as in CSV); a name not in the table is a one-line error listing the table's headings.
    ``bands``: a banded figure keeps its 80 % band (a table: every time printed carries its band)."""
    if not columns:
        return df
    return df[choose(list(df.columns), columns, bands)]


def _band_of(col, available: list) -> list:
    """The columns that carry ``col``'s 80 % band in ``available`` (its bounds, the band's level and rows)."""
    if f"{col}_lo" not in available or f"{col}_hi" not in available:
        return []
    return [c for c in (f"{col}_lo", f"{col}_hi", "band_level", "band_rows") if c in available]


def choose(available: list, columns: str, bands: bool = False) -> list:
    """The columns of ``available`` that ``columns`` names, in its order (the error :func:`pick` gives); no
    pandas, so a command whose table columns are known checks ``--columns`` before doing any work. A band's
    heading (``time_80%``, as the table shows it) names the figure's bounds; with ``bands`` a banded figure
    brings its bounds along."""
    names = [c.strip() for c in columns.split(",") if c.strip()]
    by_name: dict[str, list] = {}
    for col in available:
        band = _band_of(col, available)
        for name in (_unit(col)[1], str(col)):
            by_name.setdefault(name, [col, *band] if bands else [col])
            if band:   # a table shows the band beside its figure: the figure comes along
                by_name.setdefault(f"{name}_80%", [col, *band] if bands else band)
    chosen = []
    for name in names:
        if name not in by_name:
            from nmsim.bands import is_band_column   # accepted, not listed: each figure's 80 % bounds
            shown = ", ".join(dict.fromkeys(_unit(c)[1] for c in available if not is_band_column(c, available)))
            raise UserError(f"no column {name!r} (columns: {shown})", "--columns")
        chosen += [c for c in by_name[name] if c not in chosen]
    return chosen


def check_columns(available, columns: str | None, keys=()) -> None:
    """Before any work: the error :func:`render_table` (and CSV/JSON) would give for ``columns`` against a table
    of ``available`` columns led by the row ``keys`` (names of the keys are always accepted)."""
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip() and c.strip() not in keys]
        if wanted:
            choose(list(available), ",".join(wanted))


def _label(df: pd.DataFrame, i: int, index: bool) -> str:
    if index:
        key = df.index[i]
        return " ".join(map(str, key)) if isinstance(key, tuple) else str(key)
    row = [df[c][i] for c in df.columns] if hasattr(df, "to_pandas") else df.iloc[i].tolist()
    texts = [str(v) for v in row if isinstance(v, str) and 0 < len(v) <= LONG_TEXT]
    return " ".join(dict.fromkeys(texts[:2])) or str(i)   # the dense recipe's plan: "dense", not "dense dense"


def _to_string(shown, index: bool) -> str:
    """``shown`` (text columns) as an aligned table: ``DataFrame.to_string``'s text, for Rows too."""
    if hasattr(shown, "to_pandas"):
        from nmsim.cli.rows_text import text
        return text(shown.columns, [list(shown[c]) for c in shown.columns])
    return shown.to_string(index=index)


def _blocks(shown: pd.DataFrame, index: bool, width: int, nkeys: int = 1) -> str:
    """Columns in blocks that each fit ``width``, every block led by the row keys (the index, else the first
    ``nkeys`` columns) so a row can be followed across blocks."""
    if hasattr(shown, "to_pandas"):
        from nmsim.cli.rows_text import text
        cols = shown.columns
        size = [max([len(c), *map(len, shown[c])]) + 1 for c in cols]
        groups = _block_columns(size, nkeys, width)
        return "\n\n".join(text([cols[i] for i in [*range(nkeys), *g]],
                                 [list(shown[cols[i]]) for i in [*range(nkeys), *g]]) for g in groups)
    frame = shown
    if index:
        nkeys = frame.index.nlevels
        frame = frame.reset_index(names=[f"__key{i}__" for i in range(nkeys)]).astype(str)
        frame.columns = [*([""] * nkeys), *frame.columns[nkeys:]]
    size = [max(len(str(c)), int(frame.iloc[:, i].map(len).max() if len(frame) else 0)) + 1
            for i, c in enumerate(frame.columns)]
    blocks = _block_columns(size, nkeys, width)
    return "\n\n".join(frame.iloc[:, [*range(nkeys), *block]].to_string(index=False) for block in blocks)


def _block_columns(size: list, nkeys: int, width: int) -> list[list[int]]:
    """The positions of the columns after the ``nkeys`` keys, in blocks that fit ``width`` with the keys."""
    base = sum(size[:nkeys])
    blocks, current = [], []
    for i in range(nkeys, len(size)):
        if current and base + sum(size[c] for c in current) + size[i] > width:
            blocks.append(current)
            current = []
        current.append(i)
    blocks.append(current)
    return blocks


def render_table(df: pd.DataFrame, index: bool = True, width: int = WIDTH, columns: str | None = None) -> str:
    """``df`` in human units within ``width`` columns; ``columns`` (``--columns``) picks and orders columns.

    A named index becomes the leading key column(s) (one header line); the keys always stay, also with
    ``columns``. Too wide: long text columns go below the table, then the rest wraps into blocks that
    each repeat the keys."""
    df, index, nkeys = keyed(df, index, columns, bands=True)
    from nmsim.bands import fold
    shown = human(fold(df, _formatted))
    text = _to_string(shown, index)
    if max(map(len, text.splitlines() or [""])) <= width:
        return text + "\n"
    long_cols = [c for c in list(shown.columns)[(0 if index else nkeys):]
                 if max(map(len, list(shown[c])), default=0) > LONG_TEXT]
    below = _below(shown, long_cols, index, width)
    rest = shown.drop(columns=long_cols)
    table = _to_string(rest, index)
    if max(map(len, table.splitlines() or [""])) > width:
        table = _blocks(rest, index, width, nkeys)
    return table + "\n" + ("\n".join(below) + "\n" if below else "")


def keyed(df: pd.DataFrame, index: bool, columns: str | None, bands: bool = False) -> tuple:
    """(frame, index shown?, key columns): a named index becomes leading key columns, kept with ``columns``
    (``bands``: as :func:`pick`)."""
    if hasattr(df, "to_pandas"):
        return _keyed_rows(df, index, columns, bands)
    if not (index and any(n is not None for n in df.index.names)):
        return (pick(df, columns, bands) if columns else df), index, 1
    nkeys = df.index.nlevels
    keys = [str(n) for n in df.index.names]
    df = df.reset_index()
    if columns:
        import pandas as pd

        wanted = [c.strip() for c in columns.split(",") if c.strip() and c.strip() not in keys]
        rest = pick(df.iloc[:, nkeys:], ",".join(wanted), bands) if wanted else df.iloc[:, nkeys:nkeys]
        df = pd.concat([df.iloc[:, :nkeys], rest], axis=1)
    return df, False, nkeys


def _keyed_rows(rows, index: bool, columns: str | None, bands: bool) -> tuple:
    """:func:`keyed` of :class:`nmsim.frame.Rows`."""
    if not (index and rows.index_name is not None):
        return (pick(rows, columns, bands) if columns else rows), index, 1
    key = str(rows.index_name)
    rows = rows.reset_index()
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip() and c.strip() != key]
        rest = choose(rows.columns[1:], ",".join(wanted), bands) if wanted else []
        rows = rows[[key, *rest]]
    return rows, False, 1


def _below(shown: pd.DataFrame, long_cols: list, index: bool, width: int) -> list[str]:
    """Long text columns as wrapped lines under the table, one per row, labelled by the row's keys."""
    below = []
    for col in long_cols:
        below.append(f"{col}:")
        values = list(shown[col])
        for i in range(len(shown)):
            head = f"  {_label(shown, i, index)}: "
            below.append(textwrap.fill(values[i], width, initial_indent=head, subsequent_indent=" " * 6))
    return below

