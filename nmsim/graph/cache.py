"""The trace cache: shape-generic graphs on disk, so a repeated command loads a graph instead of tracing.

Location: ``$NMSIM_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/nmsim``, else ``~/.cache/nmsim`` (XDG base
directory spec); graphs live in its ``graphs/`` folder as ``nmsim-graph-<key>.npz`` (numpy arrays and a JSON
header; no pickle). The key is a SHA-256 of the workload's content (every :class:`ModelConfig` field that
shapes the graph: not its name, source or batch, nor a vision model's image size or a text model's seq_len,
which are variables of the graph, unless seq_len sizes a learned position table), the graph kind, the torch
and nmsim versions and a fingerprint of the tracing code and the shipped templates. Writes are atomic (temp
file + rename); :func:`clear` removes only files named the way this module names them, and the least recently
used graphs are evicted beyond ``$NMSIM_CACHE_MAX_MB`` (default 1 GiB); a symlinked ``graphs/`` is not nmsim's:
nothing is written or deleted through it.
The cache mode (read | build | off, ``$NMSIM_CACHE``) is kept here too. Import cost: no torch, numpy or pandas.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path

FORMAT = 2   # 2: JSON as UTF-8 bytes, op layout and edges as integer arrays
PREFIX = "nmsim-graph-"
SUFFIX = ".npz"
ENTRY_RE = re.compile(r"^nmsim-graph-[0-9a-f]{64}\.npz$")
TEMP_RE = re.compile(r"^\.nmsim-graph-[0-9a-f]{64}\.[A-Za-z0-9_]+\.tmp$")
# what the tracing code is: every module under nmsim/graph and, transitively, each nmsim module one of them
# imports
CODE_ROOTS = ("graph",)
# data the graph code reads besides the workload itself (which the key holds by content): the shipped templates a
# first answer is instantiated from (nmsim.graph.templates) instead of a trace
DATA_ROOTS = ("data/templates",)
_IMPORT_RE = re.compile(r"^[ \t]*(?:from[ \t]+(nmsim\b|\.+)([\w.]*)[ \t]+import[ \t]+(?:\(([^)]*)\)|([\w \t,]+))"
                        r"|import[ \t]+(nmsim(?:\.\w+)*))", re.M)
_NOT_KEYED = {"name", "source", "batch"}
# commands that fit (and store) a shape-generic graph when missing: one priced shape is then any shape
# (cluster: plan, budget and validate price a 1-layer trace of each model, loaded from the cache when warm;
# report: its cost tables, a second report traces nothing)
BUILD_COMMANDS = ("price", "compare", "budget", "trace", "cluster", "report")


def set_cache_mode(mode: str) -> None:
    """``read`` (answer from shape-generic graphs already built; the library default), ``build`` (fit and store
    one when missing), ``off`` (always trace)."""
    from nmsim import env

    env.set_cache_in_force(mode)


def cache_mode() -> str:
    from nmsim import env

    return env.cache_in_force()


def use_cache_for(command: str | None) -> str:
    """Set the CLI's cache mode: ``$NMSIM_CACHE`` (read | build | off) if set, else build for the pricing
    commands and read for the rest. Returns the mode it replaced."""
    from nmsim import env as environment

    previous = cache_mode()
    env = environment.cache_mode()
    if env:
        set_cache_mode(env)
    else:
        set_cache_mode("build" if command in BUILD_COMMANDS else "read")
    return previous


@contextlib.contextmanager
def cache_for(command: str | None):
    """:func:`use_cache_for` for the duration of one command (the mode is restored after)."""
    previous = use_cache_for(command)
    try:
        yield
    finally:
        set_cache_mode(previous)


def directory() -> Path:
    """The nmsim cache folder (not created here; :func:`nmsim.env.cache_folder`)."""
    from nmsim import env

    return env.cache_folder()


def graphs_dir() -> Path:
    return directory() / "graphs"


def _linked(folder: Path) -> bool:
    """``graphs/`` is a symbolic link: not the folder nmsim made, so nothing is written or deleted through it."""
    return folder.is_symlink()


_VERSIONS: list = []


def versions() -> dict[str, str]:
    """torch and nmsim versions and the tracing-code fingerprint (read from package metadata: no torch import)."""
    if not _VERSIONS:
        from nmsim.version import __version__

        torch_version = _torch_version_file()
        if torch_version is None:
            from importlib import metadata

            try:
                torch_version = metadata.version("torch")
            except metadata.PackageNotFoundError:
                torch_version = "none"
        _VERSIONS.append({"torch": torch_version, "nmsim": __version__, "code": code_fingerprint()})
    return _VERSIONS[0]


def _module_file(package: Path, module: str) -> Path | None:
    """The source file of ``nmsim.a.b`` under ``package`` (the nmsim folder), or None."""
    parts = module.split(".")
    if parts[0] != "nmsim" or len(parts) == 1:   # nmsim itself re-exports; its version is keyed on its own
        return None
    for path in (package.joinpath(*parts[1:]).with_suffix(".py"), package.joinpath(*parts[1:], "__init__.py")):
        if path.is_file():
            return path
    return None


def _imports(package: Path, path: Path) -> list[Path]:
    """The nmsim modules ``path`` imports, wherever the statement sits (``import nmsim.x``, ``from nmsim.x import
    y``, relative ``from .x import y``: module x and, when y is a submodule, y); a package that discovers its
    modules at run time (``pkgutil.iter_modules``) imports every module in its folder."""
    text = path.read_text(encoding="utf-8")
    package_name = ["nmsim", *path.relative_to(package).parts[:-1]]   # the package the module sits in
    modules: list[str] = []
    for m in _IMPORT_RE.finditer(text):
        start, rest, grouped, names, plain = m.groups()
        if plain:
            modules.append(plain)
            continue
        base = ["nmsim"] if start == "nmsim" else package_name[:len(package_name) - len(start) + 1]
        module = ".".join([*base, *filter(None, rest.split("."))])
        modules += [module, *(f"{module}.{n.split()[0]}" for n in (grouped or names).split(",") if n.strip())]
    found = [f for f in (_module_file(package, m) for m in modules) if f]
    if "iter_modules(" in text:
        found += sorted(path.parent.glob("*.py"))
    return found


def code_files(package: Path | None = None) -> list[Path]:
    """The tracing code's source files: the modules under ``CODE_ROOTS`` (subpackages included) and every nmsim
    module they import, transitively (:func:`_imports`)."""
    package = package or Path(__file__).resolve().parent.parent
    todo = sorted(p for root in CODE_ROOTS for p in (package / root).rglob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(f for f in _imports(package, path) if f not in seen)
    return sorted(seen)


def data_files(package: Path | None = None) -> list[Path]:
    """Every file under :data:`DATA_ROOTS`."""
    package = package or Path(__file__).resolve().parent.parent
    return sorted(p for root in DATA_ROOTS for p in (package / root).rglob("*") if p.is_file())


def code_fingerprint(package: Path | None = None) -> str:
    """SHA-256 (16 hex digits) of :func:`code_files` and :func:`data_files`, by path relative to the package: a
    graph cached by other tracing code, or instantiated from other templates, is never read. nmsim's own package:
    remembered while its files keep their size and modification time (:func:`nmsim.keeping.remembered`)."""
    if package is None:
        from nmsim.keeping import remembered

        return remembered("code", lambda: _code_fingerprint(Path(__file__).resolve().parent.parent))
    return _code_fingerprint(package)


def _code_fingerprint(package: Path) -> str:
    h = hashlib.sha256()
    for path in code_files(package) + data_files(package):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


_KEYS: dict = {}


def _torch_version_file() -> str | None:
    """torch's ``__version__`` read from its ``version.py`` (locating the package imports none of it)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("torch")
        text = Path(spec.origin).with_name("version.py").read_text() if spec and spec.origin else ""
    except (ImportError, OSError, ValueError):
        return None
    m = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    return m.group(1) if m else None


