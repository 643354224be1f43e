"""Activation memory: what each op of a transformer layer keeps for backward, and the live peak of a forward.

Training (kept for backward), per layer and token, after Korthikanti et al. 2022, "Reducing Activation
Recomputation in Large Transformer Models" (arXiv 2205.05198), Sec. 4, generalised to GQA, gated MLPs and an
element size ``size`` (2 for 16-bit activations, 4 for fp32; dropout masks are 1 byte):

* replicated across tensor-parallel ranks unless sequence parallel (``rep``): both norm inputs, the QKV input,
  the MLP input (``size * h`` each) and, with dropout, the two dropout masks (``h`` each);
* split by tensor parallelism (``split``): Q and K, V, the output-projection input, the MLP (GeLU: its input and
  the second linear's input, ``2 size f``; gated (SwiGLU/GeGLU, fused as Megatron-LM's bias-SwiGLU): gate and up
  outputs and their product, ``3 size f``; a mixture of experts: times the experts each token visits);
* the attention core (``core``, split by TP, what selective recompute drops): the softmax output ``size a s``
  plus, with dropout, its mask ``a s`` and output ``size a s``; FlashAttention keeps only the fp32 log-sum-exp
  (``4 a``) and recomputes the rest (Dao et al. 2022, arXiv 2205.14135, Sec. 3.1).

For GPT (kv heads = heads, ffn 4h, GeLU, dropout, 16-bit) this is the paper's ``s b h (34 + 5 a s / h)``, with TP
``s b h (10 + 24/t + 5 a s / (h t))``, TP + SP ``s b h / t (34 + 5 a s / h)``, selective recompute + SP
``34 s b h / t`` and full recompute ``2 s b h`` (the layer input). Encoder-decoder decoder layers add their
cross-attention (norm and query inputs, Q, K and V over the encoder tokens, output-projection input, core).
Outside the layers: the fp32 logits of a language-model head (``4 V`` bytes per token).
"""
from __future__ import annotations

import numpy as np

RECOMPUTE = ("none", "selective", "full")


def _experts(cfg) -> float:
    """Feed-forward networks a token runs through: its top-k experts in a mixture of experts, else one."""
    if not getattr(cfg, "experts", 0):
        return 1.0
    return float(getattr(cfg, "experts_per_token", 1) or 1)


def layer_terms(cfg, seq, *, flash: bool, dropout: bool, size: float = 2.0, cross: bool = False) -> dict:
    """``{op: (bytes per token, group)}`` for one layer, group ``rep``/``split``/``core`` (see module docstring).
    ``seq`` (tokens a query attends to) may be an array; ``cross`` adds a decoder layer's cross-attention."""
    h, a = float(cfg.d_model), float(cfg.heads)
    hq = a * cfg.dim_head
    hkv = float(cfg.n_kv_heads * cfg.dim_head)
    f = float(cfg.ffn) * _experts(cfg)
    seq = np.asarray(seq, float)
    gated = cfg.ffn_kind in ("swiglu", "geglu")

    def core(prefix: str) -> dict:
        if flash:
            return {f"{prefix}_logsumexp": (4.0 * a, "core")}
        out = {f"{prefix}_softmax_output": (size * a * seq, "core")}
        if dropout:
            out |= {f"{prefix}_dropout_mask": (a * seq, "core"), f"{prefix}_dropout_output": (size * a * seq, "core")}
        return out

    t = {"norm1_input": (size * h, "rep"), "qkv_input": (size * h, "rep"), "q_k": (size * (hq + hkv), "split"),
         "v": (size * hkv, "split"), **core("attention"), "out_proj_input": (size * hq, "split"),
         "norm2_input": (size * h, "rep"), "mlp_input": (size * h, "rep"),
         "mlp_activation": ((2.0 if gated else 1.0) * size * f, "split"), "mlp_out_input": (size * f, "split")}
    if dropout:
        t |= {"attention_out_dropout_mask": (h, "rep"), "mlp_out_dropout_mask": (h, "rep")}
    if cross:
        t |= {"cross_norm_input": (size * h, "rep"), "cross_q_input": (size * h, "rep"),
              "cross_q_k_v": (size * (hq + 2 * hkv), "split"), **core("cross"),
              "cross_out_proj_input": (size * hq, "split")}
        if dropout:
            t["cross_out_dropout_mask"] = (h, "rep")
    return t


