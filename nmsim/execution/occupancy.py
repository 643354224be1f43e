"""Resident warps per SM and the latency hiding they buy (the ``gpu`` model's occupancy term).

A kernel that stages ``stage_k`` steps of its reduction in shared memory per block holds
``(tile.m + tile.n) x kept stage_k x bytes`` there (kept = ``stage_k`` x the pattern's density on a
compressed-weight kernel, which stages only kept weights and the activation rows they gather). The SM then runs

    blocks = min(max blocks, shared memory // (per-block bytes + reserved), max warps // warps per block)

blocks at once. Below ``latency_warps`` resident warps the scheduler cannot hide the FMA and load latencies, so the
kernel's math runs at ``warps / latency_warps`` of its rate. The SM limits are the GPU's (CUDA C++ Programming Guide,
'Technical Specifications per Compute Capability'); a GPU spec without ``sm_limits`` or a kernel without
``occupancy`` is not occupancy-limited. Fields and their checks: ``nmsim.schema.execution`` (KERNEL, GPU).
"""
from __future__ import annotations

import numpy as np

from nmsim.hardware.spec import SmLimits


def stage_depth(stages: tuple, density) -> np.ndarray:
    """The staged reduction depth at each row's density."""
    density = np.asarray(density, dtype=float)
    out = np.full(density.shape, float(next(k for d, k in stages if d is None)))
    for d, k in stages:
        if d is not None:
            out = np.where(np.isclose(density, d), float(k), out)
    return out


def resident_warps(limits: SmLimits, threads: int, block_bytes) -> np.ndarray:
    """Warps one SM holds when each block has ``threads`` threads and ``block_bytes`` of shared memory."""
    per_block = -(-threads // 32)
    by_smem = np.floor(limits.shared_bytes / (np.asarray(block_bytes, dtype=float) + limits.reserved_bytes))
    blocks = np.minimum(np.minimum(by_smem, limits.blocks), limits.warps // per_block)
    return blocks * per_block


def latency_factor(k, limits: SmLimits | None, density, value_bytes: float):
    """Share of its rate kernel ``k``'s math reaches at each row's occupancy (1 where not modelled)."""
    if limits is None or not k.threads or not k.latency_warps:
        return 1.0
    kept = stage_depth(k.stage_k, density) * (np.asarray(density, dtype=float)
                                              if k.kind == "compressed-weight" else 1.0)
    warps = resident_warps(limits, k.threads, (k.tile_m + k.tile_n) * kept * value_bytes)
    return np.clip(warps / k.latency_warps, 1e-3, 1.0)
