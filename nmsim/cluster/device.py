"""The one adapter between clusters and nmsim's single-device pricing.

Everything the cluster model knows about one device comes from here: per-layer, per-pass device seconds
(fwd, dgrad, wgrad; plus the attention core's forward for selective recompute) for one micro-batch of one
tensor-parallel shard in one recipe phase, the weight bytes each phase moves and stores, and the recipe's
per-weight vector work. Pricing itself is :func:`nmsim.cost.pricing.price`; plans and recipe states are
resolved by :class:`nmsim.cost.training.TrainingCostModel`. Following changes to single-device pricing
(execution models, shape-generic graphs) is an edit of this file only.

How a shard is priced: one transformer block and the ops outside the blocks are traced once (batch 1, the
run's sequence: the model's first four layers when their structure has a shipped template,
:mod:`nmsim.graph.templates`, so a first call needs no torch, else a 1-layer model); a shard's op table is layer
0 of that graph at the micro-batch (the same graph traced at that batch, shape-generic: the sizes ``nmsim price``
prices at that batch, reads that do not grow with it included) with its shapes split — Megatron column-parallel
GEMMs (q, k, v, ff1, ff_gate, the vocab head) split their output dimension by the TP degree, row-parallel ones (o,
ff2) their reduction dimension, attention matmuls their heads; vector ops inside attention/MLP split by TP, norms and
residuals only with sequence parallelism. Every layer of the model is a copy of the traced block, so a plan with
per-layer rules (``ff@0-5=1:8``) gives layers with different patterns; each distinct set of patterns is priced
once. The traced graph (and the one a layer deeper, which gives the per-layer parameter count) are shape-generic
graphs of the trace cache when the cache mode builds, as the CLI's does: a later process loads them and imports
no torch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nmsim.cost.step import CORE_ROLES
from nmsim.errors import UserError
from nmsim.graph.replicate import PROBE

COLUMN_ROLES = ("q", "k", "v", "qkv", "ff1", "ff_gate", "head")
ROW_ROLES = ("o", "ff2")
MATRIX = ("linear", "matmul", "conv")
_SCALED = ("gemm_m", "gemm_b", "gemm_n", "gemm_k", "weight_numel", "fwd_flops", "dgrad_flops", "wgrad_flops",
           "bytes_read", "bytes_written", "out_numel", "in_numel", "vector_flops", "bwd_vector_flops")
_TP_REGION = r"\.(?:attn|ff|cross_attn)(?:\.|$)"
_BLOCK0 = re.compile(r"^(.*?blocks\.)0(\.|$)")


def _price_options(hw, flash: bool) -> dict:
    """Keyword arguments for :func:`nmsim.cost.pricing.price` that this checkout's pricing accepts."""
    import inspect
    from nmsim.cost.pricing import price
    if "fusion" not in inspect.signature(price).parameters:
        return {}
    from nmsim.execution import Fusion, default_fusion
    return {"fusion": Fusion(attention=bool(flash), epilogue=default_fusion(hw).epilogue)}


class _Graph:
    """The attributes pricing reads from an OpGraph: ops, config, each op's producers (data edges) and
    ``params``, the model's total parameters, counted here from its layers (pricing then counts none)."""

    def __init__(self, ops: pd.DataFrame, config, producers: dict | None = None, params: float | None = None):
        self.ops, self.config, self._producers, self.params = ops, config, producers, params

    def producers(self) -> dict | None:
        return self._producers


@dataclass(frozen=True)
class ShardTimes:
    """Seconds for one micro-batch on one device (one TP shard). Per-layer arrays have one entry per layer."""
    fwd: np.ndarray
    dgrad: np.ndarray            # dgrad GEMMs + backward vector ops
    wgrad: np.ndarray
    core_fwd: np.ndarray         # attention core (logit, softmax, attend): what selective recompute redoes
    core_bwd: np.ndarray         # the attention core's backward
    vector_fwd: np.ndarray       # vector ops outside the attention core (norms, activations, residuals)
    vector_bwd: np.ndarray
    pre_fwd: float               # embedding (first stage)
    pre_bwd: float
    post_fwd: float              # final norm, head, loss (last stage)
    post_bwd: float
    joules: float                # device energy of one micro-batch, all layers on one device
    executed_flops: float        # executed matrix FLOPs, all layers, fwd+dgrad+wgrad
    nominal_flops: float


