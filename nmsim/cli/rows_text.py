"""Writing :class:`nmsim.frame.Rows` as the CLI writes DataFrames, byte for byte, without pandas: an aligned
text table (``DataFrame.to_string(index=False)`` of text columns), CSV (``to_csv``) and the row dicts of JSON."""
from __future__ import annotations

import csv
import io
import math

import numpy as np


def text(columns: list[str], cells: list[list[str]]) -> str:
    """Text columns (``cells[c][r]``), each right-aligned to its widest cell or heading, one space apart."""
    widths = [max([len(str(h)), *map(len, col)]) for h, col in zip(columns, cells)]
    lines = [" ".join(str(h).rjust(w) for h, w in zip(columns, widths))]
    lines += [" ".join(col[r].rjust(w) for col, w in zip(cells, widths)) for r in range(len(cells[0]) if cells else 0)]
    return "\n".join(lines)


def _csv_cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def csv_text(rows, index: bool) -> str:
    """``to_csv``: a header (the index name first where the labels are written), floats at full precision,
    empty cells for NaN and None, quoting as the csv module does."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    labels = rows.index is not None and index
    w.writerow(([rows.index_name or ""] if labels else []) + rows.columns)
    cols = [_native(rows[c]) for c in rows.columns]
    keys = _native(rows.index) if labels else None
    for r in range(len(rows)):
        w.writerow(([_csv_cell(keys[r])] if labels else []) + [_csv_cell(c[r]) for c in cols])
    return out.getvalue()


def _native(values) -> list:
    """A column's values as Python scalars (floats as their shortest repr reads)."""
    arr = np.asarray(values)
    return arr.tolist() if arr.dtype != object else [v.item() if hasattr(v, "item") else v for v in arr]
