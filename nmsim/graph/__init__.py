"""Tracing on the meta device, op kinds and roles, per-kind cost formulas, the transformer builder."""
from nmsim.graph.api import paper_view, parameter_counts, trace_workload
from nmsim.graph.builder import build_model, example_inputs
from nmsim.graph.config import ModelConfig
from nmsim.graph.opgraph import OpGraph
from nmsim.graph.tracer import trace
from nmsim.graph.workloads import from_hf_config, list_workloads, load_workload, resolve_workload

__all__ = ["trace", "trace_workload", "paper_view", "parameter_counts", "build_model", "example_inputs",
           "ModelConfig", "OpGraph", "load_workload", "list_workloads", "from_hf_config", "resolve_workload"]