def activation_bytes_per_token(cfg, seq, tp=1, sp=False, recompute=0, *, flash: bool, dropout: bool,
                               size: float = 2.0, cross: bool = False):
    """(bytes one layer keeps per token of a micro-batch, bytes without recompute); arrays broadcast over
    layouts; ``recompute`` 0/1/2 = none/selective/full."""
    tp, sp, recompute = np.asarray(tp, float), np.asarray(sp, bool), np.asarray(recompute)
    groups = {"rep": 0.0, "split": 0.0, "core": 0.0}
    for value, group in layer_terms(cfg, seq, flash=flash, dropout=dropout, size=size, cross=cross).values():
        groups[group] = groups[group] + value
    rep_div = np.where(sp, tp, 1.0)
    none = groups["rep"] / rep_div + (groups["split"] + groups["core"]) / tp
    selective = groups["rep"] / rep_div + groups["split"] / tp + (groups["core"] / tp if flash else 0.0)
    full = size * float(cfg.d_model) / rep_div
    return np.select([recompute == 0, recompute == 1], [none, selective], full), none


def logits_bytes_per_token(cfg, tp=1) -> float:
    """fp32 logits a language-model head keeps for the loss (0 for other heads)."""
    vocab = float(cfg.vocab) if getattr(cfg, "head", "lm") == "lm" else 0.0
    return 4.0 * vocab / np.asarray(tp, float)


def training_activations(cfg, batch, seq, recompute=0, *, flash: bool, dropout: bool, size: float = 2.0):
    """Bytes one device keeps over the whole stack for a step of ``batch x seq`` tokens (no parallelism):
    every layer's kept bytes, one layer's full activations being recomputed in backward (full recompute) and
    the logits. Encoder-decoders: encoder and decoder stacks at ``seq`` tokens each."""
    tokens = np.asarray(batch, float) * np.asarray(seq, float)
    kept, none = activation_bytes_per_token(cfg, seq, 1, False, recompute, flash=flash, dropout=dropout, size=size)
    total = cfg.layers * kept * tokens
    live = none * tokens
    if cfg.is_enc_dec:
        dk, dn = activation_bytes_per_token(cfg, seq, 1, False, recompute, flash=flash, dropout=dropout, size=size,
                                            cross=True)
        total = total + cfg.decoder_layers * dk * tokens
        live = np.maximum(live, dn * tokens)
    return total + np.where(np.asarray(recompute) == 2, live, 0.0) + logits_bytes_per_token(cfg) * tokens


def inference_peak(cfg, batch, q_len, context, *, flash: bool, size: float = 2.0, logits_tokens=None):
    """Live bytes at the forward's widest op: the residual stream and the op's input and output (the MLP's
    gate/up outputs, the QKV projection, the head's logits for ``logits_tokens`` tokens: every token unless
    given), plus the attention scores and softmax output (``2 size a q context`` per sequence) without
    FlashAttention."""
    h, f = float(cfg.d_model), float(cfg.ffn) * _experts(cfg)
    hq, hkv = float(cfg.heads * cfg.dim_head), float(cfg.n_kv_heads * cfg.dim_head)
    tokens = np.asarray(batch, float) * np.asarray(q_len, float)
    width = max((2.0 if cfg.ffn_kind in ("swiglu", "geglu") else 1.0) * f, hq + 2 * hkv)
    body = tokens * size * (2 * h + width)
    vocab = float(cfg.vocab) if getattr(cfg, "head", "lm") == "lm" else 0.0
    lt = tokens if logits_tokens is None else np.asarray(logits_tokens, float)
    head = lt * size * vocab + tokens * size * h
    scores = 0.0 if flash else 2.0 * size * cfg.heads * tokens * np.asarray(context, float)
    return np.maximum(body, head) + scores
