"""Rows: the pricing core's tables as numpy columns, so that a question priced on a warm cache imports no pandas
(``import pandas`` alone costs about 0.3 s, more than the rest of such an answer). A :class:`Rows` is ordered
columns of one length and optional row labels; :meth:`Rows.to_pandas` makes the DataFrame where a caller asks for
one (the Python API, reports), with the dtypes pandas would have given, and :func:`group_sum` the sums pandas'
``groupby(...).sum()`` gives, bit for bit (its compensated summation, groups in order of appearance).
Import cost: numpy.
"""
from __future__ import annotations

import numpy as np


def _column(values, n: int | None = None) -> np.ndarray:
    """A column as a 1-D numpy array (text as object, as pandas keeps it); a scalar repeated ``n`` times."""
    if np.ndim(values) == 0 and n is not None:
        if isinstance(values, str) or values is None:
            out = np.empty(n, dtype=object)
            out[:] = values
            return out
        return np.full(n, values)
    arr = np.asarray(values)
    if arr.dtype.kind in "US":
        arr = arr.astype(object)
    return arr


def column_of(values: list) -> np.ndarray:
    """A list as the column pandas would make of it: bools, integers (int64) or floats (float64) as numbers,
    anything else (text, tuples, lists, None) as objects."""
    kinds = {type(v) for v in values}
    if kinds and kinds <= {bool, np.bool_}:
        return np.array(values, dtype=bool)
    if kinds and kinds <= {int, np.int64}:
        return np.array(values, dtype=np.int64)
    if kinds and kinds <= {int, float, np.int64, np.float64}:
        return np.array(values, dtype=float)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):   # element by element: a tuple stays one cell
        out[i] = v
    return out


class Rows:
    """Ordered numpy columns of one length; ``index`` (row labels, or None) named ``index_name``."""

    def __init__(self, data: dict | None = None, index=None, index_name: str | None = None):
        data = data or {}
        n = None if index is None else len(index)
        for v in data.values():
            if np.ndim(v):
                n = len(v)
                break
        self.data = {str(k): _column(v, n) for k, v in data.items()}
        self.index = None if index is None else _column(index)
        self.index_name = index_name
        self.attrs: dict = {}

    # ---- the DataFrame subset the pricing core uses ---------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        return list(self.data)

    def __len__(self) -> int:
        for v in self.data.values():
            return len(v)
        return 0 if self.index is None else len(self.index)

    def __contains__(self, name) -> bool:
        return name in self.data

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.data[key]
        return Rows({k: self.data[k] for k in key}, self.index, self.index_name)

    def at(self, label, column: str):
        """The value of ``column`` in the first row labelled ``label``."""
        return self.data[column][self.index.tolist().index(label)]

    def __setitem__(self, name: str, values) -> None:
        self.data[name] = _column(values, len(self))

    def insert(self, at: int, name: str, values) -> None:
        items = list(self.data.items())
        items.insert(at, (name, _column(values, len(self))))
        self.data = dict(items)

    def copy(self) -> "Rows":
        out = Rows(dict(self.data), self.index, self.index_name)
        out.attrs = dict(self.attrs)
        return out

    def drop(self, columns) -> "Rows":
        gone = set(columns)
        return Rows({k: v for k, v in self.data.items() if k not in gone}, self.index, self.index_name)

    def assign(self, **columns) -> "Rows":
        out = self.copy()
        for k, v in columns.items():
            out[k] = v
        return out

    def take(self, rows) -> "Rows":
        """The rows a boolean mask or positions select, in that order."""
        rows = np.asarray(rows)
        return Rows({k: v[rows] for k, v in self.data.items()},
                    None if self.index is None else self.index[rows], self.index_name)

    def set_index(self, name: str) -> "Rows":
        return Rows({k: v for k, v in self.data.items() if k != name}, self.data[name], name)

    def reset_index(self) -> "Rows":
        """The row labels as the first column (named ``index_name``), no labels."""
        if self.index is None:
            return self.copy()
        return Rows({self.index_name or "index": self.index, **self.data})

    def records(self) -> list[dict]:
        """One dict per row, values as Python scalars."""
        cols = {k: v.tolist() for k, v in self.data.items()}
        return [dict(zip(cols, row)) for row in zip(*cols.values())] if cols else [{} for _ in range(len(self))]

    @staticmethod
    def concat(parts: list["Rows"]) -> "Rows":
        """Rows after rows (the columns of the first part; labels dropped)."""
        parts = [p for p in parts if p is not None]
        names = parts[0].columns if parts else []
        return Rows({k: np.concatenate([p.data[k] for p in parts]) for k in names})

    # ---- pandas at the edge ---------------------------------------------------------------------------------
    def to_pandas(self):
        import pandas as pd

        index = None if self.index is None else pd.Index(self.index, name=self.index_name)
        df = pd.DataFrame(self.data, index=index)
        df.attrs.update(self.attrs)
        return df

    @staticmethod
    def from_pandas(df) -> "Rows":
        """The columns of a DataFrame, its index as the row labels."""
        return Rows({str(k): df[k].to_numpy() for k in df.columns}, df.index.to_numpy(), df.index.name)


def ops_rows(graph, ops=None) -> Rows:
    """``ops`` (default: the graph's op table) as :class:`Rows`: an OpGraph's ``rows``, or any graph's ``ops``."""
    if ops is not None:
        return as_rows(ops)
    return graph.rows if hasattr(graph, "rows") else as_rows(graph.ops)


def as_rows(frame) -> Rows:
    """``frame`` as :class:`Rows` (a DataFrame is converted; a Rows is itself)."""
    return frame if isinstance(frame, Rows) else Rows.from_pandas(frame)


def group_sum(keys, values) -> tuple[np.ndarray, np.ndarray]:
    """(groups in order of first appearance, sums (groups, columns) of ``values`` (rows, columns)): pandas'
    ``groupby(key, sort=False).sum(skipna=False)``, bit for bit: where each group's rows are together and no
    value is NaN, numpy's ``add.reduceat`` over each column (pandas' fast path); else Kahan-compensated sums in
    row order, a NaN making its group's sum NaN (pandas' ``group_sum`` kernel)."""
    keys = np.asarray(keys, dtype=object)
    order: dict = {}
    codes = np.fromiter((order.setdefault(k, len(order)) for k in keys.tolist()), np.int64, len(keys))
    values = np.asarray(values, dtype=float).reshape(len(keys), -1)
    names = np.empty(len(order), dtype=object)
    names[:] = list(order)
    if len(codes) and np.all(codes[1:] >= codes[:-1]) and not np.isnan(values).any():
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        return names, np.stack([np.add.reduceat(np.ascontiguousarray(values[:, j]), starts)
                                for j in range(values.shape[1])], axis=1).reshape(len(order), values.shape[1])
    sums = [[0.0] * values.shape[1] for _ in order]
    comp = [[0.0] * values.shape[1] for _ in order]
    nan = [[False] * values.shape[1] for _ in order]
    for g, row in zip(codes.tolist(), values.tolist()):
        s, c, bad = sums[g], comp[g], nan[g]
        for j, val in enumerate(row):
            if val != val:
                bad[j] = True
                continue
            y = val - c[j]
            t = s[j] + y
            c[j] = t - s[j] - y
            if c[j] != c[j]:   # an infinity: no compensation (pandas GH#53606)
                c[j] = 0.0
            s[j] = t
    out = np.array(sums, dtype=float).reshape(len(order), values.shape[1])
    out[np.array(nan, dtype=bool).reshape(out.shape)] = np.nan
    return names, out
