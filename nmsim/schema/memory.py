"""The memory measurements file of ``nmsim validate --memory`` (``nmsim/data/measurements/memory.yaml``):
``workloads`` (name -> workload fields, for models no bundled workload names) and ``runs`` (measured peak memory
of a training step). The loader (``nmsim.memory.validate``) checks every run against these tables;
:func:`json_schema` writes them as the published JSON Schema."""
from __future__ import annotations

from nmsim.schema import workload
from nmsim.schema.runs import RECOMPUTE_MODES
from nmsim.sparsity.metadata import DTYPE_BYTES

REQUIRED = ("id", "workload", "hardware", "batch", "seq", "dtype", "recompute", "measure", "split")
MEASURES = ("allocated", "reserved", "nvidia-smi")
SPLITS = ("fit", "score")
PEAK = ("mib", "gb")          # the measured peak in MiB or in GB of 10^9 bytes, as the source prints it
RUN_KEYS = (*REQUIRED, *PEAK, "precision", "flash", "dropout", "source")


def json_schema() -> dict:
    name = {"type": "string", "minLength": 1}
    positive = {"type": "number", "exclusiveMinimum": 0}
    run = {"type": "object", "additionalProperties": False, "required": list(REQUIRED),
           "anyOf": [{"required": [key]} for key in PEAK],
           "properties": {"id": name, "workload": name, "hardware": name, "source": name,
                          "batch": {"type": "integer", "minimum": 1}, "seq": {"type": "integer", "minimum": 1},
                          "dtype": {"enum": list(DTYPE_BYTES)}, "recompute": {"enum": list(RECOMPUTE_MODES)},
                          "measure": {"enum": list(MEASURES)}, "split": {"enum": list(SPLITS)},
                          "precision": {**name, "description": "a precision scheme (nmsim price --precision)"},
                          "flash": {"type": "boolean"}, "dropout": {"type": "boolean"}, "mib": positive,
                          "gb": positive}}
    return {"type": "object", "additionalProperties": False, "required": ["runs"], "properties": {
        "workloads": {"type": "object", "additionalProperties": workload.json_schema()},
        "runs": {"type": "array", "minItems": 1, "items": run}}}
