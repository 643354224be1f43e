"""Memory footprints for inference and training under an N:M plan on an accelerator.

Inference (``mode`` inference/prefill/decode):

* ``weights_dense``: every parameter not executed sparse, at ``dtype`` (embedding tables, norms, biases, dense
  or fallback GEMM weights).
* ``weights_sparse_values`` + ``weights_metadata``: GEMM weights the hardware executes sparsely, stored in the
  compressed format of the kernel/engine the pricing path runs their forward GEMM on (NVIDIA 2:4: values 1/2 +
  a 2-bit index per kept value, i.e. 9/16 of dense for 16-bit types, 10/16 for int8; a compressed-weight kernel:
  the plan's own N:M with an index per kept value).
* ``kv_cache`` (decoder-only / decoder stacks): ``2 x layers x kv_heads x dim_head x context x batch x bytes``
  (GQA: kv heads, not query heads).
* ``activations``: the peak over ops of one op's activation inputs + output (ops run one at a time).

Training:

* ``master_weights`` fp32 (4 B/param), ``weights_lowp`` the ``dtype`` copy (0 when dtype is fp32),
  ``gradients`` fp32 (4 B/param, as PyTorch AMP keeps them on fp32 params), ``adam_states`` 2 x fp32.
* ``masks`` for sparsified layers: ``mask_storage="bool"`` (default) 1 byte per weight, as torch stores a bool
  mask; ``"bits"`` 1 bit per weight (packed).
* ``activations``: without recompute, every forward op output is kept for backward (the sum over ops);
  with ``recompute=True`` (full-layer recompute) only each layer's input is kept plus one layer's activations
  being recomputed in backward.

Returns a DataFrame indexed by component with ``bytes`` and ``gib`` and a ``total`` row; ``df.attrs`` holds
``fits`` (total <= main-memory capacity), ``capacity_gib``, ``hardware``, ``mode`` and
``sparse_dense_bytes`` (the dense size of the sparse-executed weights, for ratios).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nmsim.cost.gemm import MATRIX_KINDS, SPARSE_KINDS
from nmsim.cost.pricing import hardware_spec, resolve_plan, check_mode
from nmsim.errors import UserError
from nmsim.sparsity.metadata import dtype_bytes

GIB = float(2 ** 30)
MASK_STORAGE = ("bool", "bits")


MEMORY_COLUMNS = ("bytes", "gib")   # memory_footprint's columns, by component


def kv_cache_bytes(cfg, context: int, batch: int = 1, dtype: str = "bf16") -> float:
    """``2 x layers x kv_heads x dim_head x context x batch x bytes(dtype)`` (decoder layers for enc-dec)."""
    layers = cfg.decoder_layers if cfg.is_enc_dec else cfg.layers
    return 2.0 * layers * cfg.n_kv_heads * cfg.dim_head * int(context) * int(batch) * dtype_bytes(dtype)


def _total_params(graph) -> float:
    cfg = getattr(graph, "config", None)
    if cfg is not None:
        from nmsim.graph import parameter_counts
        return float(parameter_counts(cfg)["total"])
    ops = graph.ops  # fallback: unique weights + biases seen by the trace
    w = ops[ops["weight"].astype(str) != ""].drop_duplicates("weight")
    return float(w["weight_numel"].sum() + w.loc[w["has_bias"], "gemm_n"].sum())


def _sparse_weights(graph, plan, hw, dtype: str) -> tuple[float, float, float, float]:
    """(numel, compressed value bytes, metadata bytes) of the GEMM weights executed sparse, and the numel of all
    plan-sparsified weights (for masks, whether or not the hardware can use the pattern). Whether a weight runs
    sparse and in which stored format (a 1:8 plan as 2:4 on a sparse tensor core, as 1:8 on a compressed-weight
    kernel) is what the pricing path decides for its forward GEMM."""
    from nmsim.cost.gemm import price_gemms
    ops = graph.ops
    mops = ops[ops["kind"].isin(MATRIX_KINDS)]
    pats = resolve_plan(plan, mops)
    if pats is None:
        return 0.0, 0.0, 0.0, 0.0
    lin = mops["kind"].isin(SPARSE_KINDS).to_numpy()
    first = ~mops["weight"].duplicated().to_numpy()  # a shared (tied) weight counts once
    sel = mops[lin & first]
    sp = pats.reindex(sel.index)
    has = np.array([p is not None and not (isinstance(p, float)) and not p.is_dense for p in sp], dtype=bool)
    masked = float(sel.loc[has, "weight_numel"].sum())
    if not has.any():
        return 0.0, 0.0, 0.0, masked
    priced = price_gemms(sel[has], sp[has], hw, dtype, ("fwd",))
    run = priced[priced["sparse"].astype(bool)]
    byid = sel.set_index("id")
    bias = np.where(byid.loc[run["id"], "has_bias"].to_numpy(bool), byid.loc[run["id"], "gemm_n"].to_numpy(float), 0.0)
    numel = float(byid.loc[run["id"], "weight_numel"].sum())
    meta = float(run["metadata_bytes"].sum())
    values = float(run["weight_bytes"].sum()) - meta - float(bias.sum()) * dtype_bytes(dtype)
    return numel, values, meta, masked


def memory_footprint(graph, plan=None, hw="a100", dtype: str = "bf16", mode: str = "inference", *,
                     context: int | None = None, batch: int | None = None, recompute: bool = False,
                     mask_storage: str = "bool") -> pd.DataFrame:
    """Bytes per component (see module docstring); ``graph`` is a traced OpGraph (its batch/length are used for
    activations; ``context`` / ``batch`` size the KV cache, defaulting to the traced length and batch)."""
    hw = hardware_spec(hw)
    cfg = getattr(graph, "config", None)
    check_mode(cfg if mode in ("prefill", "decode") else None, mode)
    if mask_storage not in MASK_STORAGE:
        raise UserError(f"unknown mask storage {mask_storage!r} (known: {', '.join(MASK_STORAGE)})", "mask_storage")
    size = dtype_bytes(dtype, "--dtype")
    hw.dense_tflops(dtype)  # UserError naming the hardware for a dtype it cannot run
    ops = graph.ops
    params = _total_params(graph)
    sp_numel, sp_values, sp_meta, masked = _sparse_weights(graph, plan, hw, dtype)
    rows: dict[str, float] = {}
    if mode == "training":
        rows["master_weights"] = 4.0 * params
        rows["weights_lowp"] = size * params if dtype not in ("fp32", "tf32") else 0.0
        rows["gradients"] = 4.0 * params
        rows["adam_states"] = 8.0 * params
        rows["masks"] = masked * (1.0 if mask_storage == "bool" else 1 / 8)
        outs = ops["out_numel"].to_numpy(float) * size
        if recompute and cfg is not None:
            layer = ops["layer"].to_numpy()
            per_layer = pd.Series(outs).groupby(layer).sum()
            inner = per_layer.drop(index=-1, errors="ignore")
            outside = float(per_layer.get(-1, 0.0))
            tokens = _tokens(ops, cfg)
            n_layers = len(inner)
            rows["activations"] = n_layers * tokens * cfg.d_model * size + float(inner.max() if n_layers else 0) \
                + outside
        else:
            rows["activations"] = float(outs.sum())
    else:
        rows["weights_dense"] = (params - sp_numel) * size
        rows["weights_sparse_values"] = sp_values
        rows["weights_metadata"] = sp_meta
        kv = 0.0
        if cfg is not None and (cfg.causal or cfg.is_enc_dec) and not cfg.is_image:
            ctx = context if context is not None else _context(ops, cfg)
            kv = kv_cache_bytes(cfg, ctx, batch if batch is not None else _batch(ops, cfg), dtype)
        rows["kv_cache"] = kv
        w = ops["weight_numel"].to_numpy(float) + np.where(ops["has_bias"].to_numpy(bool),
                                                             ops["gemm_n"].to_numpy(float), 0.0)
        read = ops["bytes_read"].to_numpy(float) / 4.0 - w
        read = np.where(ops["kind"].to_numpy() == "embedding", ops["out_numel"].to_numpy(float), read)
        act = (np.maximum(read, 0.0) + ops["out_numel"].to_numpy(float)) * size
        rows["activations"] = float(act.max()) if len(act) else 0.0
    df = pd.DataFrame({"bytes": pd.Series(rows, dtype=float)})
    df.loc["total"] = df["bytes"].sum()
    df["gib"] = df["bytes"] / GIB   # MEMORY_COLUMNS
    df.index.name = "component"
    cap = hw.main_memory.capacity_gib
    df.attrs.update({"fits": bool(df.loc["total", "gib"] <= cap), "capacity_gib": cap, "hardware": hw.name,
                     "mode": mode, "dtype": dtype, "sparse_dense_bytes": sp_numel * size,
                     "mask_storage": mask_storage if mode == "training" else None})
    return df


def _tokens(ops: pd.DataFrame, cfg) -> float:
    lin = ops[ops["kind"] == "linear"]
    return float(lin["gemm_m"].max()) if len(lin) else 0.0


def _batch(ops: pd.DataFrame, cfg) -> int:
    mm = ops[(ops["kind"] == "matmul") & (ops["role"] == "logit")]
    if len(mm):
        return max(1, int(mm["gemm_b"].iloc[0]) // cfg.heads)
    return cfg.batch


def _context(ops: pd.DataFrame, cfg) -> int:
    mm = ops[(ops["kind"] == "matmul") & (ops["role"] == "logit")]
    return int(mm["gemm_n"].max()) if len(mm) else cfg.seq_len
