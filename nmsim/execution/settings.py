"""The settings of one pricing run (dtype, weight dtype, fusion, pinned kernel, CUDA graphs) checked against a
spec: what pricing would refuse whatever the graph, said before anything is traced or priced (no pandas)."""
from __future__ import annotations

from nmsim.execution import default_fusion
from nmsim.execution.context import ExecContext, Fusion
from nmsim.hardware.cached import hardware_spec
from nmsim.sparsity.metadata import dtype_bytes


def default_dtype(hw, dtype: str | None) -> str:
    """``dtype`` or, when None, the spec's preferred 16-bit dtype (bf16, else fp16, else its first)."""
    if dtype is not None:
        return dtype
    for d in ("bf16", "fp16"):
        if d in hw.matrix_dense:
            return d
    return next(iter(hw.matrix_dense))


def context(hw, dtype: str | None = None, *, weight_dtype: str | None = None, fusion=None, kernel: str | None = None,
            dgrad_sparse: bool | None = None, cuda_graphs: bool = True, step: bool = True,
            burst: bool = False) -> ExecContext:
    """The :class:`ExecContext` of one pricing run; ``fusion`` None/True = the spec's stack default, False =
    unfused, or a :class:`Fusion`; ``cuda_graphs`` False = eager launches (each kernel waits for its host
    dispatch where the spec gives one, ``host_op_us`` of the gpu model); ``step`` False = no per-kernel step gap
    (``kernel_gap_us``: GEMMs timed alone, training steps; see :func:`forward_step`); ``burst`` True = GEMMs timed
    alone, at the listed boost clock (a model run holds the spec's ``sustained_mhz`` where it gives one)."""
    hw = hardware_spec(hw)
    dtype = default_dtype(hw, dtype)
    hw.dense_tflops(dtype)  # a one-line UserError naming the hardware for a dtype it lacks
    dtype_bytes(dtype, "--dtype")
    if weight_dtype is not None:
        dtype_bytes(weight_dtype, "--weight-dtype")
    if fusion is None or fusion is True:
        fusion = default_fusion(hw)
    elif fusion is False:
        fusion = Fusion(False, False)
    return ExecContext(hw, dtype, weight_dtype if weight_dtype != dtype else None, fusion, kernel, dgrad_sparse,
                       bool(cuda_graphs), bool(step), bool(burst))


def forward_step(mode: str) -> bool:
    """Whether a step of ``mode`` pays the GPU's per-kernel gap (``kernel_gap_us``, fitted on decode steps):
    forward steps (inference, prefill, decode) do; training steps are not charged it."""
    return mode != "training"


def check_settings(hw, dtype: str | None = None, *, weight_dtype: str | None = None, kernel: str | None = None,
                   plans=()) -> None:
    """Refuse what pricing would refuse whatever the graph (dtypes, a pinned kernel against the ``plans``'
    patterns), so that a command says it before tracing: the error is then the only line it prints."""
    from nmsim.sparsity.plan import SparsityPlan

    ctx = context(hw, dtype, weight_dtype=weight_dtype, kernel=kernel)
    patterns = [rule.pattern for plan in plans for rule in SparsityPlan.of(plan).rules if rule.pattern is not None]
    from nmsim.execution.checks import check

    check(ctx.hw, ctx, patterns)   # the spec's model's own check, without importing the model (numpy)