def key(cfg, kind: str, fixed: dict | None = None) -> str:
    memo = (cfg, kind, tuple(sorted((fixed or {}).items())))
    hit = _KEYS.get(memo)
    if hit is None:
        hit = _KEYS[memo] = _key(cfg, kind, fixed)
    return hit


def _key(cfg, kind: str, fixed: dict | None) -> str:
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_KEYED}
    if cfg.is_image:
        fields.pop("image_size", None)
    if cfg.is_image or not (cfg.position == "learned" and not cfg.max_positions):
        fields.pop("seq_len", None)   # it sizes no module: only a learned table without max_positions uses it
    blob = json.dumps({"format": FORMAT, "kind": kind, "fixed": fixed or {}, "workload": fields, **versions()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def path_for(key_: str) -> Path:
    return graphs_dir() / f"{PREFIX}{key_}{SUFFIX}"


def load(key_: str):
    """The cached :class:`~nmsim.graph.shapes.ShapeGraph` for ``key_``, or None (missing or unreadable)."""
    path = path_for(key_)
    if not path.is_file():
        return None
    import numpy as np

    from nmsim.graph.shapes import ShapeGraph

    try:
        with np.load(path, allow_pickle=False) as data:
            sg = ShapeGraph.from_arrays({k: data[k] for k in data.files})
    except Exception:  # a truncated or foreign file is a cache miss, never an error
        return None
    try:
        os.utime(path)  # recently used: evicted last
    except OSError:
        pass
    return sg


def store(key_: str, sg) -> Path | None:
    """Write ``sg`` atomically; returns the path, or None when the cache folder is not writable."""
    import numpy as np

    folder = graphs_dir()
    if _linked(folder):
        return None
    sg.info = {**sg.info, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **versions()}
    arrays = sg.to_arrays()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{PREFIX}{key_}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, path_for(key_))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return None
    evict()
    return path_for(key_)


def max_bytes() -> int:
    """Size limit of the graph cache: ``$NMSIM_CACHE_MAX_MB`` (default 1024 MiB)."""
    from nmsim import env

    return env.cache_max_bytes()


def evict(limit: int | None = None) -> int:
    """Delete the least recently used graphs until the cache is within ``limit`` bytes; returns files removed."""
    limit = max_bytes() if limit is None else limit
    folder = graphs_dir()
    if _linked(folder):
        return 0
    try:
        files = [(p.stat().st_mtime, p.stat().st_size, p) for p in folder.iterdir() if ENTRY_RE.match(p.name)]
    except OSError:
        return 0
    total, removed = sum(f[1] for f in files), 0
    for _, size, path in sorted(files, key=lambda f: f[0]):
        if total <= limit:
            break
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        removed += 1
    return removed


def entries() -> list[dict]:
    """One dict per cached graph: file, bytes, workload, kind, variables, ops, created, current (written by this
    torch/nmsim/tracing code: entries from other versions are never read, ``clear`` removes them)."""
    folder = graphs_dir()
    if not folder.is_dir():
        return []
    import numpy as np

    from nmsim.graph.shapes import read_meta

    out = []
    for path in sorted(folder.iterdir()):
        if not ENTRY_RE.match(path.name):
            continue
        row = {"file": path.name, "bytes": path.stat().st_size, "workload": "?", "kind": "?", "variables": "",
               "ops": 0, "created": "", "current": False}
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = read_meta(data["meta"])
            current = all(meta["info"].get(k) == v for k, v in versions().items())
            row.update(workload=meta["info"].get("workload", "?"), kind=meta["kind"], current=current,
                       variables=",".join([*(f"{k}={v}" for k, v in meta["fixed"].items()), *meta["variables"]]),
                       ops=len(meta["static"]["op"]),
                       created=meta["info"].get("created", ""))
        except Exception:
            row["kind"] = "unreadable"
        out.append(row)
    return sorted(out, key=lambda r: (r["workload"], r["kind"], r["variables"]))


def clear() -> tuple[int, int]:
    """Delete the cache files nmsim wrote (graphs and leftover temp files); returns (files, bytes) removed."""
    from nmsim.io.write import remove_owned

    folder = graphs_dir()
    return remove_owned(folder, lambda p: p.parent == folder and bool(ENTRY_RE.match(p.name) or
                                                                      TEMP_RE.match(p.name)))
