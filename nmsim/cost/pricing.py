"""Pricing a whole traced graph per mode (inference, prefill, decode, training), and many configs at once.

* ``inference``: one forward pass of the traced input (encoders, or any model at its traced length).
* ``prefill``: the forward pass over a prompt of a decoder-only model (trace with ``seq`` = prompt length).
* ``decode``: one new token per sequence over a KV cache (trace with ``seq=1, past=L``); weight GEMMs have
  M = batch, so a padded sparse tile (NVIDIA 2:4: 32 rows) can make sparsity slower than dense.
* ``training``: forward + dgrad + wgrad of every matrix op, vector ops forward and backward, and one optimizer
  step (AdamW by default) over the parameters, plus any recipe terms (mask recompute, SR-STE decay, MDGF blend)
  a caller passes as ``extras``.

The one pricing path: :func:`price_step` builds the per-pass GEMM table (``nmsim.execution.table``), hands it
to the execution model the spec selects (``nmsim.execution``: roofline, gpu kernels, systolic, ...) and prices
the vector ops through the same model; :func:`nmsim.cost.step.assemble` makes the step's totals, for
:func:`price_many` (stacked patterns) and the shape sweep (stacked shapes) too. ``price``, ``price_gemms``,
``compare``, ``nmsim budget``'s training steps, ``nmsim report`` and the trainer's FLOP hook all use them, so the
same question gets the same number.

Vector ops (elementwise, norms, softmax, reductions, embeddings, copies) run on the vector peak
(``hw.vector_tflops(dtype)``) against main memory; their bytes are the trace's (fp32) rescaled to ``dtype``.
Backward vector rows read/write twice the forward bytes (grad in + saved input, grad out) — an estimate.
Fusion (``--fusion``/``fusion=``; default: what the spec's stack does): FlashAttention-style attention moves no
T×T scores and its softmax/scale ops no bytes; fused epilogues (bias, activation, residual) read only their
non-GEMM inputs. Bias adds of matrix ops are always fused: their vector FLOPs are counted, not timed.
An embedding reads only the gathered rows (the trace books the whole table). ``copy`` ops (cat, clone,
contiguous, the eager KV-cache append and the GQA head repeat) are layout artefacts of the eager trace that
fused kernels avoid (in-place KV cache, FlashAttention reading kv heads): ``fuse_copies=True`` (default)
prices them at 0 and leaves them out; ``False`` prices the trace's bytes.
Op seconds add up (no overlap between ops).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from nmsim.columns import BY_COLUMNS, OUTPUT_COLUMNS  # noqa: F401 (callers read them here)
from nmsim.cost import vector_terms as VT
from nmsim.cost.step import (TOTAL_COLUMNS, assemble, recompute_weights, representative_rows, row_sum,  # noqa: F401
                             runs_of, step_kernel, vector_sums, weighted_sum)
from nmsim.errors import UserError
from nmsim.execution import OPERAND_WEIGHT, OPERAND_WEIGHT_T, ExecContext, VectorTable, model_for
from nmsim.execution.base import BOUNDS
from nmsim.execution.settings import (check_settings, context, default_dtype,  # noqa: F401 (callers read them here)
                                      forward_step)
from nmsim.execution.table import MATRIX_KINDS, MODES, check_mode, gemm_table, restack, vector_table  # noqa: F401
from nmsim.frame import Rows, as_rows, group_sum, ops_rows
from nmsim.hardware.cached import hardware_spec  # noqa: F401 (callers read it here)
from nmsim.sparsity.metadata import dtype_bytes
from nmsim.sparsity.plan import SparsityPlan, resolve_plan  # noqa: F401

if TYPE_CHECKING:
    import pandas as pd



@dataclass
class Pricing:
    """``rows``: one row per (op, pass), matrix rows from :func:`price_gemms` plus vector rows
    (:class:`nmsim.frame.Rows`; ``ops`` is the same as a DataFrame); ``totals``."""
    rows: Rows
    totals: dict = field(default_factory=dict)
    mode: str = "inference"
    hardware: str = ""
    dtype: str = "bf16"
    plan: str = "dense"

    @property
    def ops(self) -> pd.DataFrame:
        return self.rows.to_pandas()

    def by(self, key: str = "role") -> pd.DataFrame:
        """Sums per ``op`` (id), ``role``, ``layer``, ``pass``, ``module``, ``kind`` or ``kernel`` (which kernel ran;
        ``vector`` for non-GEMM ops), plus the dominant bound."""
        return self.by_rows(key).to_pandas()

    def by_rows(self, key: str = "role") -> Rows:
        """:meth:`by` as :class:`nmsim.frame.Rows`."""
        if key not in ("op", "role", "layer", "pass", "module", "kind", "kernel"):
            raise UserError(f"unknown grouping {key!r} (known: op, role, layer, pass, module, kind, kernel)", "--by")
        if key == "op":
            return self.rows.copy()
        return group_rows(self.rows, key, list(BY_COLUMNS[:-1]))


def group_rows(rows: Rows, key: str, cols: list) -> Rows:
    """Per ``key`` in order of appearance: the sums of ``cols`` (NaN stays NaN: no energy figures, not 0 J) and
    the ``bound`` that holds most of the group's seconds (a tie: the bound seen first in the whole table)."""
    names, sums = group_sum(rows[key], np.stack([np.asarray(rows[c], float) for c in cols], axis=1))
    out = Rows({key: _keys_like(rows[key], names), **{c: sums[:, j] for j, c in enumerate(cols)}})
    bounds = list(dict.fromkeys(rows["bound"].tolist()))
    group_of = {k: i for i, k in enumerate(names.tolist())}
    share = np.zeros((len(names), len(bounds)))
    pair = np.array([group_of[k] * len(bounds) + bounds.index(b) for k, b in zip(rows[key].tolist(),
                                                                                  rows["bound"].tolist())])
    cells, cell_sums = group_sum(pair, np.asarray(rows["seconds"], float))
    share.reshape(-1)[cells.astype(np.int64)] = cell_sums[:, 0]
    out["bound"] = np.array(bounds, dtype=object)[np.argmax(share, axis=1)] if bounds else share[:, :0]
    return out


