"""The memory measurements file of ``nmsim validate --memory`` (``nmsim/data/measurements/memory.yaml``):
``workloads`` (name -> workload fields, for models no bundled workload names) and ``runs`` (measured peak memory
of a training step). The loader (``nmsim.memory.validate``) checks the file with :data:`FILE` (the shared schema
checks; each workload's fields as a workload file's); :func:`json_schema` writes the tables as the published JSON
Schema."""
from __future__ import annotations

from nmsim.io.spec_nodes import Bool, Choice, Custom, DictOf, Field, ListOf, Obj, Plain, Text
from nmsim.schema import workload
from nmsim.schema.runs import RECOMPUTE_MODES, any_mapping
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


def _one_peak(r, run, path):
    if not any(key in run for key in PEAK):
        raise r.fail("give the measured peak as a positive mib: or gb:", *path)


RUN = Obj({"id": Field(Text(), required=True), "workload": Field(Text(), required=True),
           "hardware": Field(Text(), required=True), "batch": Field(Plain(integer=True), required=True),
           "seq": Field(Plain(integer=True), required=True),
           "dtype": Field(Choice(tuple(DTYPE_BYTES), what="dtype"), required=True),
           "recompute": Field(Choice(RECOMPUTE_MODES, what="recompute mode"), required=True),
           "measure": Field(Choice(MEASURES, what="measure"), required=True),
           "split": Field(Choice(SPLITS, what="split"), required=True),
           "precision": Field(Text()), "flash": Field(Bool()), "dropout": Field(Bool()), "source": Field(Text()),
           "mib": Field(Plain()), "gb": Field(Plain())}, sourced=False, rules=(_one_peak,))
#: the file; each workload's fields are checked as a workload file's when its config is built
FILE = Obj({"workloads": Field(DictOf(Custom(any_mapping, {"type": "object"}), sourced=False), default={}),
            "runs": Field(ListOf(RUN, message="give a list of measured runs"), required=True)}, sourced=False)
