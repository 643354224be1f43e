"""Pricing a whole traced graph per phase (inference, prefill, decode, training), and many configs at once.

* ``inference``: one forward pass of the traced input (encoders, or any model at its traced length).
* ``prefill``: the forward pass over a prompt of a decoder-only model (trace with ``seq`` = prompt length).
* ``decode``: one new token per sequence over a KV cache (trace with ``seq=1, past=L``); weight GEMMs have
  M = batch, so a padded sparse tile (NVIDIA 2:4: 32 rows) can make sparsity slower than dense.
* ``training``: forward + dgrad + wgrad of every matrix op, vector ops forward and backward.

Vector ops (elementwise, norms, softmax, reductions, embeddings, copies) run on the vector peak
(``hw.vector_tflops(dtype)``) against main memory; their bytes are the trace's (fp32) rescaled to ``dtype``.
Backward vector rows read/write twice the forward bytes (grad in + saved input, grad out) — an estimate.
Bias adds and other epilogues of matrix ops are fused: their vector FLOPs are counted, not timed.
An embedding reads only the gathered rows (the trace books the whole table). ``copy`` ops (cat, clone,
contiguous, the eager KV-cache append and the GQA head repeat) are layout artefacts of the eager trace that
fused kernels avoid (in-place KV cache, FlashAttention reading kv heads): ``fuse_copies=True`` (default)
prices them at 0 and leaves them out; ``False`` prices the trace's bytes.
Op seconds add up (no overlap between ops).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nmsim.cost.gemm import (BOUNDS, MATRIX_KINDS, OUTPUT_COLUMNS, PASSES, _info_arrays, _pass_arrays,
                             hw_consts, op_arrays, pattern_info, price_gemms)
from nmsim.errors import UserError
from nmsim.sparsity.plan import SparsityPlan

PHASES = ("inference", "prefill", "decode", "training")
TOTAL_COLUMNS = ("nominal_flops", "executed_flops", "vector_flops", "bytes", "weight_bytes", "metadata_bytes",
                 "matrix_seconds", "vector_seconds", "seconds", "joules", "compute_share", "memory_share",
                 "metadata_share", "bound")


@dataclass
class Pricing:
    """``ops``: one row per (op, pass), matrix rows from :func:`price_gemms` plus vector rows; ``totals``."""
    ops: pd.DataFrame
    totals: dict = field(default_factory=dict)
    phase: str = "inference"
    hardware: str = ""
    dtype: str = "bf16"
    plan: str = "dense"

    def by(self, key: str = "role") -> pd.DataFrame:
        """Sums per ``op`` (id), ``role``, ``layer`` or ``pass``, plus the dominant bound."""
        if key not in ("op", "role", "layer", "pass", "module", "kind"):
            raise UserError(f"unknown grouping {key!r} (known: op, role, layer, pass, module, kind)", "--by")
        cols = ["nominal_flops", "executed_flops", "vector_flops", "bytes", "metadata_bytes", "seconds",
                "energy_joules"]
        if key == "op":
            return self.ops.copy()
        df = self.ops.groupby(key, sort=False)[cols].sum()
        share = self.ops.pivot_table(index=key, columns="bound", values="seconds", aggfunc="sum", fill_value=0.0,
                                     sort=False)
        df["bound"] = share.idxmax(axis=1).reindex(df.index)
        return df.reset_index()


# ---- helpers ----------------------------------------------------------------------------------------------
_HW_BY_NAME: dict = {}


def _hardware(hw):
    if isinstance(hw, str):
        spec = _HW_BY_NAME.get(hw)
        if spec is None:
            from nmsim.hardware import load
            spec = _HW_BY_NAME[hw] = load(hw)
        return spec
    return hw


def _resolve(plan, ops: pd.DataFrame) -> pd.Series | None:
    """Plan (SparsityPlan, CLI text, None) or a pattern Series -> pattern per op of ``ops``."""
    if plan is None:
        return None
    if isinstance(plan, pd.Series):
        return plan.reindex(ops.index)
    if isinstance(plan, str):
        plan = SparsityPlan.parse(plan)
    if isinstance(plan, SparsityPlan):
        return None if plan.is_dense else plan.resolve(ops)
    raise UserError(f"not a sparsity plan: {plan!r}", "plan")


def plan_label(plan) -> str:
    if plan is None:
        return "dense"
    if isinstance(plan, pd.Series):
        vals = sorted({str(v) for v in plan.dropna()})
        return ",".join(vals) or "dense"
    return str(plan) if not isinstance(plan, str) else (str(SparsityPlan.parse(plan)))


def _kv_ratio(graph) -> float:
    cfg = getattr(graph, "config", None)
    if cfg is None:
        return 1.0
    return cfg.n_kv_heads / cfg.heads


def check_phase(cfg, phase: str) -> None:
    """UserError for a phase the model cannot run (prefill/decode need a decoder-only model)."""
    if phase not in PHASES:
        raise UserError(f"unknown phase {phase!r} (known: {', '.join(PHASES)})", "--phase")
    if phase in ("prefill", "decode") and cfg is not None and (not cfg.causal or cfg.is_enc_dec or cfg.is_image):
        kind = "encoder-decoder" if cfg.is_enc_dec else "encoder-only"
        raise UserError(f"{phase} needs a decoder-only (causal) model; {cfg.name} is {kind} "
                        f"(use --phase inference or training)", "--phase")


def passes_of(phase: str) -> tuple[str, ...]:
    return PASSES if phase == "training" else ("fwd",)


def _vector_rows(ops: pd.DataFrame, hw, dtype: str, training: bool, fuse_copies: bool = True) -> pd.DataFrame:
    c = hw_consts(hw, dtype)
    vops = ops[~ops["kind"].isin(MATRIX_KINDS)]
    if fuse_copies:
        vops = vops[vops["kind"] != "copy"]
    scale = c.bytes_per_el / 4.0  # the trace counts fp32 bytes
    vpeak = hw.vector_tflops(dtype) * 1e12
    is_emb = vops["kind"].to_numpy() == "embedding"
    read = np.where(is_emb, vops["bytes_written"].to_numpy(float), vops["bytes_read"].to_numpy(float))
    base_bytes = (read + vops["bytes_written"].to_numpy(float)) * scale
    frames = []
    for pass_, flops_col, mult in (("fwd", "vector_flops", 1.0), ("bwd", "bwd_vector_flops", 2.0)):
        if pass_ == "bwd" and not training:
            continue
        flops = vops[flops_col].to_numpy(float)
        byts = base_bytes * mult
        if pass_ == "bwd":
            keep = (flops > 0) | (vops["x_grad"].to_numpy(bool) & (byts > 0))
        else:
            keep = (flops > 0) | (byts > 0)
        if not keep.any():
            continue
        comp = flops / vpeak
        mem = byts / c.bandwidth
        sec = np.maximum(comp, mem)
        sel = vops.loc[keep]
        n = int(keep.sum())
        frames.append(pd.DataFrame({
            "id": sel["id"].to_numpy(), "module": sel["module"].to_numpy(), "role": sel["role"].to_numpy(),
            "layer": sel["layer"].to_numpy(), "kind": sel["kind"].to_numpy(), "pass": [pass_] * n,
            "pattern": ["dense"] * n, "hw_pattern": ["dense"] * n, "sparse": np.zeros(n, bool),
            "nominal_flops": 0.0, "padded_flops": 0.0, "executed_flops": 0.0, "vector_flops": flops[keep],
            "weight_bytes": 0.0, "metadata_bytes": 0.0, "act_bytes": byts[keep], "bytes": byts[keep],
            "tflops": vpeak / 1e12, "efficiency": 1.0, "compute_seconds": comp[keep], "memory_seconds": mem[keep],
            "metadata_seconds": 0.0, "seconds": sec[keep],
            "bound": np.where(sec[keep] == comp[keep], "compute", "memory"),
            "energy_joules": (flops[keep] * c.pj_flop_dense + byts[keep] * c.pj_byte) * 1e-12}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=OUTPUT_COLUMNS)


def _totals(df: pd.DataFrame) -> dict:
    sec = float(df["seconds"].sum())
    is_vec = df["kind"].isin(MATRIX_KINDS).to_numpy() == False  # noqa: E712
    by_bound = df.groupby("bound")["seconds"].sum()
    shares = {f"{b}_share": (float(by_bound.get(b, 0.0)) / sec if sec > 0 else 0.0) for b in BOUNDS}
    fwd = df["pass"].to_numpy() == "fwd"
    t = {
        "nominal_flops": float(df["nominal_flops"].sum()),
        "executed_flops": float(df["executed_flops"].sum()),
        "vector_flops": float(df["vector_flops"].sum()),
        "bytes": float(df["bytes"].sum()),
        "weight_bytes": float(df.loc[fwd, "weight_bytes"].sum()),
        "metadata_bytes": float(df.loc[fwd, "metadata_bytes"].sum()),
        "matrix_seconds": float(df.loc[~is_vec, "seconds"].sum()),
        "vector_seconds": float(df.loc[is_vec, "seconds"].sum()),
        "seconds": sec,
        "joules": float(df["energy_joules"].sum()),
        **shares,
    }
    t["bound"] = max(BOUNDS, key=lambda b: t[f"{b}_share"])
    return t


# ---- public API -------------------------------------------------------------------------------------------
def price(graph, plan=None, hw="a100", dtype: str = "bf16", phase: str = "inference", *,
          dgrad_sparse: bool | None = None, fuse_copies: bool = True) -> Pricing:
    """Price ``graph`` (an OpGraph) under ``plan`` on ``hw`` (spec or name) at ``dtype`` for ``phase``.

    ``decode`` expects a graph traced with ``seq=1, past=L`` (see :func:`price_workload`).
    """
    hw = _hardware(hw)
    cfg = getattr(graph, "config", None)
    check_phase(cfg, phase)
    ops = graph.ops
    mops = ops[ops["kind"].isin(MATRIX_KINDS)]
    patterns = _resolve(plan, mops)
    gem = price_gemms(mops, patterns, hw, dtype, passes_of(phase), dgrad_sparse=dgrad_sparse,
                      decode=phase == "decode", kv_ratio=_kv_ratio(graph))
    # fused epilogue vector FLOPs of matrix ops (bias adds): counted, not timed
    vf = mops.set_index("id")
    epi = np.where(gem["pass"].to_numpy() == "fwd", vf["vector_flops"].reindex(gem["id"]).to_numpy(float),
                   np.where(gem["pass"].to_numpy() == "dgrad",
                            vf["bwd_vector_flops"].reindex(gem["id"]).to_numpy(float), 0.0))
    gem.insert(gem.columns.get_loc("executed_flops") + 1, "vector_flops", epi)
    vec = _vector_rows(ops, hw, dtype, phase == "training", fuse_copies)
    df = pd.concat([gem, vec[gem.columns]], ignore_index=True) if len(vec) else gem
    order = {p: i for i, p in enumerate(("fwd", "dgrad", "wgrad", "bwd"))}
    df = df.assign(_p=df["pass"].map(order)).sort_values(["id", "_p"], kind="stable").drop(columns="_p")
    df = df.reset_index(drop=True)
    return Pricing(df, _totals(df), phase, hw.name, dtype, plan_label(plan))


def trace_for_phase(cfg, phase: str, batch: int | None = None, seq: int | None = None,
                    context: int | None = None):
    """Trace ``cfg`` (ModelConfig or workload name) the way ``phase`` needs; returns the OpGraph."""
    from nmsim.graph import load_workload, trace_workload
    if isinstance(cfg, str):
        cfg = load_workload(cfg)
    check_phase(cfg, phase)
    for name, v in (("--batch", batch), ("--seq", seq), ("--context", context)):
        if v is not None and int(v) < 1:
            raise UserError(f"must be a positive integer, got {v}", name)
    if phase == "decode":
        if seq not in (None, 1):
            raise UserError("decode prices one new token per sequence; use --context for the cache length", "--seq")
        past = context or cfg.seq_len
        return trace_workload(cfg, batch=batch, seq=1, past=int(past))
    if context is not None and phase != "prefill":
        raise UserError(f"--context is for --phase decode/prefill, not {phase}", "--context")
    if cfg.is_image and seq is not None:
        raise UserError(f"{cfg.name} is an image model: its tokens come from image_size/patch_size", "--seq")
    return trace_workload(cfg, batch=batch, seq=seq or context)


def price_workload(cfg, plan=None, hw="a100", dtype: str = "bf16", phase: str = "inference",
                   batch: int | None = None, seq: int | None = None, context: int | None = None, **kw) -> Pricing:
    """Trace ``cfg`` for ``phase`` (decode: ``seq=1, past=context``; prefill: ``seq=context or seq``) and price."""
    graph = trace_for_phase(cfg, phase, batch, seq, context)
    return price(graph, plan, hw, dtype, phase, **kw)


# ---- many configs -----------------------------------------------------------------------------------------
MANY_QUANTITIES = ("nominal_flops", "executed_flops", "bytes", "metadata_bytes", "weight_bytes", "seconds",
                   "energy_joules")


class _GraphTables:
    """Per-graph state for :func:`price_many`: op arrays, resolved plans and per-(hw, dtype) pattern tables."""

    def __init__(self, graph, phase: str, dgrad_sparse, fuse_copies: bool = True):
        self.graph, self.phase, self.dgrad_sparse, self.fuse_copies = graph, phase, dgrad_sparse, fuse_copies
        ops = graph.ops
        self.mops = ops[ops["kind"].isin(MATRIX_KINDS)]
        self.A = op_arrays(self.mops, _kv_ratio(graph))
        self.patterns: list = [None]
        self.pattern_code: dict = {None: 0}
        self.plan_codes: dict = {}
        self.tables: dict = {}
        self.vector: dict = {}
        self.labels: dict = {}

    def codes(self, plan) -> np.ndarray:
        key = plan if not isinstance(plan, pd.Series) else ("series", id(plan))
        hit = self.plan_codes.get(key)
        if hit is not None:
            return hit
        pats = _resolve(plan, self.mops)
        if pats is None:
            codes = np.zeros(self.A["n"], dtype=np.int64)
        else:
            codes = np.empty(self.A["n"], dtype=np.int64)
            for i, p in enumerate(pats.to_numpy(dtype=object)):
                p = None if (p is None or (isinstance(p, float)) or p.is_dense) else p
                c = self.pattern_code.get(p)
                if c is None:
                    c = self.pattern_code[p] = len(self.patterns)
                    self.patterns.append(p)
                codes[i] = c
        self.plan_codes[key] = codes
        return codes

    def label(self, plan) -> str:
        key = plan if not isinstance(plan, pd.Series) else ("series", id(plan))
        hit = self.labels.get(key)
        if hit is None:
            hit = self.labels[key] = plan_label(plan)
        return hit

    def table(self, hw, dtype: str) -> dict:
        """(P, n) arrays per quantity, summed over the phase's passes, for every pattern known so far."""
        key = (id(hw), dtype)
        hit = self.tables.get(key)
        if hit is not None and hit[0] is hw and hit[1] == len(self.patterns):
            return hit[2]
        c = hw_consts(hw, dtype)
        info = _info_arrays([pattern_info(hw, dtype, p) for p in self.patterns])
        out = {q: 0.0 for q in MANY_QUANTITIES}
        for b in BOUNDS:
            out[f"{b}_seconds"] = 0.0
        for pass_ in passes_of(self.phase):
            r = _pass_arrays(self.A, info, c, pass_, self.dgrad_sparse)
            keep = r["nominal_flops"] > 0
            for q in MANY_QUANTITIES:
                if q == "weight_bytes" and pass_ != "fwd":
                    continue
                if q == "metadata_bytes" and pass_ != "fwd":
                    continue
                out[q] = out[q] + np.where(keep, r[q], 0.0)
            for i, b in enumerate(BOUNDS):
                out[f"{b}_seconds"] = out[f"{b}_seconds"] + np.where(keep & (r["bound"] == i), r["seconds"], 0.0)
        self.tables[key] = (hw, len(self.patterns), out)
        return out

    def vector_totals(self, hw, dtype: str) -> dict:
        key = (id(hw), dtype)
        hit = self.vector.get(key)
        if hit is not None and hit[0] is hw:
            return hit[1]
        vec = _vector_rows(self.graph.ops, hw, dtype, self.phase == "training", self.fuse_copies)
        A = self.A  # fused epilogue FLOPs of matrix ops (as in price())
        epi = float(self.mops["vector_flops"].to_numpy(float)[A["fwd"] > 0].sum())
        if self.phase == "training":
            epi += float(self.mops["bwd_vector_flops"].to_numpy(float)[A["dgrad"] > 0].sum())
        t = {"vector_flops": epi + (float(vec["vector_flops"].sum()) if len(vec) else 0.0),
             "vector_bytes": float(vec["bytes"].sum()) if len(vec) else 0.0,
             "vector_seconds": float(vec["seconds"].sum()) if len(vec) else 0.0,
             "vector_joules": float(vec["energy_joules"].sum()) if len(vec) else 0.0,
             "vector_compute_seconds": float(vec.loc[vec["bound"] == "compute", "seconds"].sum()) if len(vec) else 0.0}
        self.vector[key] = (hw, t)
        return t


