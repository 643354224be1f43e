"""Building the per-pass GEMM table (and the vector-op table) from a traced graph, a plan and a mode.

:func:`gemm_table` is the one place GEMM shapes, sparse operands and activation traffic per pass are derived;
every pricing path (price, compare, budget, report, trainer hook, price_many) starts from it.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from nmsim.errors import UserError
from nmsim.execution.base import (OPERAND_NONE, OPERAND_WEIGHT, OPERAND_WEIGHT_T, PASSES, GemmTable,
                                  VectorTable)
from nmsim.execution.modes import MODES, check_mode  # noqa: F401 (read here by pricing)
from nmsim.frame import Rows, as_rows, ops_rows

if TYPE_CHECKING:
    import pandas as pd

MATRIX_KINDS = ("linear", "matmul", "conv")
SPARSE_KINDS = ("linear", "conv")
KV_ROLES = ("logit", "attend")
NOMINAL_COLUMN = {"fwd": "fwd_flops", "dgrad": "dgrad_flops", "wgrad": "wgrad_flops"}
#: element-wise ops inside attention that a FlashAttention-style kernel fuses (scale, mask, softmax)
ATTENTION_VECTOR_ROLES = ("softmax",)


def passes_of(mode: str) -> tuple[str, ...]:
    return PASSES if mode == "training" else ("fwd",)


def kv_ratio(graph) -> float:
    cfg = getattr(graph, "config", None)
    return 1.0 if cfg is None else cfg.n_kv_heads / cfg.heads


def pattern_codes(patterns, index, known: list, where: str = "plan") -> np.ndarray:
    """Integer code per op (aligned on ``index``: a Series by label, an array by position) into ``known``
    (extended in place; 0 = dense)."""
    codes = np.zeros(len(index), dtype=np.int64)
    if patterns is None:
        return codes
    if hasattr(patterns, "reindex"):   # a pandas Series of patterns, by op id
        patterns = (patterns.reindex(index) if not patterns.index.equals(index) else patterns).to_numpy(dtype=object)
    lookup = {p: i for i, p in enumerate(known)}
    for i, p in enumerate(np.asarray(patterns, dtype=object)):
        if p is None or isinstance(p, float) or p.is_dense:
            continue
        c = lookup.get(p)
        if c is None:
            c = lookup[p] = len(known)
            known.append(p)
        codes[i] = c
    return codes


def sparse_operands(codes: np.ndarray, patterns: list, pass_code: np.ndarray, is_weight: np.ndarray,
                    dgrad_sparse: bool | None) -> np.ndarray:
    """OPERAND_* per row for pattern ``codes`` gathered per row (any leading axes)."""
    transposable = np.array([bool(getattr(p, "transposable", False)) for p in patterns], dtype=bool)
    sparse = (codes > 0) & is_weight
    if dgrad_sparse is None:
        dgrad_op = np.where(transposable[codes], OPERAND_WEIGHT, OPERAND_WEIGHT_T)
    else:
        dgrad_op = np.full(np.shape(codes), OPERAND_WEIGHT if dgrad_sparse else OPERAND_NONE)
    op = np.where(pass_code == 0, OPERAND_WEIGHT, np.where(pass_code == 1, dgrad_op, OPERAND_NONE))
    return np.where(sparse, op, OPERAND_NONE).astype(np.int8)


def gemm_table(graph, patterns: pd.Series | None = None, mode: str = "inference", *,
               dgrad_sparse: bool | None = None, ops: pd.DataFrame | None = None, passes=None,
               kv: float | None = None) -> GemmTable:
    """One row per (matrix op, pass of ``mode``) with a non-zero nominal FLOP count.

    ``patterns``: plan pattern per op aligned on the graph's op index (None = dense); resolve plans with
    ``nmsim.cost.pricing.resolve_plan``. ``ops`` restricts to a subset of the graph's ops (paper convention).
    ``dgrad_sparse``: None = dgrad's weight is sparse-usable when the mask is transposable (else
    OPERAND_WEIGHT_T, for hardware that accepts the transposed pattern); True/False force it.
    ``passes`` overrides the mode's passes; ``kv`` the K/V head ratio (default: the graph config's).
    """
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r} (known: {', '.join(MODES)})", "--mode")
    ops = ops_rows(graph, ops)
    mops = ops.take(np.isin(ops["kind"], MATRIX_KINDS))
    kind = mops["kind"]
    role = mops["role"]
    f = lambda c: np.asarray(mops[c], dtype=float)  # noqa: E731
    B, M, K, N = np.maximum(f("gemm_b"), 1.0), f("gemm_m"), f("gemm_k"), f("gemm_n")
    is_mm = kind == "matmul"
    is_w = np.isin(kind, SPARSE_KINDS)
    kv = np.where(is_mm & np.isin(role, KV_ROLES), kv_ratio(graph) if kv is None else float(kv), 1.0)
    weight = np.where(is_w, f("weight_numel"), 0.0)
    bias = np.where(is_w & np.asarray(mops["has_bias"], dtype=bool), N, 0.0)
    a_el, b_el, c_el = B * M * K, B * K * N * kv, B * M * N
    # the T x T score matrix: logit writes it (C), attend reads it (A)
    score_fwd = np.where(is_mm & (role == "logit"), c_el, np.where(is_mm & (role == "attend"), a_el, 0.0))
    known: list = [None]
    codes = pattern_codes(patterns, mops.index if mops.index is not None else np.arange(len(mops)), known)
    rows = []
    for pass_ in (passes or passes_of(mode)):
        p = PASSES.index(pass_)
        nominal = f(NOMINAL_COLUMN[pass_])
        if pass_ == "fwd":
            shape = (B, M, K, N)
            act = np.where(is_mm, a_el + b_el + c_el, a_el + c_el)
            score = score_fwd
        elif pass_ == "dgrad":
            shape = (np.where(is_mm, 2.0 * B, B), M, N, K)
            act = np.where(is_mm, 2.0 * (a_el + b_el + c_el), c_el + a_el)
            score = 2.0 * score_fwd
        else:
            shape = (B, N, M, K)
            act = np.where(is_w, a_el + c_el, 0.0)
            score = np.zeros_like(act)
        keep = nominal > 0
        rows.append((p, pass_, keep, shape, nominal, act, score))
    frames, cols = [], {c: [] for c in ("b", "m", "k", "n", "nominal_flops", "act_elems", "score_elems",
                                        "weight_elems", "bias_elems", "op_pos", "pass_code")}
    pos = np.arange(len(mops))
    for p, pass_, keep, shape, nominal, act, score in rows:
        sel = mops[["id", "module", "role", "layer", "kind"]].take(keep)
        sel["pass"] = pass_
        frames.append(sel)
        for name, arr in zip(("b", "m", "k", "n"), shape):
            cols[name].append(np.broadcast_to(arr, keep.shape)[keep])
        cols["nominal_flops"].append(nominal[keep])
        cols["act_elems"].append(act[keep])
        cols["score_elems"].append(score[keep])
        cols["weight_elems"].append(weight[keep])
        cols["bias_elems"].append(bias[keep])
        cols["op_pos"].append(pos[keep])
        cols["pass_code"].append(np.full(int(keep.sum()), p, dtype=np.int8))
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}
    frame = Rows.concat(frames) if frames else _no_rows()
    # rows ordered by op, then pass
    order = np.lexsort((cat["pass_code"], cat["op_pos"]))
    frame = frame.take(order)
    cat = {k: v[order] for k, v in cat.items()}
    op_codes = codes[cat["op_pos"].astype(np.int64)]
    is_weight_row = cat["weight_elems"] > 0
    operand = sparse_operands(op_codes, known, cat["pass_code"], is_weight_row, dgrad_sparse)
    return GemmTable(frame=frame, b=cat["b"], m=cat["m"], k=cat["k"], n=cat["n"],
                     nominal_flops=cat["nominal_flops"], pattern=np.where(is_weight_row, op_codes, 0),
                     sparse_operand=operand, weight_elems=cat["weight_elems"], bias_elems=cat["bias_elems"],
                     act_elems=cat["act_elems"], score_elems=cat["score_elems"],
                     op_pos=cat["op_pos"].astype(np.int64), pass_codes=cat["pass_code"], patterns=tuple(known),
                     mode=mode, dgrad_sparse=dgrad_sparse)


def restack(table: GemmTable, op_codes: np.ndarray, patterns=None) -> GemmTable:
    """``table`` with per-op pattern codes ``op_codes`` (shape (..., n_ops), codes into ``patterns``, default
    ``table.patterns``) gathered onto its rows: pattern and sparse_operand gain the leading axes (``price_many``'s
    pattern stack)."""
    patterns = table.patterns if patterns is None else tuple(patterns)
    codes = op_codes[..., table.op_pos]
    is_w = table.weight_elems > 0
    codes = np.where(is_w, codes, 0)
    operand = sparse_operands(codes, patterns, table.pass_codes, is_w, table.dgrad_sparse)
    return table.replace(pattern=codes, sparse_operand=operand, patterns=patterns)


def vector_table(graph, mode: str, dtype_bytes: float, fusion, *, copies: bool = False,
                 ops: pd.DataFrame | None = None, dropout: bool = False) -> VectorTable:
    """Non-GEMM ops, fwd (and bwd in training) rows. The trace counts fp32 bytes: rescaled to ``dtype_bytes``.
    ``dropout`` (training): the dropout masks of :func:`dropout_rows` too; unfused attention without fused
    epilogues (eager): the scale and padding mask on the scores of :func:`score_rows` (in place of the trace's
    scale of q); unfused epilogues in training: the bias-gradient reductions of :func:`bias_grad_rows`.

    Embeddings read only the gathered rows. ``copy`` ops (clone/contiguous/KV append/GQA repeat) are eager-trace
    layout artefacts that fused kernels avoid; they are dropped unless ``copies``. Backward rows move twice the
    forward bytes (grad in + saved input, grad out) — an estimate. Fusion: attention softmax (and the scale op of
    the attention module) under ``fusion.attention``; element-wise ops fed by a GEMM under ``fusion.epilogue``
    (reading only their non-GEMM inputs)."""
    ops = ops_rows(graph, ops)
    vops = ops.take(~np.isin(ops["kind"], MATRIX_KINDS))
    if not copies:
        vops = vops.take(vops["kind"] != "copy")
    eager = not (fusion.attention or fusion.epilogue)
    scale_ids = logit_scale_ops(graph, ops) if eager else []
    vops = vops.take(~np.isin(np.asarray(vops["id"]), scale_ids))   # eager attention scales the scores, not q
    scale = dtype_bytes / 4.0
    kind = vops["kind"]
    is_emb = kind == "embedding"
    read = np.where(is_emb, np.asarray(vops["bytes_written"], float), np.asarray(vops["bytes_read"], float)) * scale
    written = np.asarray(vops["bytes_written"], float) * scale
    base = read + written
    att, epi, extra = _fusable(graph, ops, vops, scale)
    fused = np.zeros(len(vops), dtype=bool)
    if fusion.attention:
        fused |= att
    if fusion.epilogue:
        fused |= epi & ~att
    fused_bytes = np.where(att & fusion.attention, 0.0, extra)
    frames, fl, by, fu, fb = [], [], [], [], []
    for pass_, col, mult in (("fwd", "vector_flops", 1.0), ("bwd", "bwd_vector_flops", 2.0)):
        if pass_ == "bwd" and mode != "training":
            continue
        flops = np.asarray(vops[col], float)
        byts = base * mult
        keep = (flops > 0) | (byts > 0)
        if pass_ == "bwd":
            keep = (flops > 0) | (np.asarray(vops["x_grad"], bool) & (byts > 0))
        sel = vops[["id", "module", "role", "layer", "kind"]].take(keep)
        sel["pass"] = pass_
        frames.append(sel)
        fl.append(flops[keep])
        by.append(byts[keep])
        fu.append(fused[keep])
        fb.append((fused_bytes * mult)[keep])
    frame = Rows.concat(frames) if frames else _no_rows()
    cat = lambda xs, dt=float: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    fused_rows = cat(fu, bool)
    flops, byts, fused_bytes = cat(fl), cat(by), cat(fb)
    extra = []
    if eager:
        extra.append(score_rows(graph, ops, mode, dtype_bytes, scale_ids))
    if not fusion.epilogue and mode == "training":
        extra.append(bias_grad_rows(ops, dtype_bytes))
    if dropout and mode == "training":
        extra.append(dropout_rows(ops, dtype_bytes, fusion))
    for d in extra:
        frame = Rows.concat([frame, d.frame])
        flops, byts = np.concatenate([flops, d.flops]), np.concatenate([byts, d.bytes])
        fused_rows = np.concatenate([fused_rows, d.fused])
        fused_bytes = np.concatenate([fused_bytes, d.fused_bytes])
    frame["kernel_share"] = kernel_shares(frame, fused_rows)
    return VectorTable(frame, flops, byts, fused_rows, fused_bytes)


#: eager attention's score kernels per T x T element: (FLOPs, bytes per element as multiples of the dtype)
SCORE_KERNELS = {("scale", "fwd"): (1.0, 2.0), ("scale", "bwd"): (1.0, 2.0), ("mask", "fwd"): (1.0, 2.0)}


def logit_scale_ops(graph, ops) -> list:
    """Ids of the traced ``q * scale`` ops: an element-wise op of one input (it reads what it writes) in an
    attention module that feeds its logit matmul, directly or through the matmul's own layout copies."""
    g = graph.producers() if hasattr(graph, "producers") else None
    if g is None or not len(ops):
        return []
    ids = np.asarray(ops["id"]).tolist()
    at = {i: n for n, i in enumerate(ids)}
    module = [str(m) for m in ops["module"]]
    kind, read, written = ops["kind"], np.asarray(ops["bytes_read"], float), np.asarray(ops["bytes_written"], float)
    out = []
    for n in np.flatnonzero((kind == "matmul") & (ops["role"] == "logit")):
        parent = module[n].rsplit(".", 1)[0]
        todo, seen = list(g.get(ids[n], ())), set()
        while todo:
            p = todo.pop()
            if p in seen or p not in at:
                continue
            seen.add(p)
            j = at[p]
            if kind[j] == "copy" and module[j] == module[n]:
                todo.extend(g.get(p, ()))
            elif kind[j] == "elementwise" and module[j] == parent and read[j] == written[j]:
                out.append(p)
    return out


