"""The one walker of input documents (spec files, workloads, runs and measurements files): type, key and number
checks with field paths, and the sources it records. Here, below the workload loader, so every file kind uses it.

Every problem is a :class:`UserError` whose ``where`` is ``<file>: <field.path>``, in the same words for every
file: ``unknown key 'x' (did you mean 'y'? allowed: ...)``, ``missing required field 'x'``, ``expected an integer,
got ...``, ``must be > 0, got ...``, ``must be <= N, got ...``. Source rule (spec files' ``Number`` nodes): every
number is either written ``{value: X, source: "..."}`` or sits inside a mapping (below the top level) that has its
own ``source:`` key; the nearest such key covers it.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from nmsim.errors import UserError, field_path
from nmsim.io.read import short_repr

SOURCE_HINT = 'missing source: write {value: X, source: "..."} or add source: to the section'


def yaml_text_hint(node) -> str:
    """YAML 1.1 reads ``1e30`` (no dot) as text: say how to write it as a number."""
    if not isinstance(node, str):
        return ""
    try:
        value = float(node)
    except ValueError:
        return ""
    if not math.isfinite(value):
        return ""
    mantissa, exponent = f"{value:e}".split("e")
    mantissa = mantissa.rstrip("0") + ("0" if mantissa.rstrip("0").endswith(".") else "")
    return f" (YAML reads {node} as text: write {mantissa}e{exponent})"


def did_you_mean(key, known) -> str:
    """``"did you mean 'layers'? "`` for a key close to one of ``known`` (difflib's ratio >= 0.6), else ``""``."""
    import difflib

    close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1) if isinstance(key, str) else []
    return f"did you mean {close[0]!r}? " if close else ""


class SpecReader:
    """Walks one YAML document, recording sources, raising UserError with field paths (the schema nodes of
    :mod:`nmsim.io.spec_nodes` call it: one set of field rules for every input file kind)."""

    def __init__(self, file: str):
        self.file = file
        self.sources: dict[str, str] = {}

    def fail(self, message: str, *path) -> UserError:
        return UserError(message, field_path(self.file, *path))

    def mapping(self, node, path: tuple, keys: dict[str, bool] | None, src: str | None, sourced: bool = True):
        """Check a mapping: type, unknown and missing keys; returns (node, source in force: its own ``source:``
        key when ``sourced``)."""
        if not isinstance(node, dict):
            raise self.fail(f"expected a mapping, got {type(node).__name__}", *path)
        for key in node:
            if not isinstance(key, str):
                raise self.fail(f"keys must be strings, got {key!r}", *path)
            if keys is not None and key not in keys and key != "source":
                raise self.unknown_key(key, keys, path)
        for key, required in (keys or {}).items():
            if required and key not in node:
                raise self.fail(f"missing required field {key!r}", *path)
        if sourced and "source" in node:
            src = self.text(node["source"], path + ("source",))
        return node, src

    def unknown_key(self, key, allowed, path: tuple, message: str = "unknown key {key} ({hint}allowed: {allowed})"):
        """The error for ``key`` at ``path`` (``message`` formatted with ``key``, ``hint``: a did-you-mean for a
        near miss, and ``allowed``)."""
        names = ", ".join(sorted(map(str, allowed))) or "none"
        return self.fail(message.format(key=repr(key), hint=did_you_mean(key, allowed), allowed=names), *path, key)

    def text(self, node, path: tuple) -> str:
        if not isinstance(node, str) or not node.strip():
            raise self.fail("expected a non-empty string", *path)
        return node

    def boolean(self, node, path: tuple) -> bool:
        if not isinstance(node, bool):
            raise self.fail(f"expected true or false, got {short_repr(node)}", *path)
        return node

    def number(self, node, path: tuple, src: str | None, *, positive=True, integer=False, at_most=None) -> float:
        if isinstance(node, dict):
            self.mapping(node, path, {"value": True, "source": True}, src)
            src, node = node["source"], node["value"]
            path_v = path + ("value",)
        else:
            path_v = path
        self.plain_number(node, path_v, positive=positive, integer=integer, at_most=at_most)
        if src is None:
            raise self.fail(SOURCE_HINT, *path)
        self.sources[field_path(None, *path)] = src
        return node

    def plain_number(self, node, path: tuple, *, positive=True, integer=False, at_most=None) -> float:
        """A number's type and range, no source (files nmsim writes, such as the bands file)."""
        if isinstance(node, bool) or not isinstance(node, (int, float)) or (integer and not isinstance(node, int)):
            want = "an integer" if integer else "a number"
            hint = "" if integer else yaml_text_hint(node)
            raise self.fail(f"expected {want}, got {short_repr(node)}{hint}", *path)
        if not math.isfinite(node):
            raise self.fail(f"must be a finite number, got {node!r}", *path)
        if (positive and node <= 0) or (not positive and node < 0):
            raise self.fail(f"must be {'> 0' if positive else '>= 0'}, got {node!r}", *path)
        if at_most is not None and node > at_most:
            limit = f"{at_most:,}" if isinstance(at_most, int) else at_most
            raise self.fail(f"must be <= {limit}, got {node!r}", *path)
        return node


def read_document(path: str | os.PathLike, what: str):
    """The parsed YAML of a spec file (``what``: "hardware spec", "system file") and its name for messages."""
    from nmsim.io.read import parse_yaml, read_text

    p = Path(path)
    file = p.name
    if not os.path.lexists(p):
        raise UserError("no such file", str(path))
    # encoding, size, folder and permission problems, duplicate keys, alias bombs and deep nesting: nmsim.io
    from nmsim.io.kept_parses import parsed

    doc = parsed(read_text(p, what), "nmsim.io.read", lambda text: parse_yaml(text, file))
    if doc is None:
        raise UserError("empty file", file)
    return doc, file
