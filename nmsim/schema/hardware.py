"""The accelerator spec (``nmsim/data/hardware_specs/*.yaml``; fields and units in that folder's README)."""
from __future__ import annotations

from nmsim.schema.execution import DTYPE, EXECUTION, SPARSE_PATTERN, sparse_pattern
from nmsim.io.spec_nodes import Bool, Choice, Custom, DictOf, Field, ListOf, Names, Number, Obj, Text
from nmsim.sparsity.metadata import ENCODINGS

KINDS = ("gpu", "tpu", "systolic", "matrix-engine", "hierarchical-engine", "ideal")
RATIO_TOLERANCE = 1e-3  # published sparse peaks are rounded (H100: 989.4 -> 1978.9)


def _sparse_key(r, key, path, src):
    return sparse_pattern(r, key, path, " (need N < M)")


def _sparse_bound(r, entry, path):
    """A sparse peak is at most dense x M/N (a 2:4 'sparse' figure entered as dense is refused)."""
    from nmsim.sparsity.hierarchical import parse_any
    dense = entry["dense_tflops"]
    for key, item in entry.get("sparse", {}).items():
        pattern = parse_any(str(key))
        limit = dense * pattern.m / pattern.n
        if item["tflops"] > limit * (1 + RATIO_TOLERANCE):
            raise r.fail(f"sparse peak {item['tflops']} TFLOPS is above dense x M/N = {dense} x {pattern.m}/"
                         f"{pattern.n} = {limit:g} (a 2:4 'sparse' figure entered as dense?)",
                         *path, "sparse", str(key), "tflops")


def _unique_levels(r, levels, path):
    seen = set()
    for i, level in enumerate(levels):
        if level["name"] in seen:
            raise r.fail(f"duplicate memory level {level['name']!r}", *path, i, "name")
        seen.add(level["name"])


def _curve(r, value, path, src):
    if not isinstance(value, list) or not value:
        raise r.fail("expected a non-empty list of [gemm_flops, efficiency] pairs", *path)
    points = []
    for i, pair in enumerate(value):
        q = path + (i,)
        if not isinstance(pair, list) or len(pair) != 2:
            raise r.fail(f"expected a [gemm_flops, efficiency] pair, got {pair!r}", *q)
        x = r.number(pair[0], q + (0,), src)
        y = r.number(pair[1], q + (1,), src, at_most=1)
        if points and x <= points[-1][0]:
            raise r.fail("gemm_flops must increase along the curve", *q, 0)
        points.append((float(x), float(y)))
    return points


def _one_efficiency(r, node, path):
    if ("value" in node) == ("curve" in node):
        raise r.fail("give exactly one of value (a scalar) or curve (a list of [gemm_flops, efficiency])", *path)


def _spec_rules(r, doc, path):
    if "sparse_support" not in doc and any(e.get("sparse") for e in doc["matrix"].values()):
        raise r.fail("sparse peaks are listed but the sparse_support section is missing", "sparse_support")
    names = [level["name"] for level in doc["memory"]]
    for level in doc.get("energy", {}).get("pj_per_byte", {}):
        if level not in names:
            raise r.fail(f"unknown memory level {level!r} (levels: {', '.join(names)})",
                         "energy", "pj_per_byte", level)


TILE = Obj({d: Field(Number(integer=True)) for d in "mkn"})
CURVE_JSON = {"type": "array", "minItems": 1, "items": {
    "type": "array", "minItems": 2, "maxItems": 2, "prefixItems": [
        {"type": "number", "exclusiveMinimum": 0}, {"type": "number", "exclusiveMinimum": 0, "maximum": 1}]}}

MATRIX_ENTRY = Obj({
    "dense_tflops": Field(Number(description="dense matrix-unit peak (TFLOPS)"), required=True),
    "sparse": Field(DictOf(Obj({"tflops": Field(Number(), required=True)}),
                           key=Custom(_sparse_key, {"type": "string", "pattern": SPARSE_PATTERN}),
                           description="hardware N:M pattern -> peak; at most dense x M/N")),
}, rules=(_sparse_bound,))

HARDWARE = Obj({
    "name": Field(Text(), required=True),
    "description": Field(Text(), required=True),
    "kind": Field(Choice(KINDS, what="kind"), required=True),
    "aliases": Field(Names(description="other names load() accepts")),
    "matrix": Field(DictOf(MATRIX_ENTRY, key=DTYPE, min_items=1, empty="needs at least one dtype"),
                    required=True),
    "vector_tflops": Field(DictOf(Number(), key=DTYPE, min_items=1, empty="needs at least one dtype"),
                           required=True),
    "memory": Field(ListOf(Obj({"name": Field(Text(), required=True),
                                "capacity_gib": Field(Number(), required=True),
                                "bandwidth_gbps": Field(Number(), required=True)}),
                           message="expected a non-empty list of memory levels", rules=(_unique_levels,),
                           description="memory levels, the main memory first"), required=True),
    "sparse_support": Field(Obj({
        "operand": Field(Choice(("weight", "activation", "both"),
                                message="expected weight, activation or both, got {value}"), default="weight"),
        "transposed_dgrad": Field(Bool(), required=True),
        "metadata_encoding": Field(Choice(ENCODINGS, what="metadata encoding"), default="index"),
        "metadata_bandwidth_gbps": Field(Number()),
        "any_nm": Field(Bool(), default=False),
        "max_m": Field(Number(integer=True)),
        "small_m_efficiency": Field(Number(at_most=1.0), default=1.0),
    })),
    "padding": Field(Obj({"dense": Field(TILE), "sparse": Field(TILE),
                          "sparse_by_dtype": Field(DictOf(TILE, key=DTYPE))})),
    "efficiency": Field(Obj({"value": Field(Number(at_most=1)),
                             "curve": Field(Custom(_curve, CURVE_JSON, "[[gemm_flops, efficiency], ...]"))},
                            rules=(_one_efficiency,))),
    "energy": Field(Obj({
        "pj_per_flop": Field(DictOf(Obj({"dense": Field(Number(), required=True), "sparse": Field(Number())}),
                                    key=DTYPE)),
        "pj_per_byte": Field(DictOf(Number(), description="memory level -> pJ per byte")),
    })),
    "derivation": Field(Text()),
    "notes": Field(Text()),
    "execution": Field(EXECUTION),
}, top=True, rules=(_spec_rules,))
