"""A priced step's totals: the one place they are assembled.

``price`` (one shape, one config), ``price_many`` (configs on a leading axis) and the shape sweep (shapes and
configs on leading axes, identical rows priced once with a multiplicity) hand :func:`assemble` the execution
model's priced GEMM rows and :func:`vector_sums` of the vector rows (vector ops, the optimizer step, recipe
terms); it adds the epilogue FLOPs (bias adds fused into GEMMs), splits the time per bound and names the bound.
Rows are the last axis of every array; a path's ``reduce`` turns row arrays into one value per step (a sum over
rows; a gather of each config's pattern and a product with the row multiplicities).

Activation recomputation (training, ``recompute``) is a row weight: :func:`recompute_weights` gives each forward
row the times backward runs it again, 1 for every forward op of a transformer block (``full``) or for the
attention core (``selective``, Korthikanti et al. 2022, arXiv 2205.05198), as the cluster planner adds them;
every path multiplies its rows by ``1 + weight`` before its reduce (model FLOPs, ``nominal_flops``, do not count
the recomputed work; executed FLOPs, bytes, time and energy do).
"""
from __future__ import annotations

import numpy as np

from nmsim.execution.base import BOUNDS

#: the totals of a priced step (``bound``: the bound with the largest share of the time)
TOTAL_COLUMNS = ("nominal_flops", "executed_flops", "vector_flops", "bytes", "weight_bytes", "metadata_bytes",
                 "matrix_seconds", "vector_seconds", "seconds", "joules", "compute_share", "memory_share",
                 "metadata_share", "bound")
VECTOR_SUMS = ("flops", "bytes", "seconds", "compute_seconds", "joules")
#: the attention core: what selective recompute runs again in backward
CORE_ROLES = ("logit", "softmax", "attend")


def recompute_weights(frame, recompute) -> np.ndarray:
    """Per row of a training table (columns ``pass``, ``role``, ``layer``), the extra times the step runs it:
    ``full`` 1 on every forward row inside a block (embedding, final norm and head are not recomputed),
    ``selective`` 1 on the attention core's forward rows, ``none`` (None) 0."""
    from nmsim.memory.footprint import recompute_code
    code = recompute_code(recompute)
    fwd = np.asarray(frame["pass"]) == "fwd"
    if code == 2:
        return (fwd & (np.asarray(frame["layer"]) >= 0)).astype(float)
    if code == 1:
        return (fwd & np.isin(np.asarray(frame["role"]), CORE_ROLES)).astype(float)
    return np.zeros(len(frame))


def recompute_basis(recompute) -> str:
    """What a training table's step does with activations (its time and memory), for its header."""
    from nmsim.memory.activations import RECOMPUTE
    from nmsim.memory.footprint import recompute_code
    return {"none": "recompute none: every activation kept for backward (--recompute trades time for memory)",
            "selective": "recompute selective: backward runs the attention core's forward again (time), its "
                         "activations are not kept (memory; Korthikanti et al. 2022)",
            "full": "recompute full: backward runs each block's forward again (time), only block inputs kept "
                    "(memory)"}[RECOMPUTE[recompute_code(recompute)]]


def weighted_sum(weights: np.ndarray | None):
    """A reduce that sums rows times ``weights`` (row multiplicities, recompute); None: a plain row sum."""
    return row_sum if weights is None else (lambda a: a @ weights)


def runs_of(frame, recompute) -> np.ndarray | None:
    """Times each row of a training table runs in a step (``1 +`` :func:`recompute_weights`); None: once each."""
    if recompute in (None, "none", False):
        return None
    return 1.0 + recompute_weights(frame, recompute)


def row_sum(a: np.ndarray) -> np.ndarray:
    return np.sum(a, axis=-1)


def vector_sums(parts) -> dict:
    """Sums of ``price_vector`` answers, ``parts`` = [(answer, reduce)]: flops, bytes, seconds, the seconds of
    compute-bound rows, joules (NaN where the spec gives no energy figures)."""
    out: dict = {}
    for pv, reduce in parts:
        part = {"flops": reduce(pv["flops"]), "bytes": reduce(pv["bytes"]), "seconds": reduce(pv["seconds"]),
                "compute_seconds": reduce(np.where(pv["bound"] == 0, pv["seconds"], 0.0)),
                "joules": reduce(pv["joules"])}
        out = part if not out else {k: out[k] + part[k] for k in VECTOR_SUMS}
    return out or dict.fromkeys(VECTOR_SUMS, 0.0)


def assemble(gemm, fwd: np.ndarray, vector: dict, *, nominal, epilogue, reduce=row_sum) -> dict:
    """Totals (:data:`TOTAL_COLUMNS`; ``bound`` an int code into ``BOUNDS``) of priced steps.

    ``gemm``: the model's :class:`~nmsim.execution.Priced` GEMM rows (None: the step has none); ``fwd``: forward
    rows (weights and metadata are read once a step, on them); ``vector``: :func:`vector_sums`; ``nominal`` and
    ``epilogue``: the step's dense GEMM FLOPs and the vector FLOPs its GEMM epilogues run, already reduced."""
    if gemm is None:
        zero = np.zeros(np.shape(vector["seconds"]))
        g = dict.fromkeys(("executed_flops", "bytes", "weight_bytes", "metadata_bytes", "matrix_seconds", "joules",
                           *(f"{b}_seconds" for b in BOUNDS)), zero)
    else:
        g = {"executed_flops": reduce(gemm.executed_flops), "bytes": reduce(gemm.bytes),
             "weight_bytes": reduce(np.where(fwd, gemm.weight_bytes, 0.0)),
             "metadata_bytes": reduce(np.where(fwd, gemm.metadata_bytes, 0.0)),
             "matrix_seconds": reduce(gemm.seconds), "joules": reduce(gemm.joules),
             **{f"{b}_seconds": reduce(np.where(gemm.bound == i, gemm.seconds, 0.0)) for i, b in enumerate(BOUNDS)}}
    seconds = g["matrix_seconds"] + vector["seconds"]
    by_bound = (g["compute_seconds"] + vector["compute_seconds"],
                g["memory_seconds"] + (vector["seconds"] - vector["compute_seconds"]), g["metadata_seconds"])
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.stack([np.where(seconds > 0, s / seconds, 0.0) for s in by_bound], axis=-1)
    return {"nominal_flops": nominal, "executed_flops": g["executed_flops"], "vector_flops": vector["flops"] + epilogue,
            "bytes": g["bytes"] + vector["bytes"], "weight_bytes": g["weight_bytes"],
            "metadata_bytes": g["metadata_bytes"], "matrix_seconds": g["matrix_seconds"],
            "vector_seconds": vector["seconds"], "seconds": seconds, "joules": g["joules"] + vector["joules"],
            **{f"{b}_share": shares[..., i] for i, b in enumerate(BOUNDS)}, "bound": shares.argmax(axis=-1)}


def representative_rows(fwd_weight: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The rows whose kernel names a step's: forward weight GEMMs, largest first (stable), else row 0."""
    order = np.argsort(-np.where(fwd_weight, size, -1.0), kind="stable")
    return order[: max(int(fwd_weight.sum()), 1)]


def step_kernel(kernel: np.ndarray, sparse: np.ndarray) -> np.ndarray:
    """Per step, the kernel code of its first representative row with an N:M pattern, else of its first one
    (``kernel`` and ``sparse``: (..., representative rows))."""
    first = np.where(sparse.any(axis=-1), np.argmax(sparse, axis=-1), 0)
    return np.take_along_axis(kernel, first[..., None], -1)[..., 0]
