"""Parsed YAML kept in the nmsim cache by content: a data file (a hardware spec, the price list, a workload) is
parsed once, and later commands read its JSON (about 20x faster than PyYAML's constructor, and no ``import yaml``).

An entry's key is the SHA-256 of the text, the parser's name, PyYAML's version and the source of
:mod:`nmsim.io.read` (its checks: duplicate keys, alias expansion, nesting): the same text read by other checks is
parsed again, so an entry is never stale. Only a document JSON gives back exactly is kept (string keys; str, int,
float, bool, None, lists and mappings: a YAML date or an integer key is parsed every time). Only successful parses
are kept: an error is raised each time, from the text. Entries live in ``parsed/`` of the cache folder
(:func:`nmsim.env.cache_folder`), written atomically, the newest :data:`KEEP` kept; the cache mode in force
applies (``off``: neither read nor kept; ``read``: read only; ``build``: kept). The data loaders call
:func:`parsed` with :func:`nmsim.io.read.parse_yaml` (or libyaml) as the parser. Import cost: the standard
library.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

FOLDER = "parsed"
KEEP = 512
FORMAT = 1
ENTRY_RE = re.compile(r"^yaml-[0-9a-f]{64}\.json$")
TEMP_RE = re.compile(r"^\.yaml-[0-9a-f]{64}\.json\.[A-Za-z0-9_]+\.tmp$")
_SALT: list = []


def _salt() -> bytes:
    """PyYAML's version (read without importing it) and the checking code's bytes, once per process."""
    if not _SALT:
        import importlib.util

        spec = importlib.util.find_spec("yaml")
        version = ""
        if spec and spec.origin:
            dists = sorted(Path(spec.origin).parent.parent.glob("[Pp]y[Yy][Aa][Mm][Ll]-*.dist-info"))
            version = dists[-1].name if dists else spec.origin
        checks = (Path(__file__).parent / "read.py").read_bytes()
        _SALT.append(f"{FORMAT}\0{version}\0".encode() + hashlib.sha256(checks).digest())
    return _SALT[0]


def _exact(value) -> bool:
    """Whether JSON gives ``value`` back as it is (types included: 1 stays an int, 1.0 a float)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not all(type(k) is str for k in item):
                return False
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None and type(item) not in (str, int, float, bool):
            return False
    return True


def folder() -> Path:
    from nmsim.env import cache_folder

    return cache_folder() / FOLDER


def parsed(text: str, parser: str, parse):
    """``parse(text)``, or the document kept for the same ``text`` and ``parser`` (a name for the parsing
    function: entries of different parsers never mix)."""
    from nmsim.env import cache_in_force

    mode = cache_in_force()
    if mode == "off":
        return parse(text)
    digest = hashlib.sha256(_salt() + parser.encode() + b"\0" + text.encode("utf-8", "surrogatepass")).hexdigest()
    path = folder() / f"yaml-{digest}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):   # missing, truncated or foreign: parse the text
        pass
    doc = parse(text)
    if mode == "build" and _exact(doc):
        _store(path, json.dumps(doc))
    return doc


def _store(path: Path, text: str) -> None:
    where = path.parent
    try:
        if where.is_symlink():   # not the folder nmsim made: nothing written through it
            return
        where.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=where)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:   # an unwritable cache is no error: the next command parses again
        return
    from nmsim.keeping import keep_newest

    keep_newest(where, ENTRY_RE, KEEP)