def _keys_like(column: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Group keys with the column's dtype (layer numbers stay integers)."""
    return names.astype(column.dtype) if column.dtype != object else names




# ---- helpers ----------------------------------------------------------------------------------------------
def plan_label(plan) -> str:
    """What a priced plan reads as: its :attr:`~nmsim.sparsity.SparsityPlan.label` (a pattern Series: its
    distinct patterns)."""
    if hasattr(plan, "dropna"):   # a pandas Series of patterns
        vals = sorted({str(v) for v in plan.dropna()})
        return ",".join(vals) or "dense"
    return SparsityPlan.of(plan).label


def categorical(codes, names) -> pd.Categorical:
    """A text column from integer ``codes`` into ``names`` (names may repeat): only the names used, sorted, so
    that sorting and grouping order it as the strings; a column of 10⁶ rows holds a few strings, not 10⁶."""
    import pandas as pd

    codes = np.asarray(codes, dtype=np.int64)
    names = np.asarray(list(names), dtype=object)
    used = np.bincount(codes.reshape(-1), minlength=len(names)) > 0
    cats, inverse = np.unique(names[used], return_inverse=True)
    remap = np.full(len(names), -1, dtype=np.int64)
    remap[used] = inverse.reshape(-1)
    return pd.Categorical.from_codes(remap[codes], categories=pd.Index(cats))


def plans_preflight(plans):
    """A context in which tracing checks ``plans`` (SparsityPlans or plan texts) against the first trace of a
    shape-generic fit (:func:`nmsim.graph.shapes.preflight`): a selector that selects nothing, a layer range past
    the model or an M that does not divide a dimension is then the only line a cold cache prints."""
    from nmsim.graph.shapes import preflight
    from nmsim.sparsity.plan import SparsityPlan

    def check(ops):
        ops = as_rows(ops)
        mops = ops.take(np.isin(ops["kind"], MATRIX_KINDS))
        for plan in plans:
            if plan is not None:
                SparsityPlan.of(plan).resolve(mops)
    return preflight(check)


def epilogue_flops(mops, table) -> np.ndarray:
    """Vector FLOPs fused into matrix ops: the bias add on fwd rows, the bias gradient (a reduction of dY) on
    wgrad rows."""
    vf = np.asarray(mops["vector_flops"], float)[table.op_pos]
    bf = np.asarray(mops["bwd_vector_flops"], float)[table.op_pos]
    return np.where(table.pass_codes == 0, vf, np.where(table.pass_codes == 2, bf, 0.0))


def _params(graph, ops) -> float:
    if getattr(graph, "params", None) is not None:   # counted by the caller (the cluster model)
        return float(graph.params)
    cfg = getattr(graph, "config", None)
    if cfg is not None:
        try:
            from nmsim.graph.api import parameter_totals
            return float(parameter_totals(cfg)["total"])
        except Exception:  # noqa: BLE001 - a config parameter_counts cannot handle: GEMM weights only
            pass
    ops = as_rows(ops)
    weights = np.asarray(ops["weight_numel"])[np.isin(ops["kind"], MATRIX_KINDS)]
    return float(np.sum(weights[np.sort(np.unique(weights, return_index=True)[1])]))


def training_extras(params: float, optimizer: str = "adamw", extra: dict | None = None) -> dict:
    """Step-level vector terms of training: the optimizer over ``params`` plus recipe terms
    (``{name: (flops, bytes)}``, e.g. mask recompute, SR-STE decay), see :mod:`nmsim.cost.vector_terms`."""
    out = {"optimizer": (VT.optimizer_flops_per_param(optimizer) * params,
                         VT.optimizer_bytes_per_param(optimizer) * params)}
    out.update(extra or {})
    return out


def _extra_table(extras: dict) -> VectorTable:
    names = list(extras)
    n = len(names)
    return VectorTable(Rows({"id": np.full(n, -1), "module": np.array(names, dtype=object),
                             "role": np.array(names, dtype=object), "layer": np.full(n, -1), "kind": "update",
                             "pass": "step"}),
                       np.array([extras[n][0] for n in names], float), np.array([extras[n][1] for n in names], float),
                       np.zeros(len(names), bool), np.zeros(len(names)))


def fp32_context(ctx: ExecContext) -> ExecContext:
    """Optimizer and recipe terms run on fp32 master weights."""
    return ExecContext(ctx.hw, "fp32", None, ctx.fusion, ctx.kernel, ctx.dgrad_sparse, ctx.cuda_graphs, ctx.step)


def _vector_frame(vt: VectorTable, r: dict) -> Rows:
    n = len(vt.flops)
    df = vt.frame.assign(pattern="dense", hw_pattern="dense", kernel="vector", sparse=np.zeros(n, bool), fused=vt.fused,
                   nominal_flops=0.0, padded_flops=0.0, executed_flops=0.0, vector_flops=r["flops"],
                   weight_bytes=0.0, metadata_bytes=0.0, act_bytes=r["bytes"], bytes=r["bytes"],
                   compute_seconds=r["compute_seconds"], memory_seconds=r["memory_seconds"], metadata_seconds=0.0,
                   seconds=r["seconds"], bound=np.asarray(BOUNDS, dtype=object)[r["bound"]],
                   energy_joules=r["joules"])
    return df[OUTPUT_COLUMNS]


def _gemm_frame(table, priced, mops) -> Rows:
    labels = np.array(["dense" if p is None else str(p) for p in table.patterns], dtype=object)
    df = table.frame
    hw_pattern = priced.extra.get("hw_pattern")
    if hw_pattern is None:
        hw_pattern = np.where(priced.sparse, labels[table.pattern], "dense")
    names = np.asarray(priced.kernel_names, dtype=object)
    df = df.assign(pattern=labels[table.pattern], hw_pattern=hw_pattern, kernel=names[priced.kernel],
                   sparse=priced.sparse, fused=False, nominal_flops=table.nominal_flops,
                   padded_flops=priced.extra.get("padded_flops", priced.executed_flops),
                   executed_flops=priced.executed_flops, vector_flops=epilogue_flops(mops, table),
                   weight_bytes=priced.weight_bytes, metadata_bytes=priced.metadata_bytes,
                   act_bytes=priced.act_bytes, bytes=priced.bytes, compute_seconds=priced.compute_seconds,
                   memory_seconds=priced.memory_seconds, metadata_seconds=priced.metadata_seconds,
                   seconds=priced.seconds, bound=np.asarray(BOUNDS, dtype=object)[priced.bound],
                   energy_joules=priced.joules)
    return df[OUTPUT_COLUMNS]


def price_step(graph, patterns, ctx: ExecContext, mode: str, *, ops=None, passes=None, kv=None,
               copies: bool = False, extras: dict | None = None, vector: bool = True,
               recompute=None, dropout: bool = False) -> tuple[Rows, dict]:
    """The pricing core: GEMM table -> the spec's execution model, vector ops, step extras. Returns one row per
    (op, pass) and the step's totals (:func:`nmsim.cost.step.assemble`, ``bound`` as its name); every public entry
    point (price, price_gemms, price_many, training) goes through here or through the same table, model and
    :func:`~nmsim.cost.step.assemble` calls. Training with ``recompute`` (selective, full) adds the forward rows
    backward runs again as pass ``recompute`` rows (:func:`~nmsim.cost.step.recompute_weights`); ``dropout``
    (training) adds the dropout masks' kernels (:func:`nmsim.execution.table.dropout_rows`)."""
    ops = ops_rows(graph, ops)
    mops = ops.take(np.isin(ops["kind"], MATRIX_KINDS))
    table = gemm_table(graph, patterns, mode, dgrad_sparse=ctx.dgrad_sparse, ops=ops, passes=passes, kv=kv)
    model = model_for(ctx.hw)
    if len(table) and not np.all(model.supports(table, ctx)):
        raise UserError(f"execution model {model.name!r} of {ctx.hw.name} cannot run {ctx.dtype} GEMMs",
                        "--dtype")
    again = recompute if mode == "training" else None
    frames, parts, priced = [], [], None
    if len(table):
        priced = model.price(table, ctx)
        frames.append(_gemm_frame(table, priced, mops))
    if vector:
        vt = vector_table(graph, mode, dtype_bytes(ctx.dtype), ctx.fusion, copies=copies, ops=ops, dropout=dropout)
        if len(vt.flops):
            parts.append((vt, model.price_vector(vt, ctx)))
    reduces = [_rows_reduce(f, again) for f in frames + [vt.frame for vt, _ in parts]]
    if extras:
        vt = _extra_table(extras)
        parts.append((vt, model.price_vector(vt, fp32_context(ctx))))
        reduces.append(row_sum)
    frames += [_vector_frame(vt, pv) for vt, pv in parts]
    gemm_reduce = reduces[0] if len(table) else row_sum
    totals = assemble(priced, table.pass_codes == 0,
                      vector_sums([(pv, r) for (_, pv), r in zip(parts, reduces[1 if len(table) else 0:])]),
                      nominal=row_sum(table.nominal_flops), epilogue=gemm_reduce(epilogue_flops(mops, table)),
                      reduce=gemm_reduce)
    frames += [_recomputed(f, again) for f in list(frames)]
    totals = {k: (BOUNDS[int(v)] if k == "bound" else float(v)) for k, v in totals.items()}
    if not frames:
        return Rows({c: np.zeros(0, dtype=object) for c in OUTPUT_COLUMNS}), totals
    df = Rows.concat(frames)
    order = {p: i for i, p in enumerate(("fwd", "dgrad", "wgrad", "bwd", "recompute", "step"))}
    ids = np.asarray(df["id"]).astype(np.int64)
    passes = np.array([order[p] for p in df["pass"].tolist()])
    return df.take(np.lexsort((passes, np.where(ids < 0, 1 << 40, ids)))), totals


def _rows_reduce(frame, recompute):
    """The row sum of a training table's rows, each counted once more where ``recompute`` runs it again."""
    return weighted_sum(runs_of(frame, recompute))


def _recomputed(frame: Rows, recompute) -> Rows:
    """The rows ``recompute`` runs again, as pass ``recompute`` with no nominal (model) FLOPs (none: no rows)."""
    if recompute in (None, "none"):
        return frame.take(np.zeros(len(frame), bool))
    again = recompute_weights(frame, recompute) > 0
    return frame.take(again).assign(**{"pass": "recompute", "nominal_flops": 0.0})


def price_table(graph, patterns, ctx: ExecContext, mode: str, **kw) -> pd.DataFrame:
    """:func:`price_step`'s rows, as a DataFrame."""
    return price_step(graph, patterns, ctx, mode, **kw)[0].to_pandas()


# ---- public API -------------------------------------------------------------------------------------------
def price(graph, plan=None, hw="a100", dtype: str | None = None, mode: str = "inference", *,
          weight_dtype: str | None = None, fusion=None, kernel: str | None = None,
          dgrad_sparse: bool | None = None, fuse_copies: bool = True, optimizer: str = "adamw",
          extras: dict | None = None, cuda_graphs: bool = True, recompute=None, dropout: bool = False) -> Pricing:
    """Price ``graph`` (an OpGraph) under ``plan`` on ``hw`` (spec or name) for ``mode``.

    ``dtype``: compute dtype (None = the spec's preferred 16-bit one); ``weight_dtype``: storage dtype of the
    weights (e.g. int4 with bf16 compute); ``fusion``: None = the spec's stack default, False = unfused, or a
    :class:`~nmsim.execution.Fusion`; ``kernel``: pin a kernel (gpu specs); ``cuda_graphs`` False: eager
    launches, each kernel at least its host dispatch time (gpu specs with ``host_op_us``). Training adds one optimizer step
    (``optimizer``) over the model's parameters, plus ``extras`` ({name: (flops, bytes)}), and the forward work
    ``recompute`` (none, selective, full; training only) runs again in backward; ``dropout`` (training only)
    prices the model's dropout masks (attention probabilities, each residual branch, the embeddings).
    ``decode`` expects a graph traced with ``seq=1, past=L`` (see :func:`price_workload`).
    """
    hw = hardware_spec(hw)
    cfg = getattr(graph, "config", None)
    check_mode(cfg, mode)
    check_recompute(recompute, mode)
    ctx = context(hw, dtype, weight_dtype=weight_dtype, fusion=fusion, kernel=kernel, dgrad_sparse=dgrad_sparse,
                  cuda_graphs=cuda_graphs, step=forward_step(mode))
    ops = ops_rows(graph)
    mops = ops.take(np.isin(ops["kind"], MATRIX_KINDS))
    if mode == "decode":
        check_decode(mops)
    step = training_extras(_params(graph, ops), optimizer, extras) if mode == "training" else None
    df, totals = price_step(graph, resolve_plan(plan, mops), ctx, mode, copies=not fuse_copies, extras=step,
                            recompute=recompute, dropout=check_dropout(dropout, mode))
    res = Pricing(df, totals, mode, hw.name, ctx.dtype, plan_label(plan))
    res.weight_dtype, res.fusion, res.kernel = ctx.wdtype, ctx.fusion.label, kernel
    res.recompute = recompute_label(recompute, mode)
    return res


def check_recompute(recompute, mode: str) -> None:
    """UserError for an unknown recompute mode, or one other than none outside training (no backward pass)."""
    from nmsim.memory.footprint import recompute_code
    if recompute_code(recompute) and mode != "training":
        raise UserError(f"applies to --mode training only (this run prices --mode {mode})", "--recompute")


def check_dropout(dropout, mode: str) -> bool:
    """``dropout`` as a bool; UserError when it is asked for outside training (inference runs no dropout)."""
    if dropout and mode != "training":
        raise UserError(f"applies to --mode training only (this run prices --mode {mode})", "--dropout")
    return bool(dropout)


def recompute_label(recompute, mode: str) -> str | None:
    """What a training step's recompute reads as (``none``, ``selective``, ``full``); None outside training."""
    from nmsim.memory.activations import RECOMPUTE
    from nmsim.memory.footprint import recompute_code
    return RECOMPUTE[recompute_code(recompute)] if mode == "training" else None


def check_decode(mops) -> None:
    q_rows = np.asarray(mops["gemm_m"])[np.asarray(mops["kind"], dtype=object) == "matmul"]
    if len(q_rows) and int(q_rows.max()) != 1:
        raise UserError("decode pricing needs a single-token trace (trace_workload(cfg, seq=1, past=L))", "decode")


def trace_for_mode(cfg, mode: str, batch: int | None = None, seq: int | None = None,
                    context: int | None = None):
    """Trace ``cfg`` (ModelConfig or workload name) the way ``mode`` needs; returns the OpGraph."""
    from nmsim.graph import load_workload, trace_workload
    if isinstance(cfg, str):
        cfg = load_workload(cfg)
    check_mode(cfg, mode)
    for name, v in (("--batch", batch), ("--seq", seq), ("--context", context)):
        if v is not None and int(v) < 1:
            raise UserError(f"must be a positive integer, got {v}", name)
    if mode == "decode":
        if seq not in (None, 1):
            raise UserError("decode prices one new token per sequence; use --context for the cache length", "--seq")
        past = context or cfg.seq_len
        return trace_workload(cfg, batch=batch, seq=1, past=int(past))
    if context is not None and mode != "prefill":
        raise UserError(f"--context is for --mode decode/prefill, not {mode}", "--context")
    if cfg.is_image and seq is not None:
        raise UserError(f"{cfg.name} is an image model: its tokens come from image_size/patch_size", "--seq")
    return trace_workload(cfg, batch=batch, seq=seq or context)


def price_workload(cfg, plan=None, hw="a100", dtype: str | None = None, mode: str = "inference",
                   batch: int | None = None, seq: int | None = None, context: int | None = None, **kw) -> Pricing:
    """Trace ``cfg`` for ``mode`` (decode: ``seq=1, past=context``; prefill: ``seq=context or seq``) and price."""
    graph = trace_for_mode(cfg, mode, batch, seq, context)
    return price(graph, plan, hw, dtype, mode, **kw)


# ---- many configs -----------------------------------------------------------------------------------------

class _GraphTables:
    """Per-graph state for :func:`price_many`: the GEMM table, resolved plans (pattern codes per op) and, per
    (hw, dtype), the model's prices of every known pattern against every row ((P, rows) arrays)."""

    def __init__(self, graph, mode: str, dgrad_sparse, fuse_copies: bool, weight_dtype, fusion, kernel,
                 cuda_graphs: bool = True, recompute=None, dropout: bool = False):
        self.graph, self.mode, self.fuse_copies, self.recompute = graph, mode, fuse_copies, recompute
        self.dropout = dropout
        self.opts = {"weight_dtype": weight_dtype, "fusion": fusion, "kernel": kernel, "dgrad_sparse": dgrad_sparse,
                     "cuda_graphs": cuda_graphs}
        ops = graph.ops
        self.mops = ops[ops["kind"].isin(MATRIX_KINDS)]
        self.base = gemm_table(graph, None, mode, dgrad_sparse=dgrad_sparse)
        self.patterns = list(self.base.patterns)  # grows as plans are resolved
        self.plan_codes: dict = {}
        self.tables: dict = {}
        self.vector: dict = {}
        self.labels: dict = {}
        self.fwd = self.base.pass_codes == 0
        self.rep_rows = representative_rows(self.fwd & (self.base.weight_elems > 0), self.base.nominal_flops)
        self.rows = weighted_sum(runs_of(self.base.frame, recompute))   # each row times it runs in a step
        self.nominal = row_sum(self.base.nominal_flops)
        self.epilogue = self.rows(epilogue_flops(self.mops, self.base))

    def codes(self, plan) -> tuple[int, np.ndarray]:
        """(plan number, pattern code per op); the number identifies the resolved plan within this graph."""
        key = plan if not hasattr(plan, "reindex") else ("series", id(plan))
        hit = self.plan_codes.get(key)
        if hit is None:
            from nmsim.execution.table import pattern_codes
            codes = pattern_codes(resolve_plan(plan, self.mops), self.mops.index, self.patterns)
            hit = self.plan_codes[key] = (len(self.plan_codes), codes)
        return hit

    def label(self, plan) -> str:
        key = plan if not hasattr(plan, "reindex") else ("series", id(plan))
        hit = self.labels.get(key)
        if hit is None:
            hit = self.labels[key] = plan_label(plan)
        return hit

    def table(self, hw, dtype) -> tuple:
        """(the model's prices (P, rows) of every pattern known so far, the rows the hardware sparsifies)."""
        key = (id(hw), dtype)
        hit = self.tables.get(key)
        if hit is not None and hit[0] is hw and hit[1] == len(self.patterns):
            return hit[2]
        ctx = context(hw, dtype, **self.opts, step=forward_step(self.mode))
        P = len(self.patterns)
        stacked = restack(self.base, np.repeat(np.arange(P)[:, None], len(self.mops), axis=1), self.patterns)
        out = (model_for(hw).price(stacked, ctx), sparsifiable(stacked.sparse_operand, hw))
        self.tables[key] = (hw, P, out)
        return out

    def vector_totals(self, hw, dtype) -> dict:
        """:func:`~nmsim.cost.step.vector_sums` of the vector ops (and training's optimizer step)."""
        key = (id(hw), dtype)
        hit = self.vector.get(key)
        if hit is not None and hit[0] is hw:
            return hit[1]
        # the vector ops only: a pinned GEMM kernel does not apply
        ctx = context(hw, dtype, **{**self.opts, "kernel": None}, step=forward_step(self.mode))
        model = model_for(hw)
        vt = vector_table(self.graph, self.mode, dtype_bytes(ctx.dtype), ctx.fusion, copies=not self.fuse_copies,
                          dropout=self.dropout)
        parts = [(model.price_vector(vt, ctx), _rows_reduce(vt.frame, self.recompute))]
        if self.mode == "training":
            step = _extra_table(training_extras(_params(self.graph, self.graph.ops)))
            parts.append((model.price_vector(step, fp32_context(ctx)), row_sum))
        t = vector_sums(parts)
        self.vector[key] = (hw, t)
        return t


_MANY_CACHE: dict = {}


def sparsifiable(sparse_operand, hw) -> np.ndarray:
    """Rows whose N:M operand ``hw`` can use: the weight along the reduction (fwd; dgrad of a transposable mask),
    or its transpose (dgrad of an ordinary mask) where the spec accepts the transposed pattern. None on a device
    with no sparse kernel at all (no sparse peaks, no software N:M kernel: a TPU runs every plan dense)."""
    op = np.asarray(sparse_operand)
    if not can_use_nm(hw):
        return np.zeros(op.shape, bool)
    return (op == OPERAND_WEIGHT) | ((op == OPERAND_WEIGHT_T) & bool(hw.accepts_transposed_dgrad))


def can_use_nm(hw) -> bool:
    """Whether ``hw`` runs any N:M pattern faster than dense: sparse peaks, or a software compressed-weight kernel."""
    kernels = (getattr(hw, "execution", None) or {}).get("kernels") or ()
    return hw.sparse is not None or any(k.kind == "compressed-weight" for k in kernels)


def amdahl(dense_seconds, sparsified_seconds) -> tuple[np.ndarray, np.ndarray]:
    """(share, ceiling): the share of the dense step spent in the GEMMs a plan sparsifies, and the speedup over
    that dense step if those GEMMs took no time at all, ``dense / (dense - sparsified)`` (Amdahl; inf when the
    step is nothing else)."""
    dense = np.asarray(dense_seconds, dtype=float)
    part = np.asarray(sparsified_seconds, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(dense > 0, part / dense, 0.0)
        rest = dense - part
        ceiling = np.where(rest > 0, dense / np.where(rest > 0, rest, 1.0), np.inf)
    return share, ceiling


def price_many(graph, configs, mode: str = "inference", *, dgrad_sparse: bool | None = None,
               fuse_copies: bool = True, weight_dtype: str | None = None, fusion=None,
               kernel: str | None = None, shapes: dict | None = None, ceiling: bool = False,
               cuda_graphs: bool = True, recompute=None, dropout: bool = False) -> pd.DataFrame:
    """Totals for many ``(plan_or_patterns, hw, dtype)`` configs of one traced graph, vectorised.

    The same table and model as :func:`price` (so the same numbers): each plan is resolved once (cached per
    graph) into pattern codes per op; per (hw, dtype) the model prices every known pattern against all rows at
    once (a (P, rows) stacked table); each distinct plan's totals are then a gather + row sum over its codes,
    shared by every config with that plan. ``dtype``
    None = the spec's preferred dtype. Returns one row per config: config, plan, hardware, dtype,
    the :data:`TOTAL_COLUMNS` and ``kernel`` (the kernel of the config's largest sparse GEMM, else of its largest
    GEMM).

    ``shapes`` ({"batch": [...], "seq": [...], "context": [...], "image_size": [...]}) prices the product of modes
    (``mode`` may be a list) x shapes x configs on the workload's shape-generic graphs, ``graph`` being a
    workload name or ModelConfig; see :func:`nmsim.cost.shape_sweep.price_shapes`.

    ``ceiling`` adds what caps each plan, from the same priced rows (:func:`amdahl`): ``sparsified_share``, the
    share of the dense step (same hardware, dtype and options) spent in the GEMM passes the plan gives an N:M
    operand the hardware can use (:func:`sparsifiable`), and ``ceiling``, the speedup over that dense step if those
    passes took no time at all. ``recompute`` (training): the forward work backward runs again, as in
    :func:`price`; so does ``dropout``.
    """
    if ceiling and shapes is not None:
        raise UserError("a plan's ceiling is priced per traced shape, not over a shape sweep", "ceiling")
    if shapes is not None:  # a shape sweep: ``graph`` is a workload (name or ModelConfig), mode may be a list
        from nmsim.cost.shape_sweep import price_shapes
        return price_shapes(graph, configs, mode, shapes, dgrad_sparse=dgrad_sparse, fuse_copies=fuse_copies,
                            weight_dtype=weight_dtype, fusion=fusion, kernel=kernel, cuda_graphs=cuda_graphs,
                            recompute=recompute, dropout=dropout)
    check_mode(getattr(graph, "config", None), mode)
    check_recompute(recompute, mode)
    dropout = check_dropout(dropout, mode)
    recompute = recompute_label(recompute, mode)
    opts = (weight_dtype, fusion if isinstance(fusion, (bool, type(None))) else (fusion.attention, fusion.epilogue),
            kernel, bool(cuda_graphs))
    key = (id(graph), mode, dgrad_sparse, fuse_copies, opts, recompute, dropout)
    hit = _MANY_CACHE.get(key)
    if hit is None or hit.graph is not graph:
        hit = _MANY_CACHE[key] = _GraphTables(graph, mode, dgrad_sparse, fuse_copies, weight_dtype, fusion, kernel,
                                              cuda_graphs, recompute, dropout)
    G = hit
    configs = list(configs)
    plan_no = np.empty(len(configs), dtype=np.int64)
    plan_codes: dict = {}
    labels: dict = {}
    groups: dict = {}   # (hw, dtype) -> (spec, dtype, config numbers)
    group_no = np.empty(len(configs), dtype=np.int64)
    for i, (plan, hw, dtype) in enumerate(configs):
        plan_no[i], codes = G.codes(plan)
        if plan_no[i] not in plan_codes:
            plan_codes[plan_no[i]], labels[plan_no[i]] = codes, G.label(plan)
        hw = hardware_spec(hw)
        dt = default_dtype(hw, dtype)
        group = groups.setdefault((id(hw), dt), (hw, dt, []))
        group[2].append(i)
        group_no[i] = list(groups).index((id(hw), dt))
    cols = {q: np.zeros(len(configs)) for q in TOTAL_COLUMNS}
    kernels = np.empty(len(configs), dtype=np.int64)
    kernel_names: list = []
    dense_step, sparsified = np.zeros(len(configs)), np.zeros(len(configs))
    cols_idx = np.arange(len(G.base))
    for hw, dtype, rows in groups.values():
        r, sparsifies = G.table(hw, dtype)
        rows = np.asarray(rows)
        # each distinct plan of the group is summed once, then scattered to its configs
        uniq, inverse = np.unique(plan_no[rows], return_inverse=True)
        C = np.stack([plan_codes[u] for u in uniq])[:, G.base.op_pos]  # (plans, table rows)
        per_plan = lambda a: G.rows(np.broadcast_to(a, r.seconds.shape)[C, cols_idx])[inverse]  # noqa: E731
        vec = G.vector_totals(hw, dtype)
        t = assemble(r, G.fwd, vec, nominal=G.nominal, epilogue=G.epilogue, reduce=per_plan)
        for q in TOTAL_COLUMNS:
            cols[q][rows] = t[q]
        kc = step_kernel(np.broadcast_to(r.kernel, r.seconds.shape)[C[:, G.rep_rows], G.rep_rows], C[:, G.rep_rows] > 0)
        kernels[rows] = len(kernel_names) + kc[inverse]
        kernel_names += list(r.kernel_names)
        dense_rows = r.seconds[0]   # pattern 0: every row dense
        dense_step[rows] = float(G.rows(dense_rows)) + vec["seconds"]
        sparsified[rows] = G.rows(sparsifies[C, cols_idx] * dense_rows)[inverse]
    import pandas as pd

    out = pd.DataFrame({
        "config": np.arange(len(configs)),
        "plan": categorical(np.searchsorted(sorted(labels), plan_no), [labels[i] for i in sorted(labels)]),
        "hardware": categorical(group_no, [g[0].name for g in groups.values()]),
        "dtype": categorical(group_no, [g[1] for g in groups.values()]),
        **{q: cols[q] for q in TOTAL_COLUMNS[:-1]},
        "bound": categorical(cols["bound"].astype(np.int64), BOUNDS),
        "kernel": categorical(kernels, kernel_names),
    })
    if ceiling:
        out["sparsified_share"], out["ceiling"] = amdahl(dense_step, sparsified)
    return out
