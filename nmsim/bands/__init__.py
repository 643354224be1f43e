"""80 % error bands on every time nmsim prints, from scored residuals at the question's level.

Levels (:data:`LEVELS`): ``kernel`` (one GEMM), ``inference step`` and ``training step`` (one device, end to
end), ``cluster run`` (a multi-device training run). Each level's band is read from ``nmsim/data/bands/
bands.yaml``, which :mod:`nmsim.bands.build` writes from the scored (never fitted) rows of ``nmsim validate`` and
``nmsim cluster validate`` (``nmsim validate --write-bands``; a test checks the file is current).

A band is two factors on a predicted time, ``lo`` and ``hi``: the measured time lies within ``predicted x lo``
and ``predicted x hi`` for about 80 % of the level's scored rows. Energy and money scale with time (same
factors), rates (tokens/s, MFU) with its inverse. It applies only to the bundled hardware specs the level's
scored rows measured; anything else (a user's spec file, a systolic array, a GPU without rows) reads
``not validated``.

Frames gain ``COL_lo`` / ``COL_hi`` beside each banded column (raw SI) and ``band_level`` / ``band_rows``.
"""
from __future__ import annotations

import dataclasses
import math
import re
from functools import lru_cache
from pathlib import Path

from nmsim.schema.bands import LEVELS

COVERAGE = 0.8
NOT_VALIDATED = "not validated"
BANDS_FILE = Path(__file__).resolve().parent.parent / "data" / "bands" / "bands.yaml"
SPEC_DIR = Path(__file__).resolve().parent.parent / "data" / "hardware_specs"

# a column's kind from its name: figures that scale with time, and rates that scale with its inverse
_RATE = re.compile(r"(^|_)(per_second|mfu|hfu|tflops)$")
_TIME = re.compile(r"(^|_)(seconds|ms|hours|days|joules|j|usd)(_|$)")


@dataclasses.dataclass(frozen=True)
class Band:
    level: str
    rows: int          # scored rows behind it
    lo: float          # factor on a predicted time: measured / predicted at the band's low end
    hi: float
    coverage: float    # leave-one-out share of the scored rows inside their band

    def text(self) -> str:
        return (f"x{self.lo:.2f}-{self.hi:.2f} ({self.level}, {self.rows} scored rows, "
                f"{100 * self.coverage:.0f} % inside)")


def column_kind(name: str) -> str | None:
    """``time`` (scales with time: seconds, hours, days, joules, $), ``rate`` (tokens/s, MFU) or None."""
    name = str(name)
    if ("_vs_" in name or name.startswith(("vs_", "mem_")) or name.endswith(("_lo", "_hi"))
            or name == "usd_per_hour"):   # an input price, not a prediction
        return None
    if _RATE.search(name):
        return "rate"
    return "time" if _TIME.search(name) else None


@lru_cache(maxsize=4)
def table(path: str | None = None) -> dict:
    """The bands file, checked by its schema (:data:`nmsim.schema.bands.BANDS`): level -> {rows, lo, hi,
    coverage, devices}."""
    from nmsim.schema.bands import BANDS
    from nmsim.io.spec_reader import SpecReader, read_document
    doc, file = read_document(Path(path or BANDS_FILE), "bands file")
    return BANDS.check(SpecReader(file), doc, (), None)["levels"]


def _bundled_name(hw) -> str | None:
    """The bundled spec's name, or None for a spec file the user wrote (same name or not)."""
    path = getattr(hw, "path", None)
    if not path or Path(path).resolve().parent != SPEC_DIR:
        return None
    return hw.name


def band(level: str, hw=None, device: str | None = None) -> Band | None:
    """The 80 % band for a question at ``level`` on spec ``hw`` (or a bundled ``device`` name), None when the
    level has no scored rows on that device."""
    entry = table().get(level)
    name = device if device is not None else _bundled_name(hw)
    if not entry or name is None or name not in entry["devices"]:
        return None
    return Band(level, int(entry["rows"]), float(entry["lo"]), float(entry["hi"]), float(entry["coverage"]))


def for_system(system) -> Band | None:
    """The cluster-run band of a bundled system (a system file the user wrote is not validated)."""
    path = getattr(system, "path", None)
    if path and Path(path).resolve().parent != SPEC_DIR.parent / "systems":
        return None
    return band("cluster run", system.device_spec())


def level_for_mode(mode: str) -> str:
    return "training step" if mode == "training" else "inference step"