def score_rows(graph, ops, mode: str, dtype_bytes: float, scale_ids) -> VectorTable:
    """The kernels eager attention (no FlashAttention, no fused epilogues) runs on its T x T scores besides
    softmax: the ``1/sqrt(d_head)`` scale where the model scales its logits (forward divide, backward divide of the
    gradient; the trace scales q instead, FlashAttention-style: ``scale_ids``, :func:`logit_scale_ops`), and on a
    text encoder's scores the additive padding mask (BERT's ``attention_scores + attention_mask``, Devlin et al.
    2019; its gradient passes through without a kernel). Causal models' masks are traced (``masked_fill``). Each
    kernel reads and writes every score. A fused stack folds both into the GEMM's alpha and the softmax kernel
    (Megatron-LM's FusedScaleMaskSoftmax)."""
    ops = as_rows(ops)
    cfg = getattr(graph, "config", None)
    logits = ops.take((ops["kind"] == "matmul") & (ops["role"] == "logit"))
    parent = np.array([str(m).rsplit(".", 1)[0] for m in logits["module"]], dtype=object)   # attention modules
    scaled_modules = {str(m) for m in ops["module"][np.isin(np.asarray(ops["id"]), scale_ids)]}
    scaled = np.isin(parent, list(scaled_modules))
    padded = np.full(len(logits), cfg is not None and not (cfg.causal or cfg.is_image or cfg.is_enc_dec))
    frames, fl, by = [], [], []
    for (what, pass_), (flops, mult) in SCORE_KERNELS.items():
        if pass_ == "bwd" and mode != "training":
            continue
        keep = scaled if what == "scale" else padded
        sites = logits.take(keep)
        elems = np.array([math.prod(tuple(s)) for s in sites["out_shape"]], dtype=float)
        sel = sites[["id", "module", "role", "layer"]].copy()
        sel["module"] = np.array([f"{m}.{what}" for m in parent[keep]], dtype=object)
        sel["role"], sel["kind"], sel["pass"] = "logit", "elementwise", pass_
        frames.append(sel)
        fl.append(elems * flops)
        by.append(elems * mult * dtype_bytes)
    n = sum(len(f) for f in frames)
    return VectorTable(Rows.concat(frames) if frames else _no_rows(), np.concatenate(fl) if fl else np.zeros(0),
                       np.concatenate(by) if by else np.zeros(0), np.zeros(n, bool), np.zeros(n))