def check_model(cfg) -> None:
    if cfg.is_enc_dec:
        raise UserError(f"{cfg.name} is an encoder-decoder; cluster layouts cover single-stack transformers",
                        "workload")
    if cfg.is_moe:
        raise UserError(f"{cfg.name} is a mixture of experts; cluster layouts have no expert parallelism (price, "
                        "compare and budget price MoE on one device)", "workload")


def _layers(cfg, n: int):
    """``cfg`` cut to its first ``n`` layers (the name says so in progress lines; it keys no cache)."""
    return cfg.replace(layers=n, name=f"{cfg.name} ({n} layer{'s' if n > 1 else ''})")


def _probe_depth(cfg) -> int:
    """Layers of the graph the block is taken from: PROBE when that model's structure has a shipped template (a
    first call builds the graph without torch; a model of fewer layers too: its block is the same), else 1 (the
    cheapest trace)."""
    from nmsim.graph.templates import available
    return PROBE if not cfg.is_image and available(_layers(cfg, PROBE), "forward", {"batch": 1}) else 1


def _total_params(cfg) -> float:
    """All parameters of ``cfg``. When the cache mode builds (the CLI), the model's batch-1 shape-generic graph
    is fitted and stored once, so a later process counts them from the trace cache without torch."""
    from nmsim.graph import parameter_counts
    from nmsim.graph.cache import cache_mode
    from nmsim.graph.shapes import ShapeFitError, kind_for, shape_graph
    if cache_mode() == "build":
        try:
            shape_graph(cfg, kind_for(cfg), {"batch": 1})
        except ShapeFitError:
            pass   # counted from the model itself below
    return float(parameter_counts(cfg)["total"])