def attach(df, bands, columns=None):
    """``df`` with ``COL_lo``/``COL_hi`` after each banded column (``columns``, default every column
    :func:`column_kind` knows) and ``band_level``/``band_rows``; ``bands`` is one :class:`Band` (or None) for
    every row, or a sequence of them, one per row. Not validated: NaN bounds. A DataFrame's ``band_level`` is
    categorical (a sweep of 10⁶ rows holds a few strings, not 10⁶); :class:`nmsim.frame.Rows` stay Rows."""
    import numpy as np

    rows = hasattr(df, "to_pandas")
    if isinstance(bands, (list, tuple)) or hasattr(bands, "to_numpy"):   # each distinct band once, a code per row
        distinct = list(dict.fromkeys(bands))
        codes = np.fromiter(map({b: i for i, b in enumerate(distinct)}.__getitem__, bands), np.int64, len(bands))
    else:
        distinct, codes = [bands], np.zeros(len(df), np.int64)
    lo = np.array([b.lo if b else math.nan for b in distinct], dtype=float)[codes]
    hi = np.array([b.hi if b else math.nan for b in distinct], dtype=float)[codes]
    out = df.copy()
    for col in [c for c in (columns or df.columns) if column_kind(c)]:
        if rows:
            values = np.asarray(df[col], dtype=float)
        else:
            import pandas as pd
            values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        low, high = (values * lo, values * hi) if column_kind(col) == "time" else (values / hi, values / lo)
        at = list(out.columns).index(col) + 1
        out.insert(at, f"{col}_lo", low)
        out.insert(at + 1, f"{col}_hi", high)
    names, level = np.unique([b.level if b else NOT_VALIDATED for b in distinct], return_inverse=True)
    if rows:
        out["band_level"] = names.astype(object)[level.reshape(-1)[codes]]
    else:
        import pandas as pd
        out["band_level"] = pd.Categorical.from_codes(level.reshape(-1)[codes], categories=pd.Index(names))
    out["band_rows"] = np.array([b.rows if b else 0 for b in distinct], dtype=np.int64)[codes]
    return out


def is_band_column(name, columns) -> bool:
    """``COL_lo``/``COL_hi`` of a banded ``COL`` among ``columns``, or ``band_level``/``band_rows``."""
    name = str(name)
    return name in ("band_level", "band_rows") or (name.endswith(("_lo", "_hi")) and name[:-3] in columns
                                                   and column_kind(name[:-3]) is not None)


def with_band_columns(columns) -> list:
    """``columns`` as :func:`attach` leaves them (for checking ``--columns`` before any work)."""
    out = []
    for col in columns:
        out += [col, f"{col}_lo", f"{col}_hi"] if column_kind(col) else [col]
    return out + ["band_level", "band_rows"]


def fold(df, formatter):
    """For a table: the first banded column's ``_lo``/``_hi`` as one ``COL_80%`` text column (``formatter`` gives
    human units; ``not validated`` without a band), the other bounds and band columns left to CSV/JSON."""
    if "band_level" not in df.columns:
        return df
    banded = [c for c in df.columns if column_kind(c) and f"{c}_lo" in df.columns and f"{c}_hi" in df.columns]
    out = df.drop(columns=[f"{c}_{e}" for c in banded for e in ("lo", "hi")] + ["band_level", "band_rows"])
    if banded:
        main = banded[0]
        text = [NOT_VALIDATED if lo != lo or hi != hi or lo is None or hi is None
                else f"{formatter(main, lo)}-{formatter(main, hi)}"
                for lo, hi in zip(list(df[f"{main}_lo"]), list(df[f"{main}_hi"]))]
        out.insert(list(out.columns).index(main) + 1, f"{main}_80%", text)
    return out


def fold_display(columns: list, rows: list, formats: dict) -> tuple[list, list]:
    """A report table's (columns, raw rows) with each banded column's ``_lo``/``_hi`` as one ``COL 80%`` text
    column (formatted with ``formats[COL]``), ``band_rows`` left to the CSV and ``band_level`` kept."""
    banded = [c for c in columns if column_kind(c) and f"{c}_lo" in columns and f"{c}_hi" in columns]
    if "band_level" not in columns or not banded:
        return columns, rows
    drop = {f"{c}_{e}" for c in banded for e in ("lo", "hi")} | {"band_rows"}
    index = {c: i for i, c in enumerate(columns)}
    out_cols = []
    for c in columns:
        if c not in drop:
            out_cols.append(c)
            if c in banded:
                out_cols.append(f"{c} 80%")

    def show(c, v):
        fmt = formats.get(c)
        return fmt(v) if callable(fmt) else fmt.format(v) if fmt else f"{v:.4g}"
    out_rows = []
    for row in rows:
        new = []
        for c in out_cols:
            if c.endswith(" 80%"):
                base = c[:-4]
                lo, hi = row[index[f"{base}_lo"]], row[index[f"{base}_hi"]]
                missing = lo is None or lo != lo or hi != hi
                new.append(NOT_VALIDATED if missing else f"{show(base, lo)}-{show(base, hi)}")
            else:
                new.append(row[index[c]])
        out_rows.append(new)
    return out_cols, out_rows


def note(bands, labels=None, step: str | None = None) -> str:
    """The ``# 80 % band ...`` line(s) of a table's header: each distinct band (one :class:`Band` or None, or one
    per row with ``labels`` naming the rows' hardware); ``step``: the headline figure's range, said first."""
    per_row = list(bands) if isinstance(bands, (list, tuple)) else [bands]
    groups: dict = {}
    for i, b in enumerate(per_row):
        groups.setdefault(b, []).append(labels[i] if labels is not None else None)
    parts = []
    for b, names in groups.items():
        names = [n for n in dict.fromkeys(names) if n]
        parts.append((", ".join(names) + ": " if names and len(groups) > 1 else "")
                     + (b.text() if b else NOT_VALIDATED))
    lead = f"# 80 % band: {step}; " if step else "# 80 % band, "
    return lead + "measured / predicted (time, energy, $; rates inverse): " + "; ".join(parts) + "\n"
