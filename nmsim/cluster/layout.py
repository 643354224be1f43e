"""Parallel layouts: enumerate every valid (TP, PP, DP, ZeRO, micro-batch, recompute, SP, interleave) for a
model on a system, and price step time and per-device memory for all of them at once (numpy).

Placement follows Megatron-LM's rank order: TP innermost (TP groups are consecutive devices, so inside a node
when ``tp <= devices per node``), then DP (stride ``tp``), then PP (stride ``tp * dp``).

Step time of one optimizer step (``m = ceil(ceil(global_batch / dp) / mb)`` micro-batches):

* per micro-batch and stage: the stage's layers' fwd and bwd (dgrad + wgrad) device seconds from
  :mod:`nmsim.cluster.device`, the embedding on the first stage and the head/loss on the last; recompute adds
  each layer's forward again (full) or its attention core (selective) to backward;
* tensor parallelism: 2 all-reduces of the ``mb x seq x d_model`` activation per layer in forward and 2 in
  backward (with sequence parallelism an all-gather + reduce-scatter pair each, the same bytes), 2 more with
  full recompute; not overlapped (Megatron's default);
* pipeline (1F1B): ``(m - 1) * slowest stage + sum of stages``; interleaved with ``v`` chunks per device
  ``(m + (pp - 1) / v) * slowest stage``; each micro-batch sends and receives one activation per stage and
  chunk (divided by TP with SP), on the critical path;
* data parallelism: ZeRO-0 all-reduces gradients, ZeRO-1/2 reduce-scatter them and all-gather the updated
  forward weights after the step; both overlap the gradient reduction with the last micro-batch's backward
  (bucketed, as DDP/Megatron do; the last bucket stays exposed, taken as 1/layers of it). ZeRO-3/FSDP
  all-gathers the weights in forward and again in backward and reduce-scatters gradients every micro-batch,
  prefetched under that micro-batch's compute (the first layer's gather stays exposed). ZeRO-3 is not
  combined with PP (DeepSpeed does not); ZeRO-1/2/3 need ``dp > 1``;
* the optimizer step on the device's (sharded) parameters and the recipe's per-weight vector work.

N:M bytes per recipe phase: forward-weight all-gathers (ZeRO-1/2 post-step, ZeRO-3 per micro-batch) move the
phase's compressed weights (see :meth:`DeviceModel.weight_bytes`); gradient reductions are always dense.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nmsim.cluster import collectives as C
from nmsim.cluster.layout_space import (MAX_MICRO_BATCH, RECOMPUTE, TIME_PARTS,  # noqa: F401 (read here)
                                        layout_rows)
from nmsim.cluster.losses import NONE, Losses, stream_share
from nmsim.memory.layout import COMPONENTS, activation_size, layout_memory, runtime_bytes
from nmsim.memory.precision import precision_for



def enumerate_layouts(cfg, devices: int, devices_per_node: int, global_batch: int, *, tp=None, pp=None,
                      zero=None, mb=None, recompute=None, sp=None, interleave=None,
                      max_micro_batch: int = MAX_MICRO_BATCH) -> dict:
    """Every valid layout as a dict of equal-length numpy arrays (``tp pp dp zero mb m recompute sp v``).

    Fixed values (any of the keyword arguments) restrict the search. Valid: ``tp`` divides heads, kv heads
    (or is a multiple of them) and the FFN width and stays inside a node (a fixed ``tp`` may fill whole
    nodes); ``pp`` divides the layers (times ``v``); ``tp * pp * dp = devices``; ``dp`` is at most the global
    batch, and when it does not divide it each replica runs the largest share (``ceil(batch / dp)``
    sequences, gradient accumulation with a rounded-up micro-batch count: the slowest replica sets the
    step); ``mb`` divides that share (a fixed ``mb`` need not); interleaving needs ``pp > 1`` and a
    micro-batch count divisible by ``pp``; SP needs ``tp > 1``. Loops run over divisors (found up to the
    square root), never over the device count.
    """
    rows = layout_rows(cfg, devices, devices_per_node, global_batch, tp=tp, pp=pp, zero=zero, mb=mb,
                       recompute=recompute, sp=sp, interleave=interleave, max_micro_batch=max_micro_batch)
    arr = np.array(rows, dtype=np.int64)
    keys = ("tp", "pp", "dp", "zero", "mb", "m", "recompute", "sp", "v")
    out = {k: arr[:, i] for i, k in enumerate(keys)}
    out["sp"] = out["sp"].astype(bool)
    return out


@dataclass
class RunSpec:
    """What is being priced: model on a system, batch, sequence, dtype and framework options."""
    cfg: object
    seq: int
    global_batch: int
    system: object
    dtype: str = "bf16"
    grad_bytes: float = 2.0
    flash: bool = False
    dropout: bool = False
    collective: str = "auto"
    compute_efficiency: float = 1.0  # device compute seconds are divided by this (a calibration knob; 1 = as priced)
    losses: Losses = NONE            # what real runs lose (nmsim.cluster.losses); NONE: the ideal model


def price_layouts(L: dict, dm, run: RunSpec, state=None) -> dict:
    """Step seconds (with its parts) and per-device memory for every layout in ``L`` under recipe ``state``."""
    import pandas as pd
    cfg, seq, lo = run.cfg, run.seq, run.losses
    sysm = C.with_message_sizes(run.system, lo.collective_half_bytes_intra, lo.collective_half_bytes_inter)
    # extra seconds per priced second; vector and optimizer efficiencies are shares of the datasheet bandwidth, and
    # the device pricing already runs those kernels at its measured STREAM-like share (vector_bandwidth_efficiency)
    stream = stream_share(dm.hw)
    ka, kv = 1 / lo.attention_efficiency - 1, max(stream / lo.vector_efficiency - 1, 0.0)
    n = len(L["tp"])
    tp, pp, dp, z, mb, m = (L[k].astype(float) for k in ("tp", "pp", "dp", "zero", "mb", "m"))
    rec, sp, v = L["recompute"], L["sp"], L["v"].astype(float)
    layers = dm.layers
    stage_max = np.zeros(n)
    stage_sum = np.zeros(n)
    fwd_stage = np.zeros(n)
    bwd_stage = np.zeros(n)
    compute_mb = np.zeros(n)
    shards = pd.DataFrame({"tp": L["tp"], "mb": L["mb"], "sp": sp}).drop_duplicates()
    dm.prefetch(list(shards.itertuples(index=False, name=None)), state)
    groups = pd.DataFrame({"tp": L["tp"], "mb": L["mb"], "sp": sp, "pp": L["pp"], "rec": rec}).groupby(
        ["tp", "mb", "sp", "pp", "rec"], sort=False).indices
    for (t, b, s, p, r), idx in groups.items():
        st = dm.times(int(t), int(b), bool(s), state)
        fwd_l = st.fwd + ka * st.core_fwd + kv * st.vector_fwd   # kernel efficiencies (attention core, vector ops)
        bwd_l = st.dgrad + st.wgrad + ka * st.core_bwd + kv * st.vector_bwd
        extra = fwd_l if r == 2 else ((1 + ka) * st.core_fwd if r == 1 else 0.0)
        f = np.array([c.sum() for c in np.array_split(fwd_l, int(p))])
        bw = np.array([c.sum() for c in np.array_split(bwd_l + extra, int(p))])
        f[0] += st.pre_fwd
        bw[0] += st.pre_bwd
        f[-1] += st.post_fwd
        bw[-1] += st.post_bwd
        f, bw = f / run.compute_efficiency, bw / run.compute_efficiency
        tot = f + bw
        k = int(np.argmax(tot))
        stage_max[idx], stage_sum[idx] = tot[k], tot.sum()
        fwd_stage[idx], bwd_stage[idx] = f[k], bw[k]
        compute_mb[idx] = tot.sum() / p
    act_bytes = mb * seq * cfg.d_model * _dtype_bytes(run.dtype)
    ls = np.ceil(layers / pp)
    ar = C.all_reduce(act_bytes, tp, 1, sysm, run.collective)
    tp_layer = (4 + 2 * (rec == 2)) * ar
    tp_stage = ls * tp_layer + np.where(pp == 1, 1.0, 0.0) * ar  # embedding all-reduce (vocab-parallel)
    p2p = np.where(pp > 1, 2 * v * C.p2p(act_bytes / np.where(sp, tp, 1.0), tp * dp, sysm), 0.0)
    per_mb = stage_max + tp_stage + p2p
    pipeline = np.where(v > 1, (m + (pp - 1) / v) * per_mb, (m - 1) * per_mb + stage_sum + pp * (tp_stage + p2p))
    compute = m * compute_mb
    tp_comm = m * tp_stage
    pp_comm = m * p2p
    bubble = pipeline - compute - tp_comm - pp_comm
    # data parallel
    layer_w, pre_w, post_w = dm.weight_bytes(state)
    params_dev = (ls * dm.layer_params + np.maximum(np.where(pp == 1, dm.pre_params + dm.post_params, 0.0),
                                                   np.maximum(dm.pre_params, dm.post_params))) / tp
    w_dev = (ls * float(np.max(layer_w)) + np.where(pp == 1, pre_w + post_w, np.maximum(pre_w, post_w))) / tp
    g_dev = run.grad_bytes * params_dev
    bwd_window = bwd_stage + ls * (2 + 2 * (rec == 2)) * ar
    grad_comm = np.where(z == 0, C.all_reduce(g_dev, dp, tp, sysm, run.collective),
                         C.reduce_scatter(g_dev, dp, tp, sysm, run.collective))
    exposed_grad = np.maximum(grad_comm - lo.dp_overlap * bwd_window, grad_comm / ls)
    post_gather = np.where((z == 1) | (z == 2), C.all_gather(w_dev, dp, tp, sysm, run.collective), 0.0)
    z3_mb = 2 * C.all_gather(w_dev, dp, tp, sysm, run.collective) + C.reduce_scatter(g_dev, dp, tp, sysm,
                                                                                    run.collective)
    z3_exposed = m * np.maximum(z3_mb - lo.zero3_overlap * (fwd_stage + bwd_stage), z3_mb / (3 * layers))
    dp_exposed = np.where(dp > 1, np.where(z == 3, z3_exposed, exposed_grad + post_gather), 0.0)
    shard = np.where(z >= 1, dp, 1.0)
    opt = np.array([dm.optimizer_seconds(1.0)]) * params_dev / shard * max(stream / lo.optimizer_efficiency, 1.0)
    frac = 1.0 / (tp * pp) / np.where(z == 3, dp, 1.0)
    recipe_vec = dm.recipe_vector_seconds(state, 1.0) * frac
    busy = pipeline + dp_exposed + opt + recipe_vec
    data_loading = busy * lo.data_loading_fraction / (1 - lo.data_loading_fraction)
    ckpt = 0.0   # every device writes its share of weights + optimizer state once per interval, nodes in parallel
    if lo.checkpoint_interval_steps > 0:
        ckpt = dm.params * lo.checkpoint_bytes_per_param / (sysm.nodes * lo.checkpoint_write_gbps_per_node * 1e9)
        ckpt /= lo.checkpoint_interval_steps
    checkpoint = np.full(n, ckpt)
    step = busy + data_loading + checkpoint
    mem = layout_memory(L, dm, cfg, seq, (layer_w, pre_w, post_w), precision_for(None, run.dtype, run.grad_bytes),
                        size=activation_size(run.dtype), fwd_size=_dtype_bytes(run.dtype), flash=run.flash,
                        dropout=run.dropout, masked=dm.masked_weights(state) if state is not None else 0.0,
                        runtime=runtime_bytes(dm.hw))
    cap = dm.hw.main_memory.capacity_gib * 2 ** 30
    st_all = dm.times(1, 1, False, state)
    tokens = float(run.global_batch) * seq
    return {"step_seconds": step, "compute": compute, "bubble": bubble, "tp_comm": tp_comm, "pp_comm": pp_comm,
            "dp_exposed": dp_exposed, "optimizer": opt, "recipe_vector": np.broadcast_to(recipe_vec, (n,)) * 1.0,
            "data_loading": data_loading, "checkpoint": checkpoint,
            **{f"mem_{k}": mem[k] for k in (*COMPONENTS, "total")},
            "headroom_bytes": cap - mem["total"], "fits": mem["total"] <= cap,
            "nominal_flops_step": st_all.nominal_flops * run.global_batch,
            "executed_flops_step": st_all.executed_flops * run.global_batch,
            "joules_device_step": st_all.joules * run.global_batch, "tokens_step": tokens}


def _dtype_bytes(dtype: str) -> float:
    from nmsim.sparsity.metadata import dtype_bytes
    return dtype_bytes(dtype)
