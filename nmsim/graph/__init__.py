"""Tracing on the meta device, op kinds and roles, per-kind cost formulas, the transformer builder.

Names are imported lazily so that ``nmsim.graph.roles`` (used by torch-free code) does not pull in torch.
"""
import importlib

_EXPORTS = {
    "trace": "nmsim.graph.tracer", "OpGraph": "nmsim.graph.opgraph", "ModelConfig": "nmsim.graph.config",
    "trace_workload": "nmsim.graph.api", "paper_view": "nmsim.graph.api", "parameter_counts": "nmsim.graph.api",
    "build_model": "nmsim.graph.builder", "example_inputs": "nmsim.graph.builder",
    "load_workload": "nmsim.graph.workloads", "list_workloads": "nmsim.graph.workloads",
    "from_hf_config": "nmsim.graph.workloads", "resolve_workload": "nmsim.graph.workloads",
    "ShapeGraph": "nmsim.graph.shapes", "shape_graph": "nmsim.graph.shapes",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'nmsim.graph' has no attribute {name!r}")
