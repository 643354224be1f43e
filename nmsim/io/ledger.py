"""Which output files nmsim wrote: a small ledger so that a file is replaced only if nmsim wrote it.

A command that writes a user-named file (``--out table.csv``, ``nmsim plot ... --out fig.png``) records the
file's real path and SHA-256 here. Writing that path again is allowed only while the file still holds exactly
what nmsim wrote; a file nmsim did not write, or one changed since, is refused and left as it is.

The ledger is one JSON file in ``$NMSIM_STATE_DIR``, else ``$XDG_STATE_HOME/nmsim``, else
``~/.local/state/nmsim``, updated under an exclusive ``flock``. When it cannot be read or written the answer is
"not nmsim's" (the safe side): nothing is ever overwritten on a guess.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

MAX_ENTRIES = 10_000   # oldest entries are dropped beyond this (their files are then treated as the user's)


def ledger_path() -> Path:
    from nmsim import env

    base = env.state_dir()
    if base is None:
        state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        base = os.path.join(state, "nmsim")
    return Path(base) / "written-files.json"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def _load(fh) -> dict:
    fh.seek(0)
    try:
        data = json.loads(fh.read() or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def wrote(path) -> bool:
    """True when ``path`` is a file nmsim wrote and nobody changed since."""
    key = os.path.realpath(path)
    try:
        with open(ledger_path(), "r", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            entry = _load(fh).get(key)
    except OSError:
        return False
    return isinstance(entry, str) and entry == _file_digest(Path(key))


def record(path, data: bytes) -> bool:
    """Remember that nmsim wrote ``data`` to ``path``; False when the ledger cannot be written."""
    key = os.path.realpath(path)
    where = ledger_path()
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(where, os.O_RDWR | os.O_CREAT, 0o644)
        with os.fdopen(fd, "r+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            entries = _load(fh)
            entries.pop(key, None)
            entries[key] = _digest(data)          # newest last
            while len(entries) > MAX_ENTRIES:
                entries.pop(next(iter(entries)))
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(entries, indent=0))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        return False
    return True
