"""Clusters: system specs, parallel layouts (DP/ZeRO, TP/SP, PP, recompute), collectives, per-device memory,
layout search, token/time budgets and validation against published training runs.

Device costs come from nmsim's single-device pricing through one adapter, :mod:`nmsim.cluster.device`.
"""
import importlib

# imported on first use, so a system spec (or a typo in one) is read without pandas and the pricing code
_EXPORTS = {"Fabric": "system", "SystemSpec": "system", "list_systems": "system", "load_system": "system",
            "PlanResult": "plan", "make_recipes": "plan", "run_budget": "plan", "search": "plan", "steps_for": "plan"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"nmsim.cluster.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'nmsim.cluster' has no attribute {name!r}")
