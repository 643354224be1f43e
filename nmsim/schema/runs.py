"""The published runs file (``nmsim/data/published_runs/training_throughput.yaml``, or a user's own with ``nmsim
cluster validate --runs``): optional ``defaults`` and a list of ``runs``, each run's fields declared here. The
loader (``nmsim.cluster.validation``) checks every run (defaults merged in) against these tables, then what needs
the rest of nmsim (the model's workload fields, the system, the layout); :func:`json_schema` writes the same
tables as the published JSON Schema."""
from __future__ import annotations

from nmsim.schema.limits import MAX_DEVICES, MAX_GLOBAL_BATCH

RECOMPUTE_MODES = ("none", "selective", "full")
CONVENTIONS = ("megatron-hfu", "megatron-mfu", "graph-mfu")
SPLITS = ("fit", "score")
ZERO_STAGES = (0, 1, 2, 3)
REQUIRED = ("id", "model", "devices", "source", "global_batch")
TEXT = ("id", "source", "system", "dtype", "assumed", "org")     # non-empty strings
BOOLEANS = ("sp", "flash", "dropout")
MAX_TFLOPS = 1e5   # per device (a sanity limit: 50 x the 1,979 dense FP8 TFLOP/s of an H100 SXM)
#: integer fields -> largest value (from 1)
INTEGERS = {"devices": MAX_DEVICES, "global_batch": MAX_GLOBAL_BATCH, "seq": MAX_GLOBAL_BATCH, "tp": MAX_DEVICES,
            "pp": MAX_DEVICES, "mb": MAX_GLOBAL_BATCH, "v": 64, "vocab": 2**24}
#: the measured figures, one per run: field -> (largest value, unit)
MEASURES = {"measured_tflops": (MAX_TFLOPS, "TFLOP/s per device"),
            "tokens_per_device_second": (1e9, "tokens/s per device"), "device_hours": (1e12, "device-hours")}
TOKENS = (1e15, "tokens")      # device_hours are for this many tokens
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
