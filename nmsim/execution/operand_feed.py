"""What a tensor-core GEMM loop reaches at its SM's rate: the shared-memory operand feed, the loop's issue time
and the clock (the ``gpu`` model's feed, issue and clock terms).

A tiled GEMM built on ``mma.sync`` (Volta to Ada; Hopper's ``wgmma`` reads its operands differently) moves every
operand byte through the SM's shared memory twice: global memory writes each k-slice of the block's tiles there
(``tile.m`` activation rows, ``tile.n`` weight columns), and each warp reads its own ``warp_tile`` fragments back
into registers. Per dense-equivalent FLOP of a block (2 x tile.m x tile.n per k) that is

    bytes_per_flop = (a / tile.n + w / tile.m) / 2  +  (a / warp.n + w / warp.m) / 2

with ``a`` the activation's bytes per element and ``w`` the weight's bytes per element of k (a 2:4 weight stores
half its values plus 2-bit indices: w = 0.5 x value bytes + 1 bit). At the dtype's peak an SM needs
``peak / (sms x boost clock)`` FLOPs per clock, so ``demand = that x bytes_per_flop`` bytes per clock against the
port's ``shared_bytes_per_clk`` (32 banks x 4 bytes on every NVIDIA SM since Volta). Where the demand exceeds the
port, the MMAs wait for operands and the kernel reaches ``port / demand`` of the peak.

Why a half-rate pipe reaches a larger share of its peak: the demand scales with the tensor rate per SM per clock,
the port does not. The A100's 2:4 sparse MMA (4,096 dense-equivalent FLOPs per clock per SM) asks 150 B/clk of
128-byte port with 128 x 128 tiles of 64 x 64 warps: 0.85 of its peak at best, while its dense MMA (2,048) asks
96 B/clk and is not limited. A GeForce Ada SM at FP32 accumulate runs 512 (dense) and 1,024 (2:4) FLOPs per clock,
a quarter of the A100's: 24 and 38 B/clk, far below the port, so both reach the kernel's full efficiency.

A GPU spec without ``boost_mhz`` or ``sm_limits.shared_bytes_per_clk``, or a kernel without ``warp_tile``, is not
feed-limited (factor 1).

Issue time (:func:`issue_factor`): what a fitted ``efficiency`` loses besides the feed (barriers, pipeline waits,
address math, fragment loads per k-step) is time the kernel's code spends per FLOP, which a slower tensor pipe does
not shorten; so the same code keeps more of a slower pipe's peak. Clock (:func:`run_clock_factor`): the listed
peaks hold at ``boost_mhz``, where a GEMM timed alone (tens of calls) runs; a model run holds the board at its power
limit for seconds to minutes, at ``sustained_mhz`` where the spec gives one (GeForce: the datasheet base clock).
"""
from __future__ import annotations

import numpy as np


def flops_per_clock(peak_tflops, sms: int, boost_mhz: float):
    """Dense-equivalent FLOPs one SM runs per clock at ``peak_tflops`` (listed at the boost clock)."""
    return np.asarray(peak_tflops, dtype=float) * 1e12 / (sms * boost_mhz * 1e6)


def bytes_per_flop(tile_m, tile_n, warp_m, warp_n, act_bytes, weight_bytes):
    """Shared-memory bytes (writes from global + warp reads) per dense-equivalent FLOP of a block."""
    wm, wn = np.minimum(warp_m, tile_m), np.minimum(warp_n, tile_n)
    return 0.5 * (act_bytes / tile_n + weight_bytes / tile_m) + 0.5 * (act_bytes / wn + weight_bytes / wm)


def feed_factor(k, gpu: dict, peak_tflops, act_bytes, weight_bytes):
    """Share of the peak kernel ``k`` reaches at its shared-memory operand feed on full tiles (1 where not
    modelled; a GEMV-like call on a short tile is memory-bound long before its feed binds). ``weight_bytes``: per
    element of k."""
    limits, boost = gpu.get("sm_limits"), gpu.get("boost_mhz")
    port = getattr(limits, "shared_bytes_per_clk", 0.0) if limits is not None else 0.0
    if not (k.warp_m and port and boost):
        return 1.0
    demand = (flops_per_clock(peak_tflops, gpu["sms"], boost)
              * bytes_per_flop(k.tile_m, k.tile_n, k.warp_m, k.warp_n, act_bytes, weight_bytes))
    return np.minimum(1.0, port / np.maximum(demand, 1e-30))


def issue_factor(k, gpu: dict, dense_tflops: float) -> float:
    """Share of ``k.efficiency`` kept (above 1: gained) at this GPU's dense MMA rate per SM, for a kernel whose
    efficiency was fitted at ``k.efficiency_rate`` FLOPs per SM per clock (1 where not modelled).

    The loss a fitted efficiency stands for (barriers, pipeline waits, address math and fragment loads of each
    k-step: ``1 / efficiency - 1`` of the math time) is issue time of the kernel's code per FLOP, which does not
    shrink when the tensor pipe is slower per clock. So at rate r:  1 / eff(r) = 1 + (1 / eff - 1) x r / rate.
    GeForce Ada runs FP16 with FP32 accumulate at 512 FLOPs per SM per clock, a quarter of the A100's 2,048: the
    A100's 0.814 becomes 0.946 there."""
    boost = gpu.get("boost_mhz")
    if not (k.efficiency_rate and boost):
        return 1.0
    # tensor pipes run a power of two FLOPs per SM per clock; the listed peaks are rounded (A100: 312 -> 2,048.9)
    ratio = 2.0 ** np.round(np.log2(flops_per_clock(dense_tflops, gpu["sms"], boost))) / k.efficiency_rate
    if ratio == 1.0:   # at the fitted rate: exactly the fitted efficiency
        return 1.0
    return float(1.0 / (1.0 + (1.0 / k.efficiency - 1.0) * ratio) / k.efficiency)


def run_clock_factor(gpu: dict, burst: bool) -> float:
    """Math rate of a model run against the listed peaks: ``sustained_mhz / boost_mhz`` (1 for a GEMM timed alone,
    ``burst``, or where the spec gives no sustained clock)."""
    boost, sustained = gpu.get("boost_mhz"), gpu.get("sustained_mhz")
    return 1.0 if burst or not (boost and sustained) else sustained / boost
