"""Sanity limits on the counts a cluster question takes, each with its reason (far above any published run and
far below what makes a search slow), and the other cheap checks of its inputs. No numpy or pandas here: the CLI
runs these before importing them, so a bad count fails at once."""
from __future__ import annotations

import math

from nmsim.errors import UserError
from nmsim.schema.limits import DEVICES_WHY, MAX_DEVICES, MAX_GLOBAL_BATCH

__all__ = ["DEVICES_WHY", "MAX_DEVICES", "MAX_GLOBAL_BATCH", "MAX_STEPS", "MAX_TOKENS", "too_many_devices"]
# Training tokens of one run: 64 x the 15.6 T tokens Llama 3 was trained on (Dubey et al. 2024, section 3).
MAX_TOKENS = 1e15
# Optimizer steps of one run; the iso-time / iso-FLOP searches (nmsim.cost.budget) double up to 2^48.
MAX_STEPS = 2**40



def too_many_devices(nodes: int, devices_per_node: int) -> str | None:
    """Why ``nodes`` x ``devices_per_node`` is refused, or None."""
    n = nodes * devices_per_node
    if n <= MAX_DEVICES:
        return None
    if nodes == 1 or devices_per_node == 1:
        return f"must be at most {MAX_DEVICES:,} ({DEVICES_WHY}), got {n:,}"
    return f"{nodes:,} nodes x {devices_per_node:,} devices = {n:,} devices; at most {MAX_DEVICES:,} ({DEVICES_WHY})"


def check_global_batch(value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"must be a positive integer, got {value!r}", "--global-batch")
    if value > MAX_GLOBAL_BATCH:
        raise UserError(f"must be at most {MAX_GLOBAL_BATCH:,} sequences (a sanity limit), got {value:,}",
                        "--global-batch")


def steps_for(tokens: float, global_batch: int, seq: int, flag: str = "--tokens") -> int:
    """Optimizer steps that cover ``tokens`` at ``global_batch`` sequences of ``seq`` tokens (``flag`` names the
    option the tokens came from in errors)."""
    if isinstance(tokens, bool) or not (isinstance(tokens, (int, float)) and math.isfinite(tokens) and tokens > 0):
        raise UserError(f"must be a positive number, got {tokens!r}", flag)
    if tokens > MAX_TOKENS:
        raise UserError(f"must be at most {MAX_TOKENS:.0e} tokens (a sanity limit: 64 x the 15.6 T tokens Llama 3 "
                        f"was trained on), got {tokens:.3g}", flag)
    steps = max(1, math.ceil(tokens / (global_batch * seq)))
    if steps > MAX_STEPS:
        raise UserError(f"{tokens:.3g} tokens at {global_batch * seq:,} tokens per step is {steps:.3g} steps; at "
                        f"most 2^40 = {MAX_STEPS:.3g} (raise --global-batch)", flag)
    return steps


def check_factors(grad_bytes, compute_efficiency) -> None:
    """``--grad-bytes`` in (0, 8] and ``--compute-efficiency`` in (0, 2]."""
    if not (isinstance(grad_bytes, (int, float)) and 0 < grad_bytes <= 8):
        raise UserError(f"must be in (0, 8] bytes per gradient element (fp64 is 8), got {grad_bytes!r}",
                        "--grad-bytes")
    if not (isinstance(compute_efficiency, (int, float)) and 0 < compute_efficiency <= 2):
        raise UserError(f"must be in (0, 2], got {compute_efficiency!r}", "--compute-efficiency")


def check_sequence_model(cfg) -> None:
    """Cluster plans take token sequences (decoder-only or encoder-only models)."""
    if cfg.is_image:
        raise UserError(f"{cfg.name} is an image model; cluster plans take token sequences", "workload")
