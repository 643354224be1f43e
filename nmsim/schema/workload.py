"""The workload file (``nmsim/data/workloads/*.yaml``; fields, units and limits in ``docs/workloads.md``). Its
declaration is :class:`nmsim.graph.config.ModelConfig` with the check tables beside it (choices, ranges, sanity
limits), which the workload loader checks field by field; this module writes the same declaration as the
published JSON Schema (the checks across fields, such as heads dividing d_model, stay with the loader)."""
from __future__ import annotations

import dataclasses

from nmsim.graph import config as C

TYPES = {"bool": {"type": "boolean"}, "int": {"type": "integer"}, "float": {"type": "number"},
         "str": {"type": "string"}}
BELOW = {"norm_eps": {"exclusiveMaximum": 1}, "routing_skew": {"maximum": C.MAX_SKEW}}   # from CROSS_FIELD_CHECKS


def _field(f: dataclasses.Field) -> dict:
    from nmsim.graph.roles import USER_ROLES

    if f.name == "bias":
        return {"oneOf": [{"type": "boolean"}, {"type": "array", "uniqueItems": True,
                                                "items": {"enum": list(C.BIAS_ROLES)}}]}
    if f.name == "roles":
        return {"type": "object", "description": "module-path glob -> role",
                "additionalProperties": {"enum": list(USER_ROLES)}}
    kind = str(f.type)
    schema = dict(TYPES[kind.split("|")[0].strip()])
    choices = dict(C.CHOICES)
    if f.name == "family":   # the registry's modules: a new family is one new file, this schema unchanged
        schema["description"] = "a module of nmsim/graph/families (nmsim workload families)"
    elif f.name in choices:
        schema = {"enum": list(choices[f.name])}
    if f.name in C.POSITIVE or f.name in C.POSITIVE_OR_NULL:
        schema["minimum"] = 1
    if f.name in C.NON_NEGATIVE:
        schema["minimum"] = 0
    if f.name in C.POSITIVE_FINITE:
        schema["exclusiveMinimum"] = 0
    if f.name in C.MAX_SIZE:
        schema["maximum"] = C.MAX_SIZE[f.name]
    schema.update(BELOW.get(f.name, {}))
    return {"anyOf": [schema, {"type": "null"}]} if "None" in kind else schema


def json_schema() -> dict:
    """The workload file as JSON Schema: every :class:`ModelConfig` field, none required (defaults apply)."""
    return {"type": "object", "additionalProperties": False,
            "properties": {f.name: _field(f) for f in dataclasses.fields(C.ModelConfig)}}
