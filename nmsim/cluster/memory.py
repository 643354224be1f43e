"""Per-device training memory of a parallel layout: weights, gradients, optimizer, masks, activations, buffers.

Mixed-precision AdamW as in the ZeRO paper (Rajbhandari et al., SC'20): the forward copy of the weights in
``dtype`` (2 B/param for bf16), gradients in ``grad_dtype`` (bf16 by default; fp32 doubles them), and 12 B/param
of optimizer state (fp32 master weights, Adam m and v). ZeRO-1 shards the optimizer state over the data-parallel
group, ZeRO-2 also the gradients, ZeRO-3/FSDP also the weights; tensor parallelism splits every sharded GEMM
weight by ``tp``, pipeline parallelism gives each stage its layers (the embedding to the first, the head to
the last).

N:M (per recipe phase, :meth:`nmsim.cluster.device.DeviceModel.weight_bytes`): the forward weight copy is
compressed (values + metadata) while the phase's GEMMs can use the pattern in force; master weights, Adam
state and gradients stay dense (every recipe here updates dense weights with a dense wgrad); masks cost 1 byte
per masked weight (a torch bool tensor) while a mask is in force.

Activations per layer and micro-batch follow Korthikanti et al. 2022 ("Reducing Activation Recomputation in
Large Transformer Models"), generalised to GQA and SwiGLU; for GPT (kv heads = heads, ffn = 4h, GeLU, dropout)
they reduce to the paper's ``s b h (34 + 5 a s / h)`` without parallelism, ``s b h (10 + 24/t + 5 a s/(h t))``
with TP, ``s b h/t (34 + 5 a s / h)`` with TP + SP, ``34 s b h / t`` (SP) with selective recompute and
``2 s b h`` with full recompute (we add one layer's activations being recomputed in backward). Bytes per token:

* replicated across TP ranks unless sequence parallel: both norm inputs (2h each), the QKV input (2h), the MLP
  input (2h) and, with dropout, two 1-byte masks (h each);
* split by TP: Q and K (2h + 2h_kv), V (2h_kv), the output-projection input (2h), the attention core
  (softmax output 2as, plus a dropout mask as and its output 2as with dropout; FlashAttention keeps only a
  4a-byte log-sum-exp), the MLP (GeLU: 2f + 2f; SwiGLU: gate output, up output and their product, 6f).

1F1B keeps ``min(pp, micro-batches)`` micro-batches in flight on the first stage (times
``1 + (pp-1)/(pp v)`` with ``v`` interleaved chunks); the last stage also keeps the fp32 logits (4 V/t bytes per
token). Buffers: ZeRO-3 prefetches two layers' gathered weights.
"""
from __future__ import annotations

import numpy as np

COMPONENTS = ("weights", "gradients", "optimizer", "masks", "activations", "buffers")


def activation_bytes_per_token(cfg, seq: int, tp, sp, recompute, *, flash: bool, dropout: bool):
    """Bytes one layer keeps per token of a micro-batch (arrays broadcast over layouts); recompute 0/1/2 =
    none/selective/full."""
    h, a = float(cfg.d_model), float(cfg.heads)
    hq = a * cfg.dim_head
    hkv = float(cfg.n_kv_heads * cfg.dim_head)
    f = float(cfg.ffn)
    tp, sp, recompute = np.asarray(tp, float), np.asarray(sp, bool), np.asarray(recompute)
    rep = 2 * h + 2 * h + 2 * h + 2 * h + (2 * h if dropout else 0.0)
    core = 4 * a if flash else (2 * a * seq + (3 * a * seq if dropout else 0.0))
    mlp = 6 * f if cfg.ffn_kind in ("swiglu", "geglu") else 4 * f
    split = (2 * hq + 2 * hkv) + 2 * hkv + 2 * hq + mlp
    rep_div = np.where(sp, tp, 1.0)
    none = rep / rep_div + (split + core) / tp
    selective = rep / rep_div + split / tp + (core / tp if flash else 0.0)
    full = 2 * h / rep_div
    return np.select([recompute == 0, recompute == 1], [none, selective], full), none


def layout_memory(L, dm, cfg, seq, state_bytes, *, grad_bytes=2.0, flash=False, dropout=False, masked=0.0):
    """Per-device bytes per component for layouts ``L`` (dict of arrays), worst of first and last stage.

    ``state_bytes`` = (per-layer forward weight bytes, pre bytes, post bytes) for the phase (unsharded).
    Returns a dict component -> array and ``total``.
    """
    tp, pp, dp, z, mb = (np.asarray(L[k], float) for k in ("tp", "pp", "dp", "zero", "mb"))
    rec, sp, v, m = np.asarray(L["recompute"]), np.asarray(L["sp"], bool), np.asarray(L["v"], float), L["m"]
    layer_w, pre_w, post_w = state_bytes
    ls = np.ceil(dm.layers / pp)
    lw = float(np.max(layer_w))
    per_tok, full_layer = activation_bytes_per_token(cfg, seq, tp, sp, rec, flash=flash, dropout=dropout)
    tokens = mb * seq
    act_layer = per_tok * tokens
    inflight = np.minimum(pp, m) * np.where(v > 1, 1 + (pp - 1) / (pp * v), 1.0)
    recompute_live = np.where(rec == 2, full_layer * tokens, 0.0)
    logits = 4.0 * float(cfg.vocab) / tp * tokens if cfg.vocab else 0.0
    out = {}
    for first, last in ((True, pp == 1), (False, True)):
        last = np.asarray(last, bool)
        params = (ls * dm.layer_params + (dm.pre_params if first else 0.0) + np.where(last, dm.post_params, 0.0)) / tp
        wbytes = (ls * lw + (pre_w if first else 0.0) + np.where(last, post_w, 0.0)) / tp
        comp = {
            "weights": wbytes / np.where(z >= 3, dp, 1.0),
            "gradients": grad_bytes * params / np.where(z >= 2, dp, 1.0),
            "optimizer": 12.0 * params / np.where(z >= 1, dp, 1.0),
            "masks": masked / dm.layers * ls / tp / np.where(z >= 3, dp, 1.0),
            "activations": ls * act_layer * (inflight if first else 1.0) + recompute_live
            + np.where(last, logits, 0.0),
            "buffers": np.where(z >= 3, 2.0 * lw / tp, 0.0),
        }
        total = sum(comp.values())
        if not out:
            out = {**comp, "total": total}
        else:
            worse = total > out["total"]
            out = {k: np.where(worse, comp.get(k, total), out[k]) for k in (*COMPONENTS, "total")}
            out["total"] = np.where(worse, total, out["total"])
    return out
