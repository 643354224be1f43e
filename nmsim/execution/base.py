"""The execution-model contract: a per-pass GEMM table in, numpy arrays of time, bytes and energy out.

Pricing (``nmsim.cost.pricing``) builds one :class:`GemmTable` per (graph, plan, mode) and hands it, with an
:class:`ExecContext` (hardware, dtypes, fusion, pinned kernel), to the :class:`ExecutionModel` the hardware spec
names (``execution: {model: NAME, ...}``; ``roofline`` when absent). A model never reads the graph.

Orientation of a row's GEMM (``b`` batched ``C[m, n] = A[m, k] · B[k, n]``, the GEMM actually run):

* ``fwd``   ``Y[M, N] = X[M, K] · Wᵀ[K, N]``          → (m, k, n) = (M, K, N); B is the weight.
* ``dgrad`` ``dX[M, K] = dY[M, N] · W[N, K]``           → (m, k, n) = (M, N, K); B is the weight.
  act×act matmuls book both operand gradients as one row with ``b`` doubled (dA and dB have equal FLOPs).
* ``wgrad`` ``dW[N, K] = dYᵀ[N, M] · X[M, K]``          → (m, k, n) = (N, M, K); no weight operand.

``M`` is activation rows (batch × tokens), ``K`` the weight's input features, ``N`` its output features. A plan's
N:M groups run along K (the weight's input dim), i.e. along the *reduction* of the fwd GEMM and along the
*output* dim of the dgrad GEMM — hence ``sparse_operand``:

* ``OPERAND_NONE``     no sparse operand (dense plan, act×act matmul, wgrad);
* ``OPERAND_WEIGHT``   B is the N:M weight with groups along this GEMM's reduction (fwd; dgrad of a
  transposable ``T`` mask or when ``dgrad_sparse=True`` forces it);
* ``OPERAND_WEIGHT_T`` B is the N:M weight but its groups lie along the output dim (dgrad of an ordinary mask):
  only hardware whose spec accepts the transposed pattern (``sparse_support.transposed_dgrad``) exploits it.

Broadcasting. Every numeric column is a float/int array whose *last* axis is the row; pricing may stack
configurations on leading axes (``price_many``: patterns → shape (P, rows); shape sweeps: (S, rows); both:
(S, P, rows)). A model must therefore use only element-wise numpy (``np.where``, arithmetic, ``np.maximum``,
gathers ``arr[codes]``) — no boolean indexing, ``len()`` or Python loops over rows — and return arrays of the
broadcast shape of its inputs. Per-pattern work is done once per entry of ``table.patterns`` and gathered with
the integer ``pattern`` codes (0 = dense).

A model returns a :class:`Priced` (every field an array of that broadcast shape; :data:`PRICED_FIELDS`):
executed FLOPs, weight / metadata / activation / total bytes, compute / memory / metadata seconds, seconds,
``bound`` (int code into :data:`BOUNDS`), joules, ``sparse`` (runs on a sparse kernel) and ``kernel`` (int code
into the model's ``kernel_names``, reported per row). ``supports`` says per row whether the model can run the
GEMM at all (e.g. a dtype the engine lacks); pricing raises a one-line error for unsupported rows.

Adding a model: subclass :class:`ExecutionModel`, decorate with ``@register("name")``, put the module in
:data:`nmsim.execution.MODEL_MODULES` (imported lazily) and its parameters in ``nmsim.schema.execution.MODELS``;
no pricing code changes. Vector (non-GEMM) ops are priced
by :meth:`ExecutionModel.price_vector` (default: vector peak against main memory), fused ops moving no bytes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

import numpy as np

from nmsim.errors import UserError
from nmsim.execution.context import ExecContext, Fusion  # noqa: F401 (the contract's names)

if TYPE_CHECKING:  # pandas on first use: loading a spec (which names its model) stays light for the CLI
    import pandas as pd

PASSES = ("fwd", "dgrad", "wgrad")
BOUNDS = ("compute", "memory", "metadata")
OPERAND_NONE, OPERAND_WEIGHT, OPERAND_WEIGHT_T = 0, 1, 2
OPERANDS = ("none", "weight", "weight_t")

#: numeric columns of a GemmTable (each broadcastable to (..., rows))
TABLE_ARRAYS = ("b", "m", "k", "n", "nominal_flops", "pattern", "sparse_operand", "weight_elems", "bias_elems",
                "act_elems", "score_elems")
#: identity columns (one value per row, never stacked)
TABLE_IDS = ("id", "module", "role", "layer", "kind", "pass")
PRICED_FIELDS = ("executed_flops", "weight_bytes", "metadata_bytes", "act_bytes", "bytes", "compute_seconds",
                 "memory_seconds", "metadata_seconds", "seconds", "bound", "joules", "sparse", "kernel")


@dataclass(frozen=True)
class GemmTable:
    """One row per (matrix op, pass); complete at construction and immutable (:meth:`replace` makes a changed
    copy). ``frame`` holds the identity columns (:data:`TABLE_IDS`); the numeric columns (:data:`TABLE_ARRAYS`)
    are attributes so they may carry leading config axes.

    * ``b, m, k, n``: the GEMM run in the pass (module docstring for the orientation); float.
    * ``nominal_flops``: the graph's dense FLOPs of the pass (never changed by sparsity or padding).
    * ``pattern``: int code into ``patterns`` (0 = dense) of the plan pattern in force on the op's weight.
    * ``sparse_operand``: OPERAND_* code (int8).
    * ``weight_elems`` / ``bias_elems``: the op's weight and bias element counts (0 for act×act matmuls).
    * ``act_elems``: activation elements the pass reads and writes, unfused (each operand once; K/V scaled by
      kv_heads/heads); ``score_elems``: the part of them that is the attention T×T score matrix.
    * ``op_pos``: each row's position among the graph's matrix ops (int64; gathers per-op arrays onto rows);
      ``pass_codes``: its pass, 0/1/2 for fwd/dgrad/wgrad (int8); ``dgrad_sparse``: the setting the sparse
      operands were derived with (see :func:`nmsim.execution.table.gemm_table`).
    """
    frame: pd.DataFrame
    b: np.ndarray
    m: np.ndarray
    k: np.ndarray
    n: np.ndarray
    nominal_flops: np.ndarray
    pattern: np.ndarray
    sparse_operand: np.ndarray
    weight_elems: np.ndarray
    bias_elems: np.ndarray
    act_elems: np.ndarray
    score_elems: np.ndarray
    op_pos: np.ndarray
    pass_codes: np.ndarray
    patterns: tuple = (None,)
    mode: str = "inference"
    dgrad_sparse: bool | None = None

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def passes(self) -> np.ndarray:
        return np.asarray(self.frame["pass"])

    def replace(self, **changes) -> "GemmTable":
        """A copy with some fields replaced (e.g. stacked patterns or shapes, a subset of rows)."""
        return dataclasses.replace(self, **changes)

    def to_frame(self, ctx: ExecContext | None = None) -> pd.DataFrame:
        """The table as a DataFrame (unstacked tables only), with dtype and pattern labels."""
        df = self.frame.to_pandas() if hasattr(self.frame, "to_pandas") else self.frame.copy()
        for col in TABLE_ARRAYS:
            df[col] = np.broadcast_to(getattr(self, col), (len(df),))
        labels = np.array(["dense" if p is None else str(p) for p in self.patterns], dtype=object)
        df["pattern"] = labels[df["pattern"].to_numpy()]
        df["sparse_operand"] = np.asarray(OPERANDS, dtype=object)[df["sparse_operand"].to_numpy()]
        if ctx is not None:
            df["weight_dtype"], df["compute_dtype"] = ctx.wdtype, ctx.dtype
        return df


@dataclass
class Priced:
    """A model's answer: arrays of the table's broadcast shape (see :data:`PRICED_FIELDS`)."""
    executed_flops: np.ndarray
    weight_bytes: np.ndarray
    metadata_bytes: np.ndarray
    act_bytes: np.ndarray
    bytes: np.ndarray
    compute_seconds: np.ndarray
    memory_seconds: np.ndarray
    metadata_seconds: np.ndarray
    seconds: np.ndarray
    bound: np.ndarray        # int code into BOUNDS
    joules: np.ndarray
    sparse: np.ndarray       # bool: ran on a sparse kernel
    kernel: np.ndarray       # int code into kernel_names
    kernel_names: tuple = ("dense",)
    # optional arrays pricing reads when present: ``padded_flops`` (dense FLOPs after tile padding),
    # ``hw_pattern`` (object array: the pattern each row executes as, "dense" when not sparse), ``efficiency``
    extra: dict = field(default_factory=dict)


def finish(compute_s, memory_s, metadata_s) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, bound code): the slowest of the three ceilings; ties go to compute, then memory."""
    seconds = np.maximum(np.maximum(compute_s, memory_s), metadata_s)
    bound = np.where(seconds == compute_s, 0, np.where(seconds == memory_s, 1, 2)).astype(np.int8)
    return seconds, bound


