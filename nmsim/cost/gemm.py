"""Pricing matrix GEMMs (forward, dgrad, wgrad) under an N:M plan on one accelerator.

Per (op, pass) the model is a roofline with three ceilings::

    compute_seconds  = padded_flops / (peak(pattern) * efficiency(executed_flops))
    memory_seconds   = bytes / main-memory bandwidth
    metadata_seconds = metadata_bytes / metadata bandwidth (only when the spec lists one, else 0)
    seconds          = max of the three;  bound = which one
    A sparse-executed fwd/dgrad GEMM with fewer activation rows than the sparse tile is slowed by the spec's
    ``sparse_support.small_m_efficiency`` (A100: derived from the measured 0.11x of PyTorch issue 111339).

* ``nominal_flops``: the graph's dense FLOPs of that pass (never changed by sparsity or padding).
* ``padded_flops``: dense FLOPs after rounding M/K/N up to the hardware tile (the sparse tile when the pass runs
  sparse: NVIDIA 2:4 pads a 1-row decode activation to 32 rows).
* ``executed_flops`` = padded_flops x density of the *hardware* pattern that executes (a 1:16 plan on an NVIDIA
  2:4 engine executes 2:4, i.e. half; an any-N:M engine executes the plan's own density). Dense fallback: 1.
* ``peak(pattern)`` is the spec's TFLOPS of the executing hardware pattern (``HardwareSpec.best_sparse``), so a
  spec whose sparse peak is not exactly dense x M/N (VEGETA) is honoured. The efficiency curve is evaluated
  on the executed FLOPs, which keeps a fixed per-kernel latency the same for dense and sparse kernels.

Rules: weight sparsity applies to ``linear``/``conv`` rows only. ``fwd`` runs sparse when the plan pattern fits a
hardware pattern; ``dgrad`` (dX = dY·W) runs sparse only when additionally the mask is transposable or the spec
accepts the transposed pattern (``dgrad_sparse`` overrides); ``wgrad`` (dW = dYᵀ·X) is always dense; act×act
``matmul`` rows (logit/attend) are always dense (their dgrad books both operand gradients, two GEMMs).

Bytes use ``nmsim.sparsity.dtype_bytes(dtype)`` (not the trace's fp32): the weight (compressed values +
metadata in the hardware pattern's format and the spec's metadata encoding when sparse-executed, dense
otherwise, plus the bias) and the activations each GEMM reads and writes (each operand once: an
ideal-reuse lower bound on traffic). ``kv_ratio`` scales the K/V operand of logit/attend matmuls (GQA:
kv_heads / heads — the trace materialises K/V with query heads, the kernels read the kv heads).

Speed: everything is numpy over columns; per-pattern hardware look-ups are computed once per unique
(hardware, dtype, pattern) and cached. The same core (:func:`_pass_arrays`) broadcasts a table of P patterns
against n ops, which :func:`price_many` uses to price thousands of configs per second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nmsim.errors import UserError
from nmsim.sparsity.metadata import dtype_bytes, metadata_bits_per_group

PASSES = ("fwd", "dgrad", "wgrad")
MATRIX_KINDS = ("linear", "matmul", "conv")
SPARSE_KINDS = ("linear", "conv")
BOUNDS = ("compute", "memory", "metadata")
NOMINAL_COLUMN = {"fwd": "fwd_flops", "dgrad": "dgrad_flops", "wgrad": "wgrad_flops"}
KV_ROLES = ("logit", "attend")  # act x act matmuls whose second operand is K (logit) or V (attend)

OUTPUT_COLUMNS = [
    "id", "module", "role", "layer", "kind", "pass", "pattern", "hw_pattern", "sparse",
    "nominal_flops", "padded_flops", "executed_flops", "weight_bytes", "metadata_bytes", "act_bytes", "bytes",
    "tflops", "efficiency", "compute_seconds", "memory_seconds", "metadata_seconds", "seconds", "bound",
    "energy_joules",
]


# ---- per (hardware, dtype, pattern) look-ups --------------------------------------------------------------
@dataclass(frozen=True)
class PatternInfo:
    """How one plan pattern runs on one accelerator at one dtype."""
    label: str            # plan pattern ("dense" for None)
    hw_label: str         # executing hardware pattern ("dense" on fallback)
    sparse: bool          # runs on the sparse engine (forward)
    transposable: bool    # mask usable by dgrad
    tflops: float         # peak of the executing pattern (dense peak on fallback)
    density: float        # density executed (hardware pattern's; 1.0 dense)
    group_n: int          # hardware pattern N (values kept per group) for compressed sizes
    group_m: int          # hardware pattern M
    meta_bits: float      # metadata bits per group of group_m weights


_INFO_CACHE: dict = {}


def pattern_info(hw, dtype: str, pattern) -> PatternInfo:
    """Cached :class:`PatternInfo` of ``pattern`` (NMPattern / HierarchicalPattern / None) on ``hw`` at ``dtype``."""
    key = (id(hw), hw.name, dtype, pattern)
    hit = _INFO_CACHE.get(key)
    if hit is not None and hit[0] is hw:
        return hit[1]
    hw_pattern, tflops, _ = hw.best_sparse(pattern, dtype)
    label = "dense" if pattern is None or pattern.is_dense else str(pattern)
    if hw_pattern is None:
        info = PatternInfo(label, "dense", False, False, float(tflops), 1.0, 1, 1, 0.0)
    else:
        encoding = hw.metadata_encoding or "index"
        info = PatternInfo(label, str(hw_pattern), True, bool(getattr(pattern, "transposable", False)),
                           float(tflops), float(hw_pattern.density), int(hw_pattern.n), int(hw_pattern.m),
                           float(metadata_bits_per_group(hw_pattern, encoding)))
    _INFO_CACHE[key] = (hw, info)
    return info


@dataclass(frozen=True)
class HwConsts:
    dense_tflops: float
    dense_tile: tuple[int, int, int]
    sparse_tile: tuple[int, int, int]
    eff_x: np.ndarray
    eff_y: np.ndarray
    bandwidth: float            # bytes/s
    meta_bandwidth: float       # bytes/s, 0 = not modelled
    pj_flop_dense: float
    pj_flop_sparse: float
    pj_byte: float
    accepts_transposed: bool
    bytes_per_el: float
    small_m_eff: float = 1.0    # sparse kernels with fewer activation rows than the sparse tile


_HW_CACHE: dict = {}


def hw_consts(hw, dtype: str) -> HwConsts:
    key = (id(hw), hw.name, dtype)
    hit = _HW_CACHE.get(key)
    if hit is not None and hit[0] is hw:
        return hit[1]
    dense = hw.dense_tflops(dtype)  # raises a UserError naming the hardware for a dtype it lacks
    size = dtype_bytes(dtype, "--dtype")
    dt, st = hw.tile(False, dtype), hw.tile(True, dtype)
    pts = hw.efficiency_points
    try:
        pj_d, pj_s = hw.energy_pj_per_flop(dtype, False), hw.energy_pj_per_flop(dtype, True)
    except UserError:
        pj_d = pj_s = math.nan
    try:
        pj_b = hw.energy_pj_per_byte()
    except UserError:
        pj_b = math.nan
    mb = hw.metadata_bandwidth_gbps
    consts = HwConsts(float(dense), (dt.m, dt.k, dt.n), (st.m, st.k, st.n),
                      np.log(np.array([p[0] for p in pts], dtype=float)), np.array([p[1] for p in pts], dtype=float),
                      hw.main_memory.bandwidth_gbps * 1e9, (mb or 0.0) * 1e9, pj_d, pj_s, pj_b,
                      hw.accepts_transposed_dgrad, float(size),
                      hw.sparse.small_m_efficiency if hw.sparse else 1.0)
    _HW_CACHE[key] = (hw, consts)
    return consts


def _efficiency(c: HwConsts, flops: np.ndarray) -> np.ndarray:
    if len(c.eff_y) == 1:
        return np.full(np.shape(flops), c.eff_y[0])
    with np.errstate(divide="ignore"):
        x = np.log(np.maximum(flops, 1e-300))
    return np.interp(x, c.eff_x, c.eff_y)


def _pad(x: np.ndarray, tile: np.ndarray) -> np.ndarray:
    return np.ceil(x / tile) * tile


# ---- op arrays ---------------------------------------------------------------------------------------------
def op_arrays(ops: pd.DataFrame, kv_ratio: float = 1.0) -> dict:
    """The numpy columns pricing needs (float64), computed once per ops frame."""
    kind = ops["kind"].to_numpy()
    role = ops["role"].to_numpy()
    f = lambda c: ops[c].to_numpy(dtype=float)  # noqa: E731
    is_mm = kind == "matmul"
    kv = np.where(is_mm & np.isin(role, KV_ROLES), float(kv_ratio), 1.0)
    b, m, k, n = f("gemm_b"), f("gemm_m"), f("gemm_k"), f("gemm_n")
    return {
        "n": len(ops), "is_lin": np.isin(kind, SPARSE_KINDS), "is_mm": is_mm,
        "b": np.maximum(b, 1.0), "m": m, "k": k, "n_": n, "kv": kv,
        "weight_numel": f("weight_numel"), "bias": np.where(ops["has_bias"].to_numpy(dtype=bool), n, 0.0),
        "fwd": f("fwd_flops"), "dgrad": f("dgrad_flops"), "wgrad": f("wgrad_flops"),
    }


def _pass_arrays(A: dict, info: dict, c: HwConsts, pass_: str, dgrad_sparse: bool | None) -> dict:
    """Price one pass. ``info`` holds per-pattern arrays broadcastable against the op arrays ((n,) or (P, 1))."""
    is_lin, is_mm, b, m, k, n = A["is_lin"], A["is_mm"], A["b"], A["m"], A["k"], A["n_"]
    B = c.bytes_per_el
    nominal = A[pass_]
    dt, st = c.dense_tile, c.sparse_tile
    if pass_ == "fwd":
        sparse = is_lin & info["sparse"]
    elif pass_ == "dgrad":
        ok = info["transposable"] | c.accepts_transposed if dgrad_sparse is None else np.asarray(bool(dgrad_sparse))
        sparse = is_lin & info["sparse"] & ok
    else:
        sparse = np.zeros_like(is_lin) & info["sparse"]  # wgrad: always dense (broadcast shape)
    tm = np.where(sparse, st[0], dt[0])
    tk = np.where(sparse, st[1], dt[1])
    tn = np.where(sparse, st[2], dt[2])
    # GEMM shapes per pass as (rows, reduction, out)
    if pass_ == "fwd":
        raw = m * k * n
        padded = _pad(m, tm) * _pad(k, tk) * _pad(n, tn)
    elif pass_ == "dgrad":  # linear: dX[m,k] = dY[m,n] W[n,k]; matmul: two GEMMs (dA and dB)
        raw = np.where(is_mm, 2.0, 1.0) * m * k * n
        g1 = _pad(m, tm) * _pad(n, tk) * _pad(k, tn)
        g2 = _pad(k, dt[0]) * _pad(m, dt[1]) * _pad(n, dt[2])
        padded = np.where(is_mm, g1 + g2, g1)
    else:  # wgrad: dW[n,k] = dY^T[n,m] X[m,k]
        raw = m * k * n
        padded = _pad(n, tm) * _pad(m, tk) * _pad(k, tn)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(raw > 0, padded / np.where(raw > 0, raw, 1.0), 1.0)
    padded_flops = nominal * ratio
    density = np.where(sparse, info["density"], 1.0)
    executed = padded_flops * density
    tflops = np.where(sparse, info["tflops"], c.dense_tflops)
    eff = _efficiency(c, executed)
    with np.errstate(divide="ignore", invalid="ignore"):
        compute_s = np.where(padded_flops > 0, padded_flops / (tflops * 1e12 * eff), 0.0)
    # bytes
    dense_w = (A["weight_numel"] + A["bias"]) * B
    groups = n * np.ceil(k / info["group_m"])
    values_b = groups * info["group_n"] * B + A["bias"] * B
    meta_b = groups * info["meta_bits"] / 8.0
    if pass_ == "wgrad":
        weight_b = np.where(is_lin, dense_w, 0.0)  # the dW written (dense gradient)
        meta = np.zeros_like(weight_b)
        act = np.where(is_lin, b * m * k + b * m * n, 0.0) * B
    else:
        weight_b = np.where(is_lin, np.where(sparse, values_b + meta_b, dense_w), 0.0)
        meta = np.where(is_lin & sparse, meta_b, 0.0)
        a_el = b * m * k
        b_el = b * k * n * A["kv"]
        c_el = b * m * n
        if pass_ == "fwd":
            act = np.where(is_mm, a_el + b_el + c_el, b * m * k + b * m * n) * B
        else:
            act = np.where(is_mm, 2.0 * (a_el + b_el + c_el), b * m * n + b * m * k) * B
    weight_b = weight_b + np.zeros_like(padded_flops)
    meta = meta + np.zeros_like(padded_flops)
    total_b = weight_b + act
    memory_s = total_b / c.bandwidth
    meta_s = meta / c.meta_bandwidth if c.meta_bandwidth > 0 else np.zeros_like(meta)
    if c.small_m_eff < 1.0 and pass_ != "wgrad":  # measured sparse-kernel slowdown below the row tile
        slow = np.where(sparse & (m < st[0]), 1.0 / c.small_m_eff, 1.0)
        compute_s, memory_s, meta_s = compute_s * slow, memory_s * slow, meta_s * slow
    seconds = np.maximum(np.maximum(compute_s, memory_s), meta_s)
    bound = np.where(seconds == compute_s, 0, np.where(seconds == memory_s, 1, 2))
    pj = np.where(sparse, c.pj_flop_sparse, c.pj_flop_dense)
    joules = (executed * pj + total_b * c.pj_byte) * 1e-12
    return {"sparse": sparse + np.zeros_like(padded_flops, dtype=bool), "nominal_flops": nominal + 0 * padded_flops,
            "padded_flops": padded_flops, "executed_flops": executed, "weight_bytes": weight_b,
            "metadata_bytes": meta, "act_bytes": act + 0 * padded_flops, "bytes": total_b, "tflops": tflops + 0 * eff,
            "efficiency": eff, "compute_seconds": compute_s, "memory_seconds": memory_s,
            "metadata_seconds": meta_s, "seconds": seconds, "bound": bound, "energy_joules": joules}


def _info_arrays(infos: list[PatternInfo], codes: np.ndarray | None = None) -> dict:
    """Per-row (gathered by ``codes``) or per-pattern ((P, 1)) arrays of the PatternInfo fields."""
    cols = {
        "sparse": np.array([i.sparse for i in infos], dtype=bool),
        "transposable": np.array([i.transposable for i in infos], dtype=bool),
        "tflops": np.array([i.tflops for i in infos], dtype=float),
        "density": np.array([i.density for i in infos], dtype=float),
        "group_n": np.array([i.group_n for i in infos], dtype=float),
        "group_m": np.array([i.group_m for i in infos], dtype=float),
        "meta_bits": np.array([i.meta_bits for i in infos], dtype=float),
    }
    if codes is None:
        return {k: v[:, None] for k, v in cols.items()}
    return {k: v[codes] for k, v in cols.items()}


def _check_passes(passes, decode: bool) -> tuple[str, ...]:
    if isinstance(passes, str):
        passes = (passes,)
    passes = tuple(passes)
    for p in passes:
        if p not in PASSES:
            raise UserError(f"unknown pass {p!r} (known: {', '.join(PASSES)})", "passes")
    if decode and set(passes) - {"fwd"}:
        raise UserError("decode is inference only: passes must be ('fwd',)", "passes")
    return passes


def _factorize(patterns: pd.Series | None, index) -> tuple[np.ndarray, list]:
    if patterns is None:
        return np.zeros(len(index), dtype=np.int64), [None]
    pats = patterns.reindex(index) if not patterns.index.equals(index) else patterns
    values = pats.to_numpy(dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniq = [None] + [None if (u is None or u.is_dense) else u for u in uniques]
    return codes.astype(np.int64) + 1, uniq  # code 0 = dense (None / NaN)


def price_gemms(ops: pd.DataFrame, patterns: pd.Series, hw, dtype: str, passes=("fwd",), *,
                dgrad_sparse: bool | None = None, decode: bool = False, kv_ratio: float = 1.0) -> pd.DataFrame:
    """One row per (matrix op, pass) priced on ``hw`` at ``dtype``; see the module docstring for the model.

    ``ops``: rows of ``OpGraph.ops`` (rows of other kinds are ignored); ``patterns``: plan pattern per op aligned
    on ``ops.index`` (None/NaN = dense; ``None`` for the whole argument = all dense). Passes with 0 nominal FLOPs
    for an op are skipped. ``decode=True`` prices a single-token decode step traced with ``seq=1, past=L``: the
    weight GEMMs' M is the batch (as traced) and only the forward pass is allowed; the ops must come from such a
    trace (act×act matmuls with one query row), else a UserError.
    """
    passes = _check_passes(passes, decode)
    c = hw_consts(hw, dtype)
    mops = ops[ops["kind"].isin(MATRIX_KINDS)]
    if decode:
        q_rows = mops.loc[mops["kind"] == "matmul", "gemm_m"]
        if len(q_rows) and int(q_rows.max()) != 1:
            raise UserError("decode pricing needs a single-token trace (trace_workload(cfg, seq=1, past=L))",
                            "decode")
    codes, uniq = _factorize(patterns, mops.index)
    infos = [pattern_info(hw, dtype, p) for p in uniq]
    info = _info_arrays(infos, codes)
    A = op_arrays(mops, kv_ratio)
    labels = np.array([i.label for i in infos], dtype=object)
    hw_labels = np.array([i.hw_label for i in infos], dtype=object)
    frames = []
    for pass_ in passes:
        r = _pass_arrays(A, info, c, pass_, dgrad_sparse)
        keep = r["nominal_flops"] > 0
        if not keep.any():
            continue
        sel = mops.loc[keep, ["id", "module", "role", "layer", "kind"]]
        out = {"id": sel["id"].to_numpy(), "module": sel["module"].to_numpy(), "role": sel["role"].to_numpy(),
               "layer": sel["layer"].to_numpy(), "kind": sel["kind"].to_numpy(),
               "pass": np.full(int(keep.sum()), pass_, dtype=object),
               "pattern": np.where(A["is_lin"], labels[codes], "dense")[keep],
               "hw_pattern": np.where(r["sparse"], hw_labels[codes], "dense")[keep]}
        for col in OUTPUT_COLUMNS[8:]:
            v = r[col][keep]
            out[col] = np.asarray(BOUNDS, dtype=object)[v] if col == "bound" else v
        frame = pd.DataFrame(out)
        frame["_pos"] = np.flatnonzero(keep)
        frame["_pass"] = PASSES.index(pass_)
        frames.append(frame)
    if not frames:
        return pd.DataFrame({c_: pd.Series(dtype=object) for c_ in OUTPUT_COLUMNS})
    res = pd.concat(frames, ignore_index=True).sort_values(["_pos", "_pass"], kind="stable")
    return res.drop(columns=["_pos", "_pass"]).reset_index(drop=True)[OUTPUT_COLUMNS]