def bias_grad_rows(ops, dtype_bytes: float) -> VectorTable:
    """Backward of each trainable bias without fused epilogues: eager autograd reduces the output gradient over
    its rows (``grad.sum(0)`` of addmm's backward) in a kernel of its own that reads all of ``dY`` and writes the
    bias gradient (a vector, left out); a fused epilogue (cuBLASLt's BGRAD) does it inside the wgrad GEMM. Its
    FLOPs are already the wgrad rows' epilogue FLOPs, so these rows carry bytes only."""
    ops = as_rows(ops)
    sites = ops.take(np.isin(ops["kind"], SPARSE_KINDS) & np.asarray(ops["has_bias"], bool)
                     & np.asarray(ops["w_grad"], bool))
    elems = np.array([math.prod(tuple(s)) for s in sites["out_shape"]], dtype=float)
    frame = sites[["id", "module", "role", "layer"]].copy()
    frame["module"] = np.array([f"{m}.bias_grad" for m in frame["module"]], dtype=object)
    frame["kind"], frame["pass"] = "reduction", "bwd"
    n = len(frame)
    return VectorTable(frame, np.zeros(n), elems * dtype_bytes, np.zeros(n, bool), np.zeros(n))


#: dropout sites: each residual branch's output (after these GEMMs) and the attention probabilities (softmax)
DROPOUT_BRANCH_ROLES = ("o", "ff2")
#: per element: forward reads x, writes y and a 1-byte mask; backward reads dy and the mask, writes dx
DROPOUT_MASK_BYTES = 1.0
DROPOUT_FLOPS = {"fwd": 2.0, "bwd": 1.0}   # compare + scale; multiply by the scaled mask


