"""Reading user files: one place for encodings, size, nesting depth, YAML aliases and duplicate keys.

Every problem is a one-line :class:`UserError` naming the file (and the line where the parser knows it).
Limits are far above any real workload, spec or config file and far below what hurts:

* ``MAX_BYTES`` (16 MiB) per file; ``MAX_DEPTH`` (64) levels of nesting;
* ``MAX_NODES`` (100,000) values after YAML alias expansion, so a "billion laughs" document is refused while
  it is still a small graph of shared nodes (nothing is expanded, not even in the message).
"""
from __future__ import annotations

import io
import json
import math
import os
import reprlib
import stat
from functools import lru_cache
from pathlib import Path

from nmsim.errors import UserError

MAX_BYTES = 16 * 2**20
MAX_DEPTH = 64
MAX_NODES = 100_000

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxdict, _repr.maxtuple = 2, 4, 4, 4
_repr.maxstring, _repr.maxother, _repr.maxlong = 40, 40, 40


def short_repr(value) -> str:
    """``repr`` for error messages: bounded in length and depth (shared or deep structures are never expanded)."""
    return _repr.repr(value)


# ---- bytes and text ------------------------------------------------------------------------------

def read_bytes(path: str | os.PathLike, what: str = "file", max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file; a missing, folder, unreadable or oversized path is a one-line UserError."""
    p = Path(path)
    where = str(p)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise UserError(f"{what} not found", where) from None
    except NotADirectoryError:
        raise UserError(f"{what} not found (a parent in the path is a file)", where) from None
    except OSError as exc:
        raise UserError(f"cannot read {what}: {_reason(exc)}", where) from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"is a folder, not a {what}", where)
    if stat.S_ISREG(st.st_mode) and st.st_size > max_bytes:
        raise UserError(f"is {st.st_size / 2**20:.0f} MiB; a {what} is at most {max_bytes / 2**20:.0f} MiB", where)
    try:
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UserError(f"cannot read {what}: {_reason(exc)}", where) from None
    if len(data) > max_bytes:
        raise UserError(f"is larger than {max_bytes / 2**20:.0f} MiB; not a {what}", where)
    return data


def decode(data: bytes, where: str, what: str = "file") -> str:
    """UTF-8 text (a UTF-8 byte-order mark is dropped); UTF-16/32, binary and Latin-1 files are refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) >= 4 and (data[1:4:2] == b"\0\0" or
                                                                           data[0:3:2] == b"\0\0")):
        raise UserError(f"is UTF-16 or UTF-32 encoded; save the {what} as UTF-8", where)
    if b"\0" in data:
        raise UserError(f"is a binary file, not a {what}", where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise UserError(f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}; Latin-1?); save the "
                        f"{what} as UTF-8", where) from None
    return text.removeprefix("\ufeff")


def read_text(path: str | os.PathLike, what: str = "file", max_bytes: int = MAX_BYTES) -> str:
    return decode(read_bytes(path, what, max_bytes), str(path), what)


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


# ---- structure limits ----------------------------------------------------------------------------