_MANY_CACHE: dict = {}


def price_many(graph, configs, phase: str = "inference", *, dgrad_sparse: bool | None = None,
               fuse_copies: bool = True) -> pd.DataFrame:
    """Totals for many ``(plan_or_patterns, hw, dtype)`` configs of one traced graph, vectorised.

    Each plan is resolved once (cached per graph); per (hw, dtype) every known pattern is priced once against all
    ops, giving (P, n) tables; a config's totals are then a gather + row sum over its pattern codes. Returns one
    row per config: config, plan, hardware, dtype and the :data:`TOTAL_COLUMNS`.
    """
    check_phase(getattr(graph, "config", None), phase)
    key = (id(graph), phase, dgrad_sparse, fuse_copies)
    hit = _MANY_CACHE.get(key)
    if hit is None or hit.graph is not graph:
        hit = _MANY_CACHE[key] = _GraphTables(graph, phase, dgrad_sparse, fuse_copies)
    G = hit
    configs = list(configs)
    hws = []
    codes = np.empty((len(configs), G.A["n"]), dtype=np.int64)
    for i, (plan, hw, dtype) in enumerate(configs):
        codes[i] = G.codes(plan)
        hws.append(_hardware(hw))
    groups: dict = {}
    for i, (cfg_, hw) in enumerate(zip(configs, hws)):
        groups.setdefault((id(hw), cfg_[2]), (hw, cfg_[2], []))[2].append(i)
    cols = {q: np.zeros(len(configs)) for q in (*MANY_QUANTITIES, *(f"{b}_seconds" for b in BOUNDS))}
    vcols = {q: np.zeros(len(configs)) for q in ("vector_flops", "vector_bytes", "vector_seconds", "vector_joules",
                                                  "vector_compute_seconds")}
    cols_idx = np.arange(G.A["n"])
    for hw, dtype, rows in groups.values():
        T = G.table(hw, dtype)
        rows = np.asarray(rows)
        C = codes[rows]
        for q, arr in T.items():
            cols[q][rows] = arr[C, cols_idx].sum(axis=1) if np.ndim(arr) == 2 else 0.0
        v = G.vector_totals(hw, dtype)
        for q in vcols:
            vcols[q][rows] = v[q]
    seconds = cols["seconds"] + vcols["vector_seconds"]
    with np.errstate(divide="ignore", invalid="ignore"):
        share_c = np.where(seconds > 0, (cols["compute_seconds"] + vcols["vector_compute_seconds"]) / seconds, 0)
        share_m = np.where(seconds > 0, (cols["memory_seconds"] + vcols["vector_seconds"]
                                         - vcols["vector_compute_seconds"]) / seconds, 0)
        share_x = np.where(seconds > 0, cols["metadata_seconds"] / seconds, 0)
    shares = np.stack([share_c, share_m, share_x], axis=1)
    return pd.DataFrame({
        "config": np.arange(len(configs)),
        "plan": [G.label(c[0]) for c in configs],
        "hardware": [h.name for h in hws],
        "dtype": [c[2] for c in configs],
        "nominal_flops": cols["nominal_flops"], "executed_flops": cols["executed_flops"],
        "vector_flops": vcols["vector_flops"], "bytes": cols["bytes"] + vcols["vector_bytes"],
        "weight_bytes": cols["weight_bytes"], "metadata_bytes": cols["metadata_bytes"],
        "matrix_seconds": cols["seconds"], "vector_seconds": vcols["vector_seconds"], "seconds": seconds,
        "joules": cols["energy_joules"] + vcols["vector_joules"],
        "compute_share": share_c, "memory_share": share_m, "metadata_share": share_x,
        "bound": np.asarray(BOUNDS, dtype=object)[shares.argmax(axis=1)],
    })