def dropout_rows(ops: pd.DataFrame, dtype_bytes: float, fusion) -> VectorTable:
    """The dropout kernels of a training step (Vaswani et al. 2017, sec. 5.4; BERT's hidden_dropout_prob and
    attention_probs_dropout_prob, Devlin et al. 2019): one per residual branch (after the attention output
    projection and the second feed-forward GEMM), one on the embeddings' output and one on the attention
    probabilities, forward and backward. Unfused, each moves ``2 x dtype + 1`` bytes per element (PyTorch's
    native_dropout keeps a 1-byte bool mask); a fused GEMM epilogue moves only the mask, and FlashAttention draws
    its dropout inside the kernel (no bytes)."""
    ops = as_rows(ops)
    role, kind, layer, ids = ops["role"], ops["kind"], np.asarray(ops["layer"]), np.asarray(ops["id"])
    branch = np.isin(role, DROPOUT_BRANCH_ROLES) & np.isin(kind, SPARSE_KINDS)
    probs = kind == "softmax"
    first_block = ids[layer >= 0]
    pre = np.flatnonzero((layer < 0) & ~np.isin(kind, MATRIX_KINDS)
                         & (ids < (first_block.min() if len(first_block) else np.inf)))
    sites = ops.take(np.r_[np.flatnonzero(branch | probs), pre[-1:]])
    elems = np.array([math.prod(tuple(s)) for s in sites["out_shape"]], dtype=float)   # main output only
    is_probs = sites["kind"] == "softmax"
    is_branch = np.isin(sites["role"], DROPOUT_BRANCH_ROLES)
    fused = (is_probs & bool(fusion.attention)) | (is_branch & bool(fusion.epilogue))
    unfused_bytes = elems * (2.0 * dtype_bytes + DROPOUT_MASK_BYTES)
    fused_bytes = np.where(is_probs, 0.0, elems * DROPOUT_MASK_BYTES)
    frames, fl, by, fu, fb = [], [], [], [], []
    for pass_ in ("fwd", "bwd"):
        sel = sites[["id", "module", "role", "layer"]].copy()
        sel["module"] = np.array([f"{m}.dropout" for m in sel["module"]], dtype=object)
        sel["kind"], sel["pass"] = "dropout", pass_
        frames.append(sel)
        fl.append(elems * DROPOUT_FLOPS[pass_])
        by.append(unfused_bytes)
        fu.append(fused)
        fb.append(fused_bytes)
    return VectorTable(Rows.concat(frames), np.concatenate(fl), np.concatenate(by),
                       np.concatenate(fu), np.concatenate(fb))


