"""One step's memory on one device: the footprint ``price --memory`` prints and every priced row's ``mem_gib``.

Inference (``mode`` inference/prefill/decode): ``weights_dense``, ``weights_sparse_values`` and
``weights_metadata`` (:mod:`~nmsim.memory.weights`), ``kv_cache`` (decoders: ``2 x layers x kv_heads x dim_head
x context x batch x bytes``; GQA counts kv heads), ``activations`` (the forward's live peak; prefill and decode
compute the logits of each sequence's last token, as serving engines do), ``allocator`` (0: the fitted
overhead comes from training runs, and serving engines preallocate the KV cache in one block) and ``runtime``.

Training: the layout model of :mod:`~nmsim.memory.layout` at TP1 PP1 DP1 with the whole batch as one micro-batch
(the same numbers ``cluster plan`` gives that layout): ``weights``, ``gradients``, ``optimizer`` from the
precision scheme, ``masks`` (1 byte per masked weight as a torch bool tensor, or 1 bit packed), ``activations``
with FlashAttention or not and recompute none/selective/full, ``buffers``, ``allocator`` and ``runtime``.
"""
from __future__ import annotations

from types import SimpleNamespace

from typing import TYPE_CHECKING

import numpy as np

from nmsim.errors import UserError
from nmsim.memory.activations import RECOMPUTE, inference_peak, training_activations
from nmsim.memory.layout import activation_size, layout_memory, runtime_bytes, with_overheads
from nmsim.memory.precision import precision_for
from nmsim.memory.weights import weights_at_rest
from nmsim.sparsity.metadata import dtype_bytes

if TYPE_CHECKING:
    import pandas as pd

GIB = float(2 ** 30)
MASK_STORAGE = ("bool", "bits")
from nmsim.columns import MEMORY_COLUMNS  # noqa: E402,F401 (memory_footprint's columns, by component)
INFERENCE_COMPONENTS = ("weights_dense", "weights_sparse_values", "weights_metadata", "kv_cache", "activations",
                        "allocator", "runtime")


def kv_cache_bytes(cfg, context, batch=1, dtype: str = "bf16"):
    """``2 x layers x kv_heads x dim_head x context x batch x bytes(dtype)`` (decoder layers for enc-dec)."""
    layers = cfg.decoder_layers if cfg.is_enc_dec else cfg.layers
    return 2.0 * layers * cfg.n_kv_heads * cfg.dim_head * np.asarray(context) * np.asarray(batch) * dtype_bytes(dtype)


def has_kv_cache(cfg) -> bool:
    return cfg is not None and (cfg.causal or cfg.is_enc_dec) and not cfg.is_image


def recompute_code(recompute) -> int:
    """``none``/``selective``/``full`` (True = full, False/None = none) -> 0/1/2."""
    if recompute is None or recompute is False:
        return 0
    if recompute is True:
        return 2
    if recompute not in RECOMPUTE:
        raise UserError(f"unknown recompute {recompute!r} (known: {', '.join(RECOMPUTE)})", "--recompute")
    return RECOMPUTE.index(recompute)


def flash_for(hw, fusion) -> bool:
    """FlashAttention-style attention: what ``fusion`` says (None: the spec's stack; False: unfused)."""
    if fusion is None:
        from nmsim.execution import default_fusion
        return bool(default_fusion(hw).attention)
    return bool(getattr(fusion, "attention", fusion))


def step_memory(cfg, mode: str, batch, seq, context, weights, hw, dtype: str, *, flash: bool, recompute=0,
                precision=None, dropout: bool = False, mask_bytes: float = 1.0, weight_dtype: str | None = None,
                allocator: float | None = None):
    """Bytes per component (arrays over ``batch``/``seq``/``context``) and ``total`` for one step of ``cfg``;
    ``weights`` a :class:`~nmsim.memory.weights.WeightBytes`."""
    size = activation_size(dtype)
    runtime = runtime_bytes(hw)
    batch, seq = np.asarray(batch, float), np.asarray(seq, float)
    if mode == "training":
        prec = precision_for(precision, dtype) if not hasattr(precision, "optimizer") else precision
        layers = max(int(cfg.layers + (cfg.decoder_layers if cfg.is_enc_dec else 0)), 1)
        sizes = SimpleNamespace(layers=layers, layer_params=weights.params / layers, pre_params=0.0, post_params=0.0)
        L = {"tp": 1, "pp": 1, "dp": 1, "zero": 0, "mb": 1, "m": 1, "recompute": recompute, "sp": False, "v": 1}
        out = layout_memory(L, sizes, cfg, 1, (np.array([weights.total / layers]), 0.0, 0.0), prec, size=size,
                            fwd_size=dtype_bytes(weight_dtype or dtype), flash=flash, dropout=dropout,
                            masked=weights.masked_numel * mask_bytes, runtime=runtime)
        out = {k: np.broadcast_to(np.asarray(v, float), np.broadcast(batch, seq).shape) * 1.0
               for k, v in out.items() if k not in ("total", "allocator", "runtime")}
        out["activations"] = training_activations(cfg, batch, seq, recompute, flash=flash, dropout=dropout, size=size)
    else:
        shape = np.broadcast(batch, seq, np.asarray(context if context is not None else 0)).shape
        ctx = np.asarray(context if mode == "decode" else seq, float)
        q_len = np.ones_like(seq) if mode == "decode" else seq
        kv = kv_cache_bytes(cfg, ctx, batch, dtype) if has_kv_cache(cfg) else 0.0
        last = batch if mode in ("prefill", "decode") else None
        out = {"weights_dense": weights.dense_bytes, "weights_sparse_values": weights.sparse_values,
               "weights_metadata": weights.metadata, "kv_cache": kv,
               "activations": inference_peak(cfg, batch, q_len, ctx, flash=flash, size=size, logits_tokens=last)}
        out = {k: np.broadcast_to(np.asarray(v, float), shape) * 1.0 for k, v in out.items()}
        allocator = 0.0 if allocator is None else allocator   # fitted on training runs only (see validate)
    out = with_overheads(out, runtime, allocator)
    out["total"] = sum(out.values())
    return out


