"""The GPU measurements file of ``nmsim validate`` (``nmsim/data/measurements/gpu.yaml``): ``sources`` (id ->
citation), ``fits`` (kernel or GPU-level fields to calibrate, with bounds) and ``rows`` (measurements). The
loader (``nmsim.cost.measurements``) checks every field against these tables, then what needs the rest of nmsim
(hardware names, kernels, workloads, plans); :data:`FILE` checks every field of the file with the shared schema
checks, and :func:`json_schema` writes the same tables as the published JSON Schema."""
from __future__ import annotations

import math

from nmsim.graph.config import MAX_SIZE, MAX_TOKENS
from nmsim.io.read import short_repr
from nmsim.io.spec_nodes import Bool, Choice, Custom, DictOf, Field, ListOf, Nullable, Obj, Plain, Text
from nmsim.sparsity.metadata import DTYPE_BYTES

LEVELS = ("kernel", "end-to-end")
METRICS = ("seconds", "speedup")
REQUIRED = ("id", "group", "level", "source", "hardware", "metric", "value")
SHAPE_KEYS = {"gemm", "plan", "kernel", "dtype", "weight_dtype", "workload", "mode", "batch", "seq", "context",
              "output", "cuda_graphs", "fusion", "copies", "dropout"}
#: what a workload row's program ran besides its shape: FlashAttention and fused epilogues (``fusion``), eager
#: layout copies (``copies``), dropout masks (``dropout``, training)
STACK_KEYS = ("fusion", "copies", "dropout")
ROW_KEYS = {*REQUIRED, "fit", "baseline", "note", *SHAPE_KEYS}
WORKLOAD_ONLY = ("mode", "batch", "seq", "context", "output", *STACK_KEYS)
FIT_KEYS = {"name", "hardware", "kernel", "field", "bounds"}
DEFAULT_BOUNDS = (1e-3, 1.0)
MAX_GEMM_DIM = 2**24   # rows, reduction depth or columns of one measured GEMM (a sanity limit)
#: a workload row's counts -> (smallest, largest)
COUNTS = {"batch": (1, MAX_SIZE["batch"]), "seq": (1, MAX_TOKENS), "context": (0, MAX_TOKENS),
          "output": (1, MAX_TOKENS)}
#: ``output``: a prefill row that goes on generating (static batching): the run's time is the prefill of ``seq``
#: prompt tokens (which gives the first token) plus ``output - 1`` decode steps over the growing KV cache

NAME = {"type": "string", "minLength": 1}
ID = {"anyOf": [NAME, {"type": "integer"}]}


def _or_null(schema: dict) -> dict:
    """Fields the loader reads as unset when null (a baseline's ``kernel: null`` unpins the row's kernel)."""
    return {"anyOf": [schema, {"type": "null"}]}


def _shape_fields() -> dict:
    dim = {"type": "integer", "minimum": 1, "maximum": MAX_GEMM_DIM}
    return {"gemm": {"type": "object", "properties": {d: dim for d in "mkn"}, "required": list("mkn"),
                     "additionalProperties": False},
            "plan": _or_null({**NAME, "description": "a pattern (gemm rows) or a --sparsity plan (workload rows)"}),
            "kernel": _or_null(NAME), "dtype": _or_null({"enum": list(DTYPE_BYTES)}),
            "weight_dtype": _or_null({"enum": list(DTYPE_BYTES)}),
            "workload": NAME, "mode": NAME, "cuda_graphs": {"type": "boolean"},
            **{k: {"type": "boolean"} for k in STACK_KEYS},
            **{k: _or_null({"type": "integer", "minimum": low, "maximum": high}) for k, (low, high) in COUNTS.items()}}


def json_schema() -> dict:
    shape = _shape_fields()
    row = {"type": "object", "additionalProperties": False, "required": list(REQUIRED),
           "oneOf": [{"required": ["gemm"]}, {"required": ["workload"]}],
           "properties": {"id": ID, "group": NAME, "level": {"enum": list(LEVELS)}, "source": ID, "hardware": NAME,
                          "metric": {"enum": list(METRICS)}, "value": {"type": "number", "exclusiveMinimum": 0},
                          "fit": NAME, "note": {"type": "string"},
                          "baseline": {"type": "object", "minProperties": 1, "properties": shape,
                                       "additionalProperties": False}, **shape}}
    fit = {"type": "object", "additionalProperties": False, "required": ["name", "hardware", "field"],
           "properties": {"name": NAME, "hardware": NAME, "kernel": NAME, "field": NAME,
                          "bounds": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}}}}
    return {"type": "object", "additionalProperties": False, "required": ["rows"], "properties": {
        "sources": {"type": "object", "additionalProperties": NAME, "description": "source id -> citation"},
        "fits": {"type": "array", "items": fit}, "rows": {"type": "array", "minItems": 1, "items": row}}}


def _row_id(r, value, path, src):
    """A row id or a source id: a name or an integer."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise r.fail(f"expected a name, got {short_repr(value)}", *path)
    return value


def _bounds(r, value, path, src):
    """[low, high]: finite numbers, low < high (the range a field takes is checked by the loader)."""
    if not (isinstance(value, list) and len(value) == 2 and all(
            not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(x) for x in value)
            and value[0] < value[1]):
        raise r.fail(f"expected [low, high] with low < high (finite numbers), got {short_repr(value)}", *path)
    return value


def _shape_nodes() -> dict:
    count = {k: Nullable(Plain(integer=True, positive=low > 0, at_most=high)) for k, (low, high) in COUNTS.items()}
    dtype = Nullable(Choice(tuple(DTYPE_BYTES), what="dtype"))
    return {"gemm": Obj({d: Field(Plain(integer=True, at_most=MAX_GEMM_DIM), required=True) for d in "mkn"},
                        sourced=False),
            "plan": Nullable(Text()), "kernel": Nullable(Text()), "dtype": dtype, "weight_dtype": dtype,
            "workload": Text(), "mode": Text(), "cuda_graphs": Bool(), **{k: Bool() for k in STACK_KEYS}, **count}


SHAPE = {key: Field(node) for key, node in _shape_nodes().items()}
ROW = Obj({"id": Field(Custom(_row_id, ID), required=True), "group": Field(Text(), required=True),
           "level": Field(Choice(LEVELS, what="level"), required=True),
           "source": Field(Custom(_row_id, ID), required=True), "hardware": Field(Text(), required=True),
           "metric": Field(Choice(METRICS, what="metric"), required=True),
           "value": Field(Plain(), required=True), "fit": Field(Text()), "note": Field(Text(empty=True)),
           "baseline": Field(Obj(SHAPE, sourced=False)), **SHAPE}, sourced=False)
FIT = Obj({"name": Field(Text(), required=True), "hardware": Field(Text(), required=True),
           "kernel": Field(Text()), "field": Field(Text(), required=True),
           "bounds": Field(Custom(_bounds, {}), default=DEFAULT_BOUNDS)}, sourced=False)
#: the whole file, every field checked (what needs the rest of nmsim is checked by the loader)
FILE = Obj({"sources": Field(Nullable(DictOf(Text(), sourced=False)), default=None),
            "fits": Field(Nullable(ListOf(FIT, min_items=0, message="expected a list of fits")), default=None),
            "rows": Field(ListOf(ROW), required=True)}, sourced=False)
