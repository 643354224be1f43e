"""Clusters: system specs, parallel layouts (DP/ZeRO, TP/SP, PP, recompute), collectives, per-device memory,
layout search, token/time budgets and validation against published training runs.

Device costs come from nmsim's single-device pricing through one adapter, :mod:`nmsim.cluster.device`.
"""
from nmsim.cluster.system import Fabric, SystemSpec, list_systems, load_system  # noqa: F401
from nmsim.cluster.plan import PlanResult, make_recipes, run_budget, search, steps_for  # noqa: F401