def check_depth(value, where: str, limit: int = MAX_DEPTH) -> None:
    """Refuse data nested deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                raise UserError(f"nested more than {limit} levels deep", where)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)


# ---- YAML ----------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _loader_class():
    """PyYAML's SafeLoader that refuses duplicate keys and documents whose aliases expand past ``MAX_NODES``
    values (made on first use: a document kept parsed, :mod:`nmsim.io.kept_parses`, imports no PyYAML)."""
    import yaml

    class _Loader(yaml.SafeLoader):
        def compose_document(self):
            node = super().compose_document()
            _check_expansion(node, self.name)
            return node

        def compose_node(self, parent, index):
            """Refuse deep nesting while composing: the parser then reads only ``MAX_DEPTH`` levels of a hostile
            document (5,000 levels cost ~1 s of CPU before the recursion limit stopped them)."""
            self._depth = getattr(self, "_depth", 0) + 1
            try:
                if self._depth > MAX_DEPTH + 1:
                    raise UserError(f"nested more than {MAX_DEPTH} levels deep", self.name)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen: dict = {}
                for key_node, _ in node.value:
                    if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=deep)
                    line = key_node.start_mark.line + 1
                    try:
                        if key in seen:
                            raise UserError(f"duplicate key {short_repr(key)} on line {line} (first on line "
                                            f"{seen[key]})", self.name)
                        seen[key] = line
                    except TypeError:  # an unhashable key: the base class reports it
                        continue
            return super().construct_mapping(node, deep=deep)
    return _Loader


def _check_expansion(root, where: str) -> None:
    """Count the values a composed YAML graph expands to (aliases counted each time they are used)."""
    if root is None:
        return
    size: dict[int, int] = {}
    depth_of: dict[int, int] = {}
    order, stack, seen = [], [root], set()
    while stack:                       # post-order without recursion
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(_children(node))
    for node in reversed(order):
        kids = _children(node)
        size[id(node)] = 1 + sum(size.get(id(k), 1) for k in kids)
        depth_of[id(node)] = 1 + max((depth_of.get(id(k), 1) for k in kids), default=0)
        if size[id(node)] > MAX_NODES:
            raise UserError(f"YAML aliases expand to more than {MAX_NODES:,} values (an alias bomb?); refused", where)
        if depth_of[id(node)] > MAX_DEPTH + 1:
            raise UserError(f"nested more than {MAX_DEPTH} levels deep", where)


def _children(node) -> list:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [x for pair in node.value for x in pair]
    return []


def parse_yaml(text: str, where: str):
    """Parse YAML text with the limits above; syntax errors say where."""
    import yaml

    loader = _loader_class()(text)
    loader.name = where
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"YAML syntax error{at}: {problem}", where) from None
    except RecursionError:
        raise UserError(f"nested more than {MAX_DEPTH} levels deep", where) from None
    finally:
        loader.dispose()


def load_yaml(path: str | os.PathLike, what: str = "file", where: str | None = None):
    """Read and parse a YAML file (``where``: the name used in messages, default the path)."""
    text = read_text(path, what)
    return parse_yaml(text, where or str(path))


# ---- JSON ----------------------------------------------------------------------------------------

def _no_duplicates(where: str):
    def hook(pairs):
        out = {}
        for key, value in pairs:
            if key in out:
                raise UserError(f"duplicate key {short_repr(key)}", where)
            out[key] = value
        return out
    return hook


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str, where: str, expect: type | None = None, allow_nan: bool = False):
    """Parse JSON text: duplicate keys, NaN/Infinity (unless ``allow_nan``) and deep nesting are errors.

    ``expect`` (dict or list): the top-level type required.
    """
    kwargs = {} if allow_nan else {"parse_constant": _no_constant}
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates(where), **kwargs)
    except UserError:
        raise
    except json.JSONDecodeError as exc:
        raise UserError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", where) from None
    except ValueError as exc:
        raise UserError(f"invalid JSON: {exc}", where) from None
    except RecursionError:
        raise UserError(f"nested more than {MAX_DEPTH} levels deep", where) from None
    check_depth(value, where)
    if expect is not None and not isinstance(value, expect):
        names = {dict: "a JSON object", list: "a JSON array"}
        raise UserError(f"expected {names.get(expect, expect.__name__)}, got {_kind(value)}", where)
    return value


def load_json(path: str | os.PathLike, what: str = "file", expect: type | None = None, allow_nan: bool = False):
    return parse_json(read_text(path, what), str(path), expect, allow_nan)


def _kind(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def check_fields(obj: dict, cls, where: str) -> None:
    """Each key of ``obj`` (a parsed JSON object) is a field of dataclass ``cls`` holding a value of the field's
    annotated type (a tuple field takes a JSON array); UserError at ``where: key`` otherwise."""
    import dataclasses
    import typing

    types = typing.get_type_hints(cls)
    unknown = sorted(set(obj) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise UserError(f"unknown field {unknown[0]!r}", where)
    for key, value in obj.items():
        allowed = typing.get_args(types[key]) or (types[key],)
        if not any(_is_type(value, t) for t in allowed):
            want = " or ".join(_TYPE_NAMES.get(t, getattr(t, "__name__", str(t))) for t in allowed)
            raise UserError(f"must be {want}, got {short_repr(value)}", f"{where}: {key}" if where else key)


_TYPE_NAMES = {type(None): "null", str: "text", int: "an integer", float: "a number", dict: "an object",
               tuple: "an array", list: "an array", bool: "true/false"}


def _is_type(value, t) -> bool:
    t = typing_origin(t)
    if t is type(None):
        return value is None
    if t is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, {float: (int, float), tuple: list}.get(t, t))


def typing_origin(t):
    import typing
    return typing.get_origin(t) or t


# ---- CSV -----------------------------------------------------------------------------------------

def read_csv(path: str | os.PathLike, what: str = "CSV file", columns: tuple = (), numeric: tuple = ()):
    """A CSV as a DataFrame: ``columns`` must be present, ``numeric`` columns must hold finite numbers."""
    import pandas as pd

    text = read_text(path, what)
    where = str(path)
    try:
        df = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise UserError(f"empty {what}", where) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise UserError(f"cannot parse CSV ({str(exc).strip().splitlines()[0]})", where) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise UserError(f"missing column(s) {', '.join(missing)} (need {', '.join(columns)}; has "
                        f"{', '.join(map(str, df.columns)) or 'none'})", where)
    df = df.copy()
    for col in numeric:
        values = pd.to_numeric(df[col], errors="coerce").astype(float)
        for i, (raw, v) in enumerate(zip(df[col], values)):
            if not math.isfinite(v):
                raise UserError(f"row {i + 2}: {col} must be a finite number, got {short_repr(raw)}", where)
        df[col] = values
    return df
