"""The report's cost frames, priced once and kept in the nmsim cache: a second report of the same question loads them.

A report prices every accelerator x plan, every recipe's schedule and the weight memory (seconds of CPU); the
frames depend only on the question (workload, plans, recipes, accelerator specs, dtype, run length) and on the
code and data that price it. The key is a SHA-256 of the question (the workload and specs as their full
dataclass contents, so an edited spec file is another question), of every file of the nmsim package (code,
bundled specs, prices, bands, fits) and of the torch, numpy and pandas versions: any change prices anew.
Entries are JSON (floats written exactly, dtypes recorded; no pickle) in ``report-costs/`` of the cache folder,
written atomically; the newest :data:`KEEP` are kept. ``$NMSIM_CACHE=off`` turns it off, ``read`` (the library
default) only reads; the ``report`` command builds.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from importlib import metadata
from pathlib import Path

from nmsim.keeping import keep_newest, package_fingerprint

FOLDER = "report-costs"
KEEP = 16
FORMAT = 1
ENTRY_RE = re.compile(r"^costs-[0-9a-f]{64}\.json$")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "none"


def key(question: dict) -> str:
    """The entry's key: ``question`` (JSON-able, dataclasses expanded) with the code, data and library versions."""
    def plain(x):
        return dataclasses.asdict(x) if dataclasses.is_dataclass(x) else repr(x)

    blob = json.dumps({"format": FORMAT, "question": question, "package": package_fingerprint(),
                       "versions": {n: _version(n) for n in ("torch", "numpy", "pandas")}},
                      sort_keys=True, default=plain)
    return hashlib.sha256(blob.encode()).hexdigest()


def folder() -> Path:
    from nmsim.graph.cache import directory

    return directory() / FOLDER


def _mode() -> str:
    from nmsim.graph.cache import cache_mode

    return cache_mode()


def _encode(frame) -> dict:
    """A frame as JSON: each column's values as Python numbers/text (floats exact), its dtype, the index."""
    index = frame.index.tolist()
    return {"columns": [str(c) for c in frame.columns], "dtypes": [str(t) for t in frame.dtypes],
            "data": [frame[c].tolist() for c in frame.columns],
            "index": None if index == list(range(len(frame))) else index, "attrs": frame.attrs}


def _decode(entry: dict):
    import pandas as pd

    index = pd.RangeIndex(len(entry["data"][0]) if entry["data"] else 0) if entry["index"] is None \
        else pd.Index(entry["index"])
    frame = pd.DataFrame({c: pd.Series(v, index=index, dtype=object).astype(t)
                          for c, t, v in zip(entry["columns"], entry["dtypes"], entry["data"])}, index=index)
    frame.attrs.update(entry["attrs"])
    return frame


def load(key_: str) -> dict | None:
    """The frames kept under ``key_`` ({name: DataFrame}), or None (missing, unreadable, or the cache off)."""
    if _mode() == "off":
        return None
    path = folder() / f"costs-{key_}.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        frames = {name: _decode(e) for name, e in entry["frames"].items()}
        os.utime(path)   # recently used: pruned last
    except Exception:   # noqa: BLE001 - a missing, truncated or foreign file is a miss, never an error
        return None
    return frames


def store(key_: str, frames: dict) -> Path | None:
    """Keep ``frames`` ({name: DataFrame}) under ``key_`` (``build`` mode only); None when not written."""
    if _mode() != "build":
        return None
    where = folder()
    try:
        text = json.dumps({"format": FORMAT, "frames": {n: _encode(f) for n, f in frames.items()}})
    except (TypeError, ValueError):   # a value JSON cannot hold exactly: not kept
        return None
    if where.is_symlink():   # not the folder nmsim made: nothing written through it
        return None
    from nmsim.errors import UserError
    from nmsim.io import write_text

    try:
        path = write_text(where / f"costs-{key_}.json", text, "report cost cache")
    except UserError:   # an unwritable cache is no error: the next report prices again
        return None
    _prune(where)
    return path


def clear() -> tuple[int, int]:
    """Delete the kept cost frames (and nmsim's leftover temp files there); returns (files, bytes) removed."""
    from nmsim.io.write import remove_owned

    where = folder()
    return remove_owned(where, lambda p: p.parent == where and bool(ENTRY_RE.match(p.name)))


def _prune(where: Path) -> None:
    """Only the :data:`KEEP` most recently used entries stay (files named as this module names them)."""
    keep_newest(where, ENTRY_RE, KEEP)
