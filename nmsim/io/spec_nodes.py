"""Declarative schema nodes: each checks a YAML value through :class:`~nmsim.io.spec_reader.SpecReader` (one-line
errors naming the file and field) and writes itself as JSON Schema (draft 2020-12), so the loaders' checks and
the published schemas come from one declaration.

``check(r, value, path, src)`` returns the checked value: numbers as read (their sources recorded), texts,
booleans, mapping nodes as plain dicts (defaults filled in), lists as lists. ``rules`` of a mapping are the
checks one field cannot make alone (``rule(r, checked, path)``, raising ``r.fail``); they run after its fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from nmsim.io.read import short_repr
from nmsim.io.spec_reader import did_you_mean

MISSING = object()
SOURCE_JSON = {"type": "string", "minLength": 1}


def _described(schema: dict, description: str) -> dict:
    return {**schema, "description": description} if description else schema


class Node:
    description: str = ""

    def check(self, r, value, path: tuple, src):
        raise NotImplementedError

    def json(self) -> dict:
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Node):
    """A non-empty string (``strip``: returned without surrounding blanks; ``empty``: any string, "" too)."""
    description: str = ""
    strip: bool = False
    empty: bool = False

    def check(self, r, value, path, src):
        if self.empty:
            if not isinstance(value, str):
                raise r.fail(f"expected a string, got {short_repr(value)}", *path)
            return value
        text = r.text(value, path)
        return text.strip() if self.strip else text

    def json(self):
        return _described({"type": "string", **({} if self.empty else {"minLength": 1})}, self.description)


@dataclass(frozen=True)
class Bool(Node):
    description: str = ""

    def check(self, r, value, path, src):
        return r.boolean(value, path)

    def json(self):
        return _described({"type": "boolean"}, self.description)


@dataclass(frozen=True)
class Number(Node):
    """A finite number with a source: ``X`` under a section's ``source:``, or ``{value: X, source: "..."}``.
    ``positive``: > 0 (else >= 0); ``integer``; ``at_most``: an upper bound."""
    description: str = ""
    positive: bool = True
    integer: bool = False
    at_most: float | None = None

    @property
    def limits(self) -> dict:
        """The range as :meth:`SpecReader.number` keywords."""
        return {"positive": self.positive, "at_most": self.at_most}

    def check(self, r, value, path, src):
        return r.number(value, path, src, positive=self.positive, integer=self.integer, at_most=self.at_most)

    def json(self):
        plain: dict = {"type": "integer" if self.integer else "number"}
        plain["exclusiveMinimum" if self.positive else "minimum"] = 0
        if self.at_most is not None:
            plain["maximum"] = self.at_most
        pair = {"type": "object", "properties": {"value": plain, "source": SOURCE_JSON},
                "required": ["value", "source"], "additionalProperties": False}
        return _described({"oneOf": [plain, pair]}, self.description)


@dataclass(frozen=True)
class Plain(Node):
    """A finite number without a source (files nmsim writes itself); ranges as :class:`Number`."""
    description: str = ""
    positive: bool = True
    integer: bool = False
    at_most: float | None = None

    def check(self, r, value, path, src):
        return r.plain_number(value, path, positive=self.positive, integer=self.integer, at_most=self.at_most)

    def json(self):
        schema: dict = {"type": "integer" if self.integer else "number"}
        schema["exclusiveMinimum" if self.positive else "minimum"] = 0
        if self.at_most is not None:
            schema["maximum"] = self.at_most
        return _described(schema, self.description)


@dataclass(frozen=True)
class Choice(Node):
    """One of ``values``. Refused as ``unknown WHAT 'x' (known: a, b)``, with a did-you-mean for a near miss (or
    ``message``, formatted with ``value``, ``hint`` and ``known``); ``text``: checked as a non-empty string first;
    ``lower``/``strip`` normalize it."""
    values: tuple
    what: str = "value"
    description: str = ""
    message: str | None = None
    text: bool = False
    lower: bool = False
    strip: bool = False

    def check(self, r, value, path, src):
        if self.text:
            value = r.text(value, path)
            value = value.strip() if self.strip else value
            value = value.lower() if self.lower else value
        if isinstance(value, (dict, list)) or value not in self.values or (
                isinstance(value, bool) and not any(isinstance(v, bool) for v in self.values)):
            known = ", ".join(map(str, self.values))
            message = self.message or "unknown {what} {value} ({hint}known: {known})"
            hint = did_you_mean(value, self.values)
            raise r.fail(message.format(what=self.what, value=short_repr(value), hint=hint, known=known), *path)
        return value

    def json(self):
        return _described({"enum": list(self.values)}, self.description)


@dataclass(frozen=True)
class Nullable(Node):
    """``node``, or null (read as None: a field left unset)."""
    node: Node
    description: str = ""

    def check(self, r, value, path, src):
        return None if value is None else self.node.check(r, value, path, src)

    def json(self):
        return _described({"anyOf": [self.node.json(), {"type": "null"}]}, self.description)


@dataclass(frozen=True)
class Field:
    node: Node
    required: bool = False
    default: object = MISSING


@dataclass(frozen=True)
class Obj(Node):
    """A mapping with known keys (and ``source:`` when ``sourced``; a ``top`` level document refuses it).

    ``unknown``/``missing``: message formats for an unknown key (``key``, ``hint``: a did-you-mean for a near
    miss, ``allowed``) and a missing required one (``key``); ``needs_source``: the message when no source is in force; ``keep_source``: the checked dict
    carries the source in force as ``source``."""
    fields: dict = field(default_factory=dict)
    description: str = ""
    sourced: bool = True
    top: bool = False
    rules: tuple = ()
    unknown: str = "unknown key {key} ({hint}allowed: {allowed})"
    missing: str = "missing required field {key}"
    needs_source: str | None = None
    keep_source: bool = False

    def check(self, r, value, path, src):
        value, _ = r.mapping(value, path, None, src, self.sourced)
        for key in value:
            if key not in self.fields and not (key == "source" and self.sourced):
                raise r.unknown_key(key, self.fields, path, self.unknown)
        for key, f in self.fields.items():
            if f.required and key not in value:
                raise r.fail(self.missing.format(key=repr(key)), *path)
        if "source" in value and self.sourced:
            if self.top:
                raise r.fail("unknown key 'source' at the top level (put source: on a section or a value)",
                             "source")
            src = r.text(value["source"], path + ("source",))
        if self.needs_source and src is None:
            raise r.fail(self.needs_source, *path)
        out = {}
        for key, f in self.fields.items():
            if key in value:
                out[key] = f.node.check(r, value[key], path + (key,), src)
            elif f.default is not MISSING:
                out[key] = f.default
        if self.keep_source and src is not None:
            out["source"] = src
        for rule in self.rules:
            rule(r, out, path)
        return out

    def properties(self) -> dict:
        props = {"source": SOURCE_JSON} if self.sourced and not self.top else {}
        return {**props, **{k: f.node.json() for k, f in self.fields.items()}}

    def json(self):
        schema = {"type": "object", "properties": self.properties(), "additionalProperties": False}
        required = [k for k, f in self.fields.items() if f.required]
        if required:
            schema["required"] = required
        return _described(schema, self.description)


@dataclass(frozen=True)
class DictOf(Node):
    """A mapping of free keys (checked by ``key``, a node whose check takes the key) to ``value`` nodes, with
    ``source:`` when ``sourced``. ``min_items``: refused with ``empty`` when fewer entries. Returns {key: value}
    in document order, keys as written."""
    value: Node
    key: Node | None = None
    description: str = ""
    sourced: bool = True
    min_items: int = 0
    empty: str = "needs at least one entry"
    rules: tuple = ()

    def check(self, r, value, path, src):
        value, src = r.mapping(value, path, None, src if self.sourced else None, self.sourced)
        out = {}
        for key, item in value.items():
            if key == "source" and self.sourced:
                continue
            if self.key is not None:
                self.key.check(r, key, path + (key,), src)
            out[key] = self.value.check(r, item, path + (key,), src)
        if len(out) < self.min_items:
            raise r.fail(self.empty, *path)
        for rule in self.rules:
            rule(r, out, path)
        return out

    def json(self):
        schema: dict = {"type": "object"}
        if self.sourced:
            schema["properties"] = {"source": SOURCE_JSON}
        if self.key is not None:
            names = self.key.json()
            schema["propertyNames"] = ({"anyOf": [names, {"const": "source"}]} if self.sourced else names)
        schema["additionalProperties"] = self.value.json()
        if self.min_items:
            schema["minProperties"] = self.min_items
        return _described(schema, self.description)


@dataclass(frozen=True)
class ListOf(Node):
    """A list of ``item`` nodes; fewer than ``min_items`` (or not a list) is refused with ``message``."""
    item: Node
    description: str = ""
    min_items: int = 1
    message: str = "expected a non-empty list"
    rules: tuple = ()

    def check(self, r, value, path, src):
        if not isinstance(value, list) or len(value) < self.min_items:
            raise r.fail(self.message, *path)
        out = [self.item.check(r, item, path + (i,), src) for i, item in enumerate(value)]
        for rule in self.rules:
            rule(r, out, path)
        return out

    def json(self):
        return _described({"type": "array", "minItems": self.min_items, "items": self.item.json()},
                           self.description)


@dataclass(frozen=True)
class Names(Node):
    """A list of non-empty names (aliases): refused as a whole with one message."""
    description: str = ""
    strip: bool = False

    def check(self, r, value, path, src):
        if not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
            raise r.fail("expected a list of names", *path)
        return [a.strip() for a in value] if self.strip else list(value)

    def json(self):
        return _described({"type": "array", "items": {"type": "string", "minLength": 1}}, self.description)


@dataclass(frozen=True)
class Custom(Node):
    """A value checked by a function ``check(r, value, path, src)``, its JSON Schema given as is."""
    checker: Callable
    schema: dict
    description: str = ""

    def check(self, r, value, path, src):
        return self.checker(r, value, path, src)

    def json(self):
        return _described(dict(self.schema), self.description)


@dataclass(frozen=True)
class Tagged(Node):
    """A mapping whose ``tag`` key (default ``default``) picks the :class:`Obj` that checks the other keys;
    ``common`` keys (and ``source``) are checked here for every variant. Returns {tag, common..., source,
    variant keys...}."""
    tag: str
    variants: dict
    default: str
    common: dict = field(default_factory=dict)
    what: str = "variant"
    description: str = ""

    def check(self, r, value, path, src):
        value, src = r.mapping(value, path, None, None)
        name = r.text(value.get(self.tag, self.default), path + (self.tag,))
        if name not in self.variants:
            raise r.fail(f"unknown {self.what} {name!r} (known: {', '.join(sorted(self.variants))})",
                         *path, self.tag)
        out: dict = {self.tag: name}
        for key, f in self.common.items():
            if key in value:
                out[key] = f.node.check(r, value[key], path + (key,), src)
        if src is not None:
            out["source"] = src
        rest = {k: v for k, v in value.items() if k not in (self.tag, "source", *self.common)}
        out.update(self.variants[name].check(r, rest, path, src))
        return out

    def json(self):
        common = {self.tag: {"enum": sorted(self.variants)}, "source": SOURCE_JSON,
                  **{k: f.node.json() for k, f in self.common.items()}}
        branches = []
        for name, variant in self.variants.items():
            when = {"properties": {self.tag: {"const": name}}, "required": [self.tag]}
            if name == self.default:
                when = {"anyOf": [when, {"not": {"required": [self.tag]}}]}
            then = {"properties": {**common, **variant.properties()}, "additionalProperties": False}
            required = [k for k, f in variant.fields.items() if f.required]
            if required:
                then["required"] = required
            branches.append({"if": when, "then": then})
        return _described({"type": "object", "properties": common, "allOf": branches}, self.description)
