"""Writing DataFrames for the CLI: an aligned table, CSV or JSON on stdout or to a file (atomically)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported on first use: argument checks and one-line errors stay fast
    import pandas as pd

FORMATS = ("table", "csv", "json")


def add_columns(parser, default: str | None = None) -> None:
    """``--columns``: the one option every table command shares, in every format (CSV/JSON: those columns, raw)."""
    parser.add_argument("--columns", metavar="COL,...",
                        help="columns to show, in this order, by heading or CSV name; CSV and JSON keep the row "
                             "keys and these columns (default: " + (default if default else "all, wrapped to 100 "
                             "columns") + ")")


def columns_hook(args):
    """The ``columns_known(available, keys=())`` hook of the commands' core functions (:mod:`nmsim.api`):
    ``--columns`` checked against a table's columns before the work that makes the table."""
    from nmsim.cli.table import check_columns
    return lambda available, keys=(): check_columns(available, getattr(args, "columns", None), keys=keys)


def render(df: pd.DataFrame, fmt: str = "table", index: bool = True, columns: str | None = None) -> str:
    """``df`` as CSV or JSON (raw SI) or as a table (human units, at most 100 columns wide). ``columns`` picks
    the columns in every format (the row keys stay): an unknown name is a one-line error listing the columns.
    ``df`` may be :class:`nmsim.frame.Rows` (the pricing core's tables): the same text, without pandas."""
    if hasattr(df, "to_pandas") and (len(df) or fmt == "json"):
        return _render_rows(df, fmt, index, columns)
    if hasattr(df, "to_pandas"):
        df = df.to_pandas()
    import pandas as pd

    if columns and fmt in ("csv", "json"):
        from nmsim.cli.table import keyed
        df, index, _ = keyed(df, index, columns)
    if fmt == "csv":
        return df.to_csv(index=index)
    if fmt == "json":
        data = df.reset_index() if index and df.index.name is not None else df
        return json_records(data)
    from nmsim.cli.table import render_table

    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
        return render_table(df, index=index, columns=columns)  # human units, at most 100 columns


def _render_rows(rows, fmt: str, index: bool, columns: str | None) -> str:
    if columns and fmt in ("csv", "json"):
        from nmsim.cli.table import keyed
        rows, index, _ = keyed(rows, index, columns)
    if fmt == "csv":
        from nmsim.cli.rows_text import csv_text
        return csv_text(rows, index)
    if fmt == "json":
        data = rows.reset_index() if index and rows.index_name is not None else rows
        return json_records(data)
    from nmsim.cli.table import render_table
    return render_table(rows, index=index, columns=columns)


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`nmsim.io.write_text`): never half-written, one-line errors."""
    from nmsim.io import write_text

    write_text(path, text, mine_only=True)   # a file the user named: replaced only if nmsim wrote it


def emit(df: pd.DataFrame, fmt: str = "table", out: str | None = None, index: bool = True,
         columns: str | None = None, head: str = "") -> None:
    """Write ``df``; ``head`` (what was priced, ``# ...`` lines) opens a table on stdout, else goes to stderr.
    Everything is rendered first, so a bad ``columns`` fails before anything is written."""
    text = render(df, fmt, index, columns)
    on_top = fmt == "table" and not out
    if out:
        write_atomic(out, text)
    else:
        sys.stdout.write((head if on_top else "") + text)
    if head and not on_top:
        sys.stderr.write(head)


def json_records(df) -> str:
    """``df`` as a JSON list of records with every float's shortest exact repr (pandas' ``to_json`` rounds to
    10 decimal places, which turns a 1.234 ns time into 1.2e-09); NaN and infinities become null."""
    import json
    import math

    def plain(v):
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    records = df.records() if hasattr(df, "records") else df.to_dict(orient="records")
    rows = [{str(k): plain(v) for k, v in row.items()} for row in records]
    return json.dumps(rows, indent=1, default=str) + "\n"
