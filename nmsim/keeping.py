"""What the answers and tables kept in the nmsim cache share: what they depend on besides the question (nmsim's own
files, the libraries' versions) and how many of them stay. Import cost: the standard library only (no
``importlib.metadata``, no library imported)."""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

_PACKAGE: list = []


def package_fingerprint() -> str:
    """SHA-256 of every file of the nmsim package (path relative to it, bytes), once per process."""
    if not _PACKAGE:
        root = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
        _PACKAGE.append(h.hexdigest())
    return _PACKAGE[0]


def library_versions(names=("torch", "numpy", "pandas")) -> dict[str, str]:
    """Python's version and, per library, its installed version (the ``NAME-VERSION.dist-info`` beside it) and
    its ``__init__``'s modification time (a reinstall in place), found without importing it; ``none`` if absent."""
    import importlib.util

    out = {"python": sys.version}
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or not os.path.isfile(spec.origin):
            out[name] = "none"
            continue
        dist = sorted(Path(spec.origin).parent.parent.glob(f"{name}-*.dist-info"))
        version = dist[-1].name[len(name) + 1:-len(".dist-info")] if dist else "?"
        out[name] = f"{version} {os.stat(spec.origin).st_mtime_ns}"
    return out


def keep_newest(where: Path, entry_re, keep: int) -> None:
    """Only the ``keep`` most recently used entries of ``where`` stay (files whose names match ``entry_re``)."""
    try:
        entries = sorted((p for p in where.iterdir() if entry_re.match(p.name)), key=lambda p: p.stat().st_mtime,
                         reverse=True)
        for old in entries[keep:]:
            old.unlink(missing_ok=True)
    except OSError:   # another command pruning at the same time
        pass
