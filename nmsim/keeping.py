"""What the answers and tables kept in the nmsim cache share: what they depend on besides the question (nmsim's own
files, the libraries' versions) and how many of them stay. Import cost: the standard library only (no
``importlib.metadata``, no library imported)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
FINGERPRINTS = "fingerprints"
FINGERPRINT_RE = re.compile(r"^files-[0-9a-f]{64}\.json$")
FINGERPRINT_TEMP_RE = re.compile(r"^\.files-[0-9a-f]{64}\.json\.[A-Za-z0-9_]+\.tmp$")
_PACKAGE: list = []
_STAT: list = []


def _package_files() -> list[tuple[str, Path, os.stat_result]]:
    """(path relative to the package, path, stat) of every package file outside ``__pycache__``, sorted."""
    out, todo = [], [ROOT]
    while todo:
        with os.scandir(todo.pop()) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=True):
                    if e.name != "__pycache__":
                        todo.append(Path(e.path))
                elif e.is_file():
                    out.append((Path(e.path).relative_to(ROOT).as_posix(), Path(e.path), e.stat()))
    return sorted(out, key=lambda f: f[0])


def package_fingerprint() -> str:
    """SHA-256 of every file of the nmsim package (path relative to it, bytes), once per process (remembered,
    :func:`remembered`)."""
    if not _PACKAGE:
        def digest() -> str:
            h = hashlib.sha256()
            for rel, path, _ in _package_files():
                h.update(rel.encode() + b"\0" + path.read_bytes())
            return h.hexdigest()
        _PACKAGE.append(remembered("package", digest))
    return _PACKAGE[0]


def files_signature() -> str:
    """SHA-256 of every package file's path, size and modification time (what Python's bytecode cache checks
    a source by), once per process: reading every file's bytes takes longer."""
    if not _STAT:
        h = hashlib.sha256()
        for rel, _, st in _package_files():
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        _STAT.append(h.hexdigest())
    return _STAT[0]


def remembered(name: str, compute) -> str:
    """``compute()``, a digest of the package's files, kept in the cache folder (``fingerprints/``) under
    :func:`files_signature`: a package whose files all keep their size and modification time gives the digest
    computed before; any change computes it again. The trace cache's mode applies (``off``: always computed;
    ``read``: read only; ``build``: kept)."""
    from nmsim.env import cache_folder, cache_in_force

    mode = cache_in_force()
    if mode == "off":
        return compute()
    where = cache_folder() / FINGERPRINTS
    path = where / f"files-{files_signature()}.json"
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(kept.get(name), str):
            return kept[name]
    except (OSError, ValueError, AttributeError):   # missing, truncated or foreign: computed
        kept = {}
    value = compute()
    if mode == "build" and not where.is_symlink():
        try:
            where.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=where)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({**kept, name: value}, fh)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:   # an unwritable cache is no error
            return value
        keep_newest(where, FINGERPRINT_RE, 16)
    return value


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