def _no_rows() -> Rows:
    return Rows({c: np.zeros(0, dtype=object) for c in ("id", "module", "role", "layer", "kind", "pass")})


def kernel_shares(frame, fused: np.ndarray) -> np.ndarray:
    """Each unfused op (module, layer and pass) runs as one kernel: 1 / (its unfused rows) on each of them, 0 on fused
    rows, so the shares of any set of rows sum to the kernels they make up (also after rows are deduplicated)."""
    alone = ~np.asarray(fused, dtype=bool)
    if not len(frame):
        return np.zeros(0)
    keys = [f"{m}|{lay}|{p}" for m, lay, p in zip(frame["module"].tolist(), np.asarray(frame["layer"]).tolist(),
                                                  frame["pass"].tolist())]
    _, inverse = np.unique(np.array(keys, dtype=object), return_inverse=True)
    count = np.bincount(inverse.reshape(-1), weights=alone.astype(float))[inverse.reshape(-1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(alone, 1.0 / count, 0.0)


def _fusable(graph, ops, vops, scale) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(attention-internal, GEMM-epilogue, bytes a fused epilogue still moves) per vector op."""
    kind = vops["kind"]
    role = vops["role"]
    module = np.array([str(m) for m in vops["module"]], dtype=object)
    okind, orole, oids = ops["kind"], ops["role"], np.asarray(ops["id"])
    mm_modules = {str(m) for m in ops["module"][(okind == "matmul") & np.isin(orole, KV_ROLES)]}
    attn_parents = {m.rsplit(".", 1)[0] for m in mm_modules}
    att = np.isin(role, ATTENTION_VECTOR_ROLES) | ((kind == "elementwise") & np.isin(module, list(attn_parents))
                                                   & (role == "other"))
    epi = np.zeros(len(vops), dtype=bool)
    extra = np.zeros(len(vops))
    g = graph.producers() if hasattr(graph, "producers") else getattr(graph, "graph", None)
    matrix_ids = set(oids[np.isin(okind, MATRIX_KINDS)].tolist())
    out_bytes = dict(zip(oids.tolist(), np.asarray(ops["bytes_written"], float).tolist()))
    if g is not None:
        ids = np.asarray(vops["id"]).tolist()
        read = np.asarray(vops["bytes_read"], float)
        for i, (op_id, k) in enumerate(zip(ids, kind.tolist())):
            if k != "elementwise" or op_id not in g:
                continue
            producers = [p for p in (g[op_id] if isinstance(g, dict) else g.predecessors(op_id)) if p in matrix_ids]
            if producers:
                epi[i] = True
                from_gemm = float(sum(out_bytes.get(p, 0.0) for p in producers))
                extra[i] = max(read[i] - from_gemm, 0.0) * scale
    return att, epi, extra