@dataclass
class VectorTable:
    """Non-GEMM ops (element-wise, norms, softmax, reductions, embeddings), one row per (op, pass ∈ fwd/bwd).

    ``flops`` and ``bytes`` are unfused and already at the compute dtype; ``fused`` marks rows that run inside a
    neighbouring kernel under the run's :class:`Fusion` (they move ``fused_bytes`` instead: the inputs a fused
    epilogue still reads, 0 for attention-internal ops)."""
    frame: pd.DataFrame
    flops: np.ndarray
    bytes: np.ndarray
    fused: np.ndarray
    fused_bytes: np.ndarray


class ExecutionModel:
    """Base class. Subclasses set ``name`` and implement :meth:`price` (and usually :meth:`supports`).

    ``params`` is the spec's ``execution`` mapping minus ``model``, as the hardware loader checked and built it
    (the parameters each model takes are declared in ``nmsim.schema.execution.MODELS``)."""
    name = "base"

    def __init__(self, hw, params: dict | None = None):
        self.hw = hw
        self.params = dict(params or {})

    def kernel_names(self, ctx: ExecContext) -> tuple[str, ...]:
        return ("dense",)

    def check(self, ctx: ExecContext, patterns=()) -> None:
        """Refuse settings no graph could be priced with, before anything is traced (``patterns``: the plans'
        patterns). A model without named kernels has none to pin."""
        from nmsim.execution.checks import check_no_kernels

        check_no_kernels(self.hw, self.name, ctx)

    def supports(self, table: GemmTable, ctx: ExecContext) -> np.ndarray:
        """Bool per row (broadcast shape): can this model run the GEMM at all at ``ctx``'s dtypes."""
        return np.ones(np.shape(table.nominal_flops), dtype=bool)

    def price(self, table: GemmTable, ctx: ExecContext) -> Priced:
        raise NotImplementedError

    def price_vector(self, vt: VectorTable, ctx: ExecContext) -> dict:
        """Vector rows: compute on the vector peak, bytes against main memory at the share of its bandwidth an
        element-wise kernel reaches (``vector_bandwidth_efficiency`` of the model's parameters, 1 when absent;
        fused rows: their fused bytes)."""
        hw = self.hw
        peak = hw.vector_tflops(ctx.dtype) * 1e12
        bw = hw.main_memory.bandwidth_gbps * 1e9 * self.params.get("vector_bandwidth_efficiency", 1.0)
        byts = np.where(vt.fused, vt.fused_bytes, vt.bytes)
        comp = vt.flops / peak
        mem = byts / bw
        sec, bound = finish(comp, mem, np.zeros_like(mem))
        pj_flop, pj_byte = energy_constants(hw, ctx.dtype)
        return {"flops": vt.flops, "bytes": byts, "compute_seconds": comp, "memory_seconds": mem,
                "seconds": sec, "bound": bound, "joules": (vt.flops * pj_flop + byts * pj_byte) * 1e-12}


def energy_constants(hw, dtype: str) -> tuple[float, float]:
    """(pJ per FLOP, pJ per byte) from the spec's energy section; NaN where the spec has none."""
    import math
    try:
        pj_flop = hw.energy_pj_per_flop(dtype, False)
    except UserError:
        pj_flop = math.nan
    try:
        pj_byte = hw.energy_pj_per_byte()
    except UserError:
        pj_byte = math.nan
    return pj_flop, pj_byte