class DeviceModel:
    """Device-side costs of one model at one sequence length on one accelerator, under a plan."""

    def __init__(self, cfg, seq: int, hw, dtype: str = "bf16", plan=None, transposable=None,
                 fused_attention: bool = False):
        from nmsim.cost.pricing import hardware_spec
        from nmsim.cost.training import TrainingCostModel
        from nmsim.sparsity.plan import SparsityPlan
        check_model(cfg)
        self.cfg, self.seq, self.dtype, self.transposable = cfg, int(seq), dtype, transposable
        self.hw = hardware_spec(hw)
        self.hw.dense_tflops(dtype)
        self.layers = int(cfg.layers)
        self.probe_layers = _probe_depth(cfg)
        self.fused_attention = bool(fused_attention)
        self._price_kw = _price_options(self.hw, self.fused_attention)
        self._batches: dict = {}
        self.graph, self.pre, self.block, self.post = self._at_batch(1)
        self.full = self._replicate()
        if isinstance(plan, str):
            plan = SparsityPlan.parse(plan)
        self.plan = plan if plan is not None else SparsityPlan.parse("dense")
        self._params()
        self.cost = TrainingCostModel(_Graph(self.full, cfg, params=self.params), self.plan, dtype=dtype,
                                      transposable=transposable)
        self._times: dict = {}
        self._masks: dict = {}
        self._sigs: dict = {}

    def _at_batch(self, mb: int) -> tuple:
        """(graph, pre, block, post) of the probe graph traced at ``mb`` sequences: the ops ``nmsim price``
        prices at that batch (reads that do not grow with it, copies a trace makes only at batch > 1), so a
        micro-batch's shard is priced as one device's step of that batch is."""
        hit = self._batches.get(mb)
        if hit is not None:
            return hit
        from nmsim.graph import trace_workload
        graph = trace_workload(_layers(self.cfg, self.probe_layers), batch=mb,
                               seq=None if self.cfg.is_image else self.seq)
        ops = graph.ops.reset_index(drop=True)
        block = ops[ops["layer"] == 0]
        if self.fused_attention and "fusion" not in self._price_kw:
            # pricing without a fusion switch: FlashAttention-style, drop the vector ops between logit and attend
            roles = block["role"].to_numpy()
            lo, hi = np.flatnonzero(roles == "logit"), np.flatnonzero(roles == "attend")
            if len(lo) and len(hi):
                pos = np.arange(len(block))
                block = block[~((pos > lo[0]) & (pos < hi[-1]) & ~block["kind"].isin(MATRIX).to_numpy())]
        first = int(block.index.min())
        hit = self._batches[mb] = (graph, ops[(ops["layer"] < 0) & (ops.index < first)], block,
                                   ops[(ops["layer"] < 0) & (ops.index > first)])
        return hit

    # ---- the model's op table, every layer a copy of the traced block ------------------------------------
    def _replicate(self) -> pd.DataFrame:
        frames = [self.pre]
        names = {}   # column -> (name, its "blocks.0" match) per op of the block
        for col in ("module", "weight"):
            texts = self.block[col].astype(str).tolist()
            names[col] = [(t, _BLOCK0.match(t)) for t in texts]
        for i in range(self.layers):
            b = self.block.copy()
            b["layer"] = i
            for col, pairs in names.items():   # blocks.0.x -> blocks.<i>.x
                b[col] = [f"{m.group(1)}{i}{m.group(2)}{t[m.end():]}" if m else t for t, m in pairs]
            frames.append(b)
        frames.append(self.post)
        full = pd.concat(frames, ignore_index=True)
        full["id"] = np.arange(len(full))
        return full

    def _params(self) -> None:
        n = self.probe_layers
        p1, p2 = _total_params(_layers(self.cfg, n)), _total_params(_layers(self.cfg, n + 1))
        self.layer_params = p2 - p1
        outside = p1 - n * self.layer_params
        head = self.post[self.post["role"] == "head"]
        tied = bool(getattr(self.cfg, "tie_embeddings", False))
        self.post_params = 0.0 if tied else float(head["weight_numel"].sum())
        self.pre_params = outside - self.post_params
        self.params = outside + self.layer_params * self.layers

    # ---- recipe states -> per-op patterns ---------------------------------------------------------------
    def signatures(self, state) -> tuple[np.ndarray, list, list]:
        """(signature id per layer, block patterns per signature, outside patterns) for ``state`` (None = dense)."""
        key = None if state is None else state.pricing_key()
        hit = self._sigs.get(key)
        if hit is not None:
            return hit
        mat = self.cost.matrix
        pats = [None] * len(mat) if state is None else self.cost._per_op(state.cost_patterns)[0]
        per_op = pd.Series(pats, index=mat.index, dtype=object)
        layer = self.full.loc[mat.index, "layer"].to_numpy()
        outside = [per_op.get(i) for i in mat.index[layer < 0]]
        sig_of, blocks, ids = {}, [], np.zeros(self.layers, dtype=int)
        for i in range(self.layers):
            p = tuple(per_op[mat.index[layer == i]])
            key_i = tuple(str(x) for x in p)
            if key_i not in sig_of:
                sig_of[key_i] = len(blocks)
                blocks.append(list(p))
            ids[i] = sig_of[key_i]
        out = (ids, blocks, outside)
        self._sigs[key] = out
        return out

    def check_state(self, state, recipe_name: str) -> None:
        self.cost.check_reachable(state, recipe_name)

    # ---- shard shapes --------------------------------------------------------------------------------------
    def _scale(self, ops: pd.DataFrame, tp: int, sp: bool, vocab_parallel) -> dict[str, np.ndarray]:
        """The size columns (``_SCALED``) of ``ops`` (a part of the probe graph at the micro-batch,
        :meth:`_at_batch`) split by TP (``vocab_parallel``: a bool, or one per op, for ops split by vocabulary)."""
        key = id(ops)
        masks = self._masks.get(key)
        if masks is None or masks[0] is not ops:
            kind, role = ops["kind"].to_numpy(), ops["role"].to_numpy()
            lin = kind == "linear"
            col, row, mm = lin & np.isin(role, COLUMN_ROLES), lin & np.isin(role, ROW_ROLES), kind == "matmul"
            region = ops["module"].astype(str).str.contains(_TP_REGION, regex=True).to_numpy() | np.isin(role,
                                                                                                        CORE_ROLES)
            cols = {c: ops[c].to_numpy() for c in _SCALED}
            masks = self._masks[key] = (ops, lin, col, row, mm, np.isin(kind, MATRIX), region, cols)
        _, lin, col, row, mm, matrix, region, c = masks
        split = np.where(col | row | mm, tp, 1)
        vec_div = np.where(region | vocab_parallel | sp, tp, 1)
        new = {
            "gemm_m": c["gemm_m"],
            "gemm_b": np.where(mm, c["gemm_b"] // tp, c["gemm_b"]),
            "gemm_n": np.where(col, c["gemm_n"] // tp, c["gemm_n"]),
            "gemm_k": np.where(row, c["gemm_k"] // tp, c["gemm_k"]),
            "weight_numel": np.where(col | row, c["weight_numel"] / tp, c["weight_numel"]),
        }
        for k in ("fwd_flops", "dgrad_flops", "wgrad_flops"):
            new[k] = c[k] / split
        for k in ("bytes_read", "bytes_written", "out_numel", "in_numel"):
            new[k] = np.where(matrix, c[k] / split, c[k] / vec_div)
        for k in ("vector_flops", "bwd_vector_flops"):
            new[k] = np.where(matrix, c[k], c[k] / vec_div)
        return new

    def times(self, tp: int, mb: int, sp: bool, state=None) -> ShardTimes:
        """Per-micro-batch seconds of one TP shard (cached per (tp, mb, sp, state pricing key))."""
        key = self._key(tp, mb, sp, state)
        if key not in self._times:
            self.prefetch([(tp, mb, sp)], state)
        return self._times[key]

    @staticmethod
    def _key(tp, mb, sp, state) -> tuple:
        return int(tp), int(mb), bool(sp and tp > 1), None if state is None else state.pricing_key()

    def prefetch(self, shards, state=None) -> None:
        """Price every ``(tp, mb, sp)`` shard in ``shards`` not cached yet, all in one pricing call."""
        from nmsim.cost.pricing import price
        todo = list(dict.fromkeys(self._key(t, b, s, state) for t, b, s in shards))
        todo = [k for k in todo if k not in self._times]
        if not todo:
            return
        ids, blocks, outside = self.signatures(state)
        S = len(blocks)
        G = S + 2  # groups per shard: pre, one per layer signature, post
        n_pre_mat = int(self.pre["kind"].isin(MATRIX).sum())
        pre_pats, post_pats = outside[:n_pre_mat], outside[n_pre_mat:]
        parts, pats = [], []   # (ops, their shard's size columns, group code, graph) for every priced part
        for c, (tp, mb, sp, _) in enumerate(todo):
            graph, pre, block, post = self._at_batch(mb)
            head_at = post.index[post["role"] == "head"]
            after_head = post.index > (head_at.min() if len(head_at) else np.inf)   # vocab-parallel after it
            blk = self._scale(block, tp, sp, False)
            shard = [(pre, self._scale(pre, tp, sp, False), 0, pre_pats)]
            shard += [(block, blk, 1 + j, blocks[j]) for j in range(S)]
            shard += [(post, self._scale(post, tp, sp, after_head), G - 1, post_pats)]
            for ops, sizes, j, mat_pats in shard:
                parts.append((ops, sizes, c * G + j, graph))
                it = iter(mat_pats)
                pats += [next(it) if m else None for m in self._masks[id(ops)][5]]
        mini = pd.concat([ops for ops, *_ in parts], ignore_index=True)
        for col in _SCALED:
            mini[col] = np.concatenate([sizes[col] for _, sizes, *_ in parts])
        mini["layer"] = np.concatenate([np.full(len(ops), code, dtype=np.int64) for ops, _, code, _ in parts])
        producers = self._producers(parts)
        mini["id"] = np.arange(len(mini))
        patterns = pd.Series(pats, index=mini.index, dtype=object)
        df = price(_Graph(mini, self.cfg, producers, self.params), patterns, self.hw, self.dtype, "training",
                   dgrad_sparse=self.transposable, **self._price_kw).ops
        step = ~df["pass"].isin(("fwd", "dgrad", "wgrad", "bwd")).to_numpy()  # step-level rows (optimizer)
        if step.any():
            opt = df.loc[step & (df["role"] == "optimizer").to_numpy(), "seconds"].sum()
            self._optimizer_per_param = float(opt) / self.params
        df = df[~step]
        code = df["layer"].to_numpy().astype(int)
        pas = df["pass"].to_numpy()
        core = np.isin(df["role"].to_numpy(), CORE_ROLES)
        n = len(todo) * G

        def total(values, mask=None):
            w = values if mask is None else np.where(mask, values, 0.0)
            return np.bincount(code, weights=np.nan_to_num(w), minlength=n).reshape(len(todo), G)

        sec = df["seconds"].to_numpy(float)
        fwd, bwd = total(sec, pas == "fwd"), total(sec, pas != "fwd")
        dg, wg = total(sec, (pas == "dgrad") | (pas == "bwd")), total(sec, pas == "wgrad")
        cf, cb = total(sec, (pas == "fwd") & core), total(sec, (pas != "fwd") & core)
        vec = ~core & ~df["kind"].isin(MATRIX).to_numpy()
        vf, vb = total(sec, (pas == "fwd") & vec), total(sec, (pas != "fwd") & vec)
        joules = total(df["energy_joules"].to_numpy(float))
        ex, nom = total(df["executed_flops"].to_numpy(float)), total(df["nominal_flops"].to_numpy(float))
        counts = np.concatenate([[1.0], np.bincount(ids, minlength=S).astype(float), [1.0]])
        for c, key in enumerate(todo):
            body = slice(1, G - 1)
            self._times[key] = ShardTimes(
                fwd=fwd[c, body][ids], dgrad=dg[c, body][ids], wgrad=wg[c, body][ids], core_fwd=cf[c, body][ids],
                core_bwd=cb[c, body][ids], vector_fwd=vf[c, body][ids], vector_bwd=vb[c, body][ids],
                pre_fwd=float(fwd[c, 0]), pre_bwd=float(bwd[c, 0]), post_fwd=float(fwd[c, -1]),
                post_bwd=float(bwd[c, -1]), joules=float(joules[c] @ counts),
                executed_flops=float(ex[c] @ counts), nominal_flops=float(nom[c] @ counts))

    @staticmethod
    def _producers(parts) -> dict[int, list[int]]:
        """Each op's producers (its graph's data edges) inside its priced part, on the renumbered ids of the
        parts laid end to end (pricing reads them to fuse GEMM epilogues)."""
        out: dict[int, list[int]] = {}
        start = 0
        for ops, _, _, graph in parts:
            src = graph.producers()
            where = {int(o): start + i for i, o in enumerate(ops["id"].to_numpy())}
            for v, new in where.items():
                out[new] = [where[u] for u in src.get(v, ()) if u in where]
            start += len(ops)
        return out

    # ---- bytes ----------------------------------------------------------------------------------------------
    def weight_bytes(self, state=None) -> tuple[np.ndarray, float, float]:
        """(per-layer bytes, pre bytes, post bytes) of the weights the forward reads in ``state``, unsharded.

        Sparse-executed GEMM weights are stored as the executing hardware pattern's values + metadata (NVIDIA
        2:4 bf16: 9/16 of dense); a pattern the device cannot run sparse is still moved and stored compressed
        in its own N:M format (values N/M + an index per kept value) and expanded before a dense GEMM. Either
        way a weight moves in whichever form is smaller (7:8 with its index is larger than dense). While
        the state's cost pattern is None (dense warm-up, MDGF while D > 0) everything is dense.
        """
        from nmsim.cost.gemm import pattern_info
        from nmsim.sparsity.metadata import compressed_bytes, dtype_bytes
        size = dtype_bytes(self.dtype)
        ids, blocks, outside = self.signatures(state)
        mat = self.cost.matrix

        def op_bytes(rows: pd.DataFrame, pats) -> float:
            total = 0.0
            for (_, r), p in zip(rows.iterrows(), pats):
                if r["kind"] not in ("linear", "conv") or float(r["weight_numel"]) == 0:
                    continue
                n, k = float(r["gemm_n"]), float(r["gemm_k"])
                if p is None or p.is_dense:
                    total += n * k * size
                    continue
                info = pattern_info(self.hw, self.dtype, p)
                if info.sparse:
                    groups = n * np.ceil(k / info.group_m)
                    total += min(n * k * size, groups * info.group_n * size + groups * info.meta_bits / 8)
                else:  # software N:M format, only when it is smaller than dense (7:8 is not)
                    total += min(n * k * size, compressed_bytes(int(n), int(k), p, self.dtype,
                                                                self.hw.metadata_encoding or "index")["total_bytes"])
            return total

        block_mat = self.block[self.block["kind"].isin(("linear", "matmul", "conv"))]
        dense_block = float(block_mat.loc[block_mat["kind"].isin(("linear", "conv")), "weight_numel"].sum())
        other_block = (self.layer_params - dense_block) * size  # norms, biases
        per_sig = np.array([op_bytes(block_mat, bp) + other_block for bp in blocks])
        layer = self.full.loc[mat.index, "layer"].to_numpy()
        out_rows = mat[layer < 0]
        pre_n = out_rows.index < self.full.index[self.full["layer"] >= 0].min()
        pre_pats = [p for p, f in zip(outside, pre_n) if f]
        post_pats = [p for p, f in zip(outside, pre_n) if not f]
        pre_lin = op_bytes(out_rows[pre_n], pre_pats)
        post_lin = op_bytes(out_rows[~pre_n], post_pats) if self.post_params else 0.0
        pre = (self.pre_params - float(out_rows[pre_n]["weight_numel"].sum())) * size + pre_lin  # tables + GEMMs
        return per_sig[ids], float(pre), float(post_lin)

    def masked_weights(self, state) -> float:
        """Weights carrying a mask in ``state`` (whole model)."""
        pats, _ = self.cost._per_op(state.masks) if state is not None else ([], None)
        w = self.cost.matrix["weight_numel"].to_numpy(float)
        return float(sum(wi for wi, p in zip(w, pats) if p is not None))

    def recipe_vector_seconds(self, state, weights_fraction: float) -> float:
        """Seconds of the recipe's per-weight vector work (mask top-N, SR-STE decay, MDGF blend) for the
        ``weights_fraction`` of the model a device updates, at the device's fp32 vector peak."""
        if state is None:
            return 0.0
        c = self.cost.state_cost(state)
        flops = c["mask_flops"] + c["srste_flops"] + c["blend_flops"]
        return flops * weights_fraction / (self.hw.vector_tflops("fp32") * 1e12)

    def optimizer_seconds(self, params: float) -> float:
        """AdamW on ``params`` fp32 master weights. With pricing that prices the optimizer step itself, its
        seconds per parameter; else the larger of its vector FLOPs at the fp32 vector peak and its traffic (read
        grad, master, m, v; write master, m, v and the low-precision copy) at memory bandwidth."""
        if getattr(self, "_optimizer_per_param", None) is not None:
            return self._optimizer_per_param * params
        from nmsim.cost import vector_terms as VT
        from nmsim.sparsity.metadata import dtype_bytes
        flops = VT.optimizer_flops_per_param("adamw") * params
        traffic = params * (4 * 3 * 2 + 4 + dtype_bytes(self.dtype))
        from nmsim.cluster.losses import stream_share
        return max(flops / (self.hw.vector_tflops("fp32") * 1e12),
                   traffic / (self.hw.main_memory.bandwidth_gbps * 1e9 * stream_share(self.hw)))
