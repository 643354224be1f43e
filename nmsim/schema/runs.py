"""The published runs file (``nmsim/data/published_runs/training_throughput.yaml``, or a user's own with ``nmsim
cluster validate --runs``): optional ``defaults`` and a list of ``runs``, each run's fields declared here. The
loader (``nmsim.cluster.validation``) checks the file with :data:`RUNS_FILE` and every run (defaults merged in)
with :data:`RUN`, then what needs the rest of nmsim (the model's workload fields, the system, the layout);
:func:`json_schema` writes the same tables as the published JSON Schema."""
from __future__ import annotations

from nmsim.io.spec_nodes import Bool, Choice, Custom, Field, ListOf, Obj, Plain, Text
from nmsim.schema.limits import MAX_DEVICES, MAX_GLOBAL_BATCH

RECOMPUTE_MODES = ("none", "selective", "full")
CONVENTIONS = ("megatron-hfu", "megatron-mfu", "graph-mfu")
SPLITS = ("fit", "score")
ZERO_STAGES = (0, 1, 2, 3)
REQUIRED = ("id", "model", "devices", "source", "global_batch")
TEXT = ("id", "source", "system", "dtype", "assumed", "org")     # non-empty strings
BOOLEANS = ("sp", "flash", "dropout")
MAX_TFLOPS = 10**5   # per device (a sanity limit: 50 x the 1,979 dense FP8 TFLOP/s of an H100 SXM)
#: integer fields -> largest value (from 1)
INTEGERS = {"devices": MAX_DEVICES, "global_batch": MAX_GLOBAL_BATCH, "seq": MAX_GLOBAL_BATCH, "tp": MAX_DEVICES,
            "pp": MAX_DEVICES, "mb": MAX_GLOBAL_BATCH, "v": 64, "vocab": 2**24}
#: the measured figures, one per run: field -> (largest value, unit)
MEASURES = {"measured_tflops": (MAX_TFLOPS, "TFLOP/s per device"),
            "tokens_per_device_second": (10**9, "tokens/s per device"), "device_hours": (10**12, "device-hours")}
TOKENS = (10**15, "tokens")      # device_hours are for this many tokens
RUN_KEYS = {*REQUIRED, *MEASURES, *TEXT, *BOOLEANS, *INTEGERS, "convention", "tokens", "split", "recompute", "zero"}
BUILT_IN = {"seq": 2048, "vocab": 51200, "system": "dgx-a100", "dtype": "bf16", "flash": False, "dropout": True}


def _field(key: str) -> dict:
    if key in TEXT:
        return {"type": "string", "minLength": 1}
    if key in BOOLEANS:
        return {"type": "boolean"}
    if key in INTEGERS:
        return {"type": "integer", "minimum": 1, "maximum": INTEGERS[key]}
    if key in MEASURES or key == "tokens":
        most, unit = MEASURES.get(key, TOKENS)
        return {"type": "number", "exclusiveMinimum": 0, "maximum": most, "description": unit}
    choices = {"convention": CONVENTIONS, "split": SPLITS, "recompute": RECOMPUTE_MODES, "zero": ZERO_STAGES}
    if key in choices:
        return {"enum": list(choices[key])}
    return {"type": "object", "required": ["d_model"], "description": "workload fields (nmsim/data/workloads)"}


def json_schema() -> dict:
    fields = {key: _field(key) for key in sorted(RUN_KEYS)}
    run = {"type": "object", "properties": fields, "additionalProperties": False, "required": list(REQUIRED),
           "oneOf": [{"required": [key]} for key in MEASURES],
           "allOf": [{"if": {"required": ["measured_tflops"]}, "then": {"required": ["convention"]}},
                     {"if": {"required": ["device_hours"]}, "then": {"required": ["tokens"]}}]}
    return {"type": "object", "required": ["runs"], "additionalProperties": False, "properties": {
        "defaults": {"type": "object", "properties": fields, "additionalProperties": False,
                     "description": "fields every run takes unless it gives its own"},
        "runs": {"type": "array", "minItems": 1, "items": run}}}


def any_mapping(r, value, path, src):
    """A mapping, its keys checked where it is used (a run: :data:`RUN` once defaults are merged in)."""
    return r.mapping(value, path, None, None, sourced=False)[0]


def _model(r, value, path, src):
    """The workload fields (checked field by field when the model is built: ``nmsim.cluster.validation``)."""
    value = any_mapping(r, value, path, src)
    if "d_model" not in value:
        raise r.fail("missing required field 'd_model'", *path)
    return value


MEASURE_HINT = ("give one of measured_tflops (with convention), tokens_per_device_second, device_hours "
                "(with tokens)")


def _one_measure(r, run, path):
    """Exactly one measured figure, with what it needs (a FLOP convention; a token count)."""
    given = [k for k in MEASURES if k in run]
    if len(given) != 1:
        raise r.fail(("missing a measured figure" if not given else f"{' and '.join(given)} given") +
                     f": {MEASURE_HINT}", *path)
    if given == ["measured_tflops"] and "convention" not in run:
        raise r.fail("missing required field 'convention' (measured_tflops is in a FLOP convention)", *path)
    if given == ["device_hours"] and "tokens" not in run:
        raise r.fail("missing required field 'tokens' (device_hours are for a token count)", *path)


def _node(key: str):
    if key in TEXT:
        return Text()
    if key in BOOLEANS:
        return Bool()
    if key in INTEGERS:
        return Plain(integer=True, at_most=INTEGERS[key])
    if key in MEASURES or key == "tokens":
        most, unit = MEASURES.get(key, TOKENS)
        return Plain(at_most=most, description=unit)
    choices = {"convention": (CONVENTIONS, "convention"), "split": (SPLITS, "split"),
               "recompute": (RECOMPUTE_MODES, "recompute mode"), "zero": (ZERO_STAGES, "ZeRO stage")}
    if key in choices:
        return Choice(*choices[key])
    return Custom(_model, {"type": "object", "required": ["d_model"]})


#: one run, defaults merged in
RUN = Obj({key: Field(_node(key), required=key in REQUIRED) for key in sorted(RUN_KEYS)}, sourced=False,
          rules=(_one_measure,))
#: the file: ``defaults`` (any run fields) and the runs (each checked by :data:`RUN` with the defaults merged in)
RUNS_FILE = Obj({"defaults": Field(Obj({key: Field(_node(key)) for key in sorted(RUN_KEYS)}, sourced=False)),
                 "runs": Field(ListOf(Custom(any_mapping, {"type": "object"}), message="expected a non-empty list of "
                                      "runs"), required=True)}, sourced=False)