def memory_footprint(graph, plan=None, hw="a100", dtype: str = "bf16", mode: str = "inference", *,
                     context: int | None = None, batch: int | None = None, seq: int | None = None, recompute=None,
                     mask_storage: str = "bool", fusion=None, precision: str | None = None,
                     weight_dtype: str | None = None, dropout: bool = False, gemms=None) -> pd.DataFrame:
    """Bytes per component of one step (see module docstring) of a traced ``graph`` (its batch and lengths
    unless given). A DataFrame indexed by component with ``bytes`` and ``gib`` and a ``total`` row; ``attrs``:
    ``fits`` (total <= main-memory capacity), ``capacity_gib``, ``hardware``, ``mode``, ``flash``,
    ``recompute``, ``precision`` and ``sparse_dense_bytes`` (dense size of the compressed weights). ``gemms``:
    the plan's :func:`~nmsim.memory.weights.plan_gemms`, when the caller prices many accelerators."""
    return memory_rows(graph, plan, hw, dtype, mode, context=context, batch=batch, seq=seq, recompute=recompute,
                       mask_storage=mask_storage, fusion=fusion, precision=precision, weight_dtype=weight_dtype,
                       dropout=dropout, gemms=gemms).to_pandas()


def memory_rows(graph, plan=None, hw="a100", dtype: str = "bf16", mode: str = "inference", *,
                context: int | None = None, batch: int | None = None, seq: int | None = None, recompute=None,
                mask_storage: str = "bool", fusion=None, precision: str | None = None,
                weight_dtype: str | None = None, dropout: bool = False, gemms=None):
    """:func:`memory_footprint` as :class:`nmsim.frame.Rows` (labels: the components; ``attrs`` as there)."""
    from nmsim.frame import Rows

    from nmsim.execution.table import check_mode
    from nmsim.hardware.cached import hardware_spec
    hw = hardware_spec(hw)
    cfg = getattr(graph, "config", None)
    check_mode(cfg if mode in ("prefill", "decode") else None, mode)
    if mask_storage not in MASK_STORAGE:
        raise UserError(f"unknown mask storage {mask_storage!r} (known: {', '.join(MASK_STORAGE)})", "mask_storage")
    dtype_bytes(dtype, "--dtype")
    hw.dense_tflops(dtype)  # UserError naming the hardware for a dtype it cannot run
    if cfg is None:
        raise UserError("a memory footprint needs a workload's graph (a model config), not a bare module trace",
                        "workload")
    rec = recompute_code(recompute)
    prec = precision_for(precision, dtype)
    flash = flash_for(hw, fusion)
    weights = weights_at_rest(graph, plan, hw, dtype, weight_dtype, gemms)
    b, s, ctx = (batch, seq, context) if batch and seq and context else graph_shape(graph, cfg, mode)
    b, s, ctx = batch or b, seq or s, context or ctx
    comp = step_memory(cfg, mode, b, s, ctx, weights, hw, dtype, flash=flash, recompute=rec, precision=prec,
                       dropout=dropout, mask_bytes=1.0 if mask_storage == "bool" else 1 / 8, weight_dtype=weight_dtype)
    values = np.array([float(v) for v in comp.values()], dtype=float)
    df = Rows({"bytes": values, "gib": values / GIB}, index=np.array(list(comp), dtype=object),
              index_name="component")   # MEMORY_COLUMNS
    cap = hw.main_memory.capacity_gib
    df.attrs.update({"fits": bool(df.at("total", "gib") <= cap), "capacity_gib": cap, "hardware": hw.name,
                     "mode": mode, "dtype": dtype, "sparse_dense_bytes": weights.sparse_numel * dtype_bytes(dtype),
                     "flash": flash, "recompute": RECOMPUTE[rec] if mode == "training" else None,
                     "precision": prec.name if mode == "training" else None,
                     "mask_storage": mask_storage if mode == "training" else None})
    return df


def graph_shape(graph, cfg, mode: str) -> tuple[int, int, int]:
    """(batch, query length, attended length) of a traced graph, from its attention-logit matmul."""
    from nmsim.frame import ops_rows

    ops = ops_rows(graph)
    mm = ops.take((np.asarray(ops["kind"], dtype=object) == "matmul") & (np.asarray(ops["role"], dtype=object) == "logit"))
    if not len(mm):
        return int(cfg.batch), int(cfg.tokens), int(cfg.tokens)
    batch = max(1, int(mm["gemm_b"][0]) // cfg.heads)
    if cfg.is_image:
        return batch, int(cfg.tokens), int(cfg.tokens)
    keys = int(np.max(mm["gemm_n"]))   # decode: the cache before the new token, as --context counts it
    return batch, int(np.max(mm["gemm_m"])), keys - 1 if mode == "decode" else keys


def fit_columns(total_bytes, hw) -> dict:
    """``mem_gib`` and ``fits`` columns for rows whose step takes ``total_bytes`` on ``hw``."""
    cap = hw.main_memory.capacity_gib
    gib = np.asarray(total_bytes, float) / GIB
    return {"mem_gib": gib, "fits": gib <= cap}
