"""Weights at rest under an N:M plan: which GEMM weights are stored compressed and how many bytes they take.

A GEMM weight whose plan pattern the accelerator runs on its sparse engine is stored as that engine's hardware
pattern (values N/M + metadata; NVIDIA 2:4 bf16: 9/16 of dense, int8: 10/16), whatever the shape priced: a
deployment keeps one format. Every other parameter (embeddings, norms, biases, GEMMs left dense or whose
pattern the hardware cannot use) stays dense. Parameters are counted from the model (``parameter_counts``),
so a mixture of experts counts every expert; its trace holds only the experts that receive tokens (decode at
batch 1: two of Mixtral's eight), so each traced expert weight stands for its layer's untraced ones too (same
shape and role: a role plan gives them its pattern).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nmsim.sparsity.metadata import dtype_bytes


@dataclass(frozen=True)
class WeightBytes:
    params: float            # all parameters
    dense_bytes: float       # parameters stored dense, at the weight dtype
    sparse_values: float     # kept values of the compressed GEMM weights
    metadata: float          # their metadata
    sparse_numel: float      # dense element count of the compressed weights
    masked_numel: float      # weights the plan puts a mask on (whether or not the hardware can use it)

    @property
    def total(self) -> float:
        return self.dense_bytes + self.sparse_values + self.metadata


def compressed_gemm_bytes(n: float, k: float, info, size: float) -> tuple[float, float]:
    """(value bytes, metadata bytes) of an ``n x k`` weight stored as ``info``'s hardware pattern."""
    groups = n * np.ceil(k / info.group_m)
    return groups * info.group_n * size, groups * info.meta_bits / 8.0


def model_params(graph) -> float:
    cfg = getattr(graph, "config", None)
    if getattr(graph, "params", None):
        return float(graph.params)
    if cfg is not None:
        from nmsim.graph.api import parameter_totals
        return float(parameter_totals(cfg)["total"])
    ops = graph.ops  # a bare module trace: unique weights + biases seen by the trace
    w = ops[ops["weight"].astype(str) != ""].drop_duplicates("weight")
    return float(w["weight_numel"].sum() + w.loc[w["has_bias"], "gemm_n"].sum())


def expert_copies(sel, cfg) -> np.ndarray:
    """Per GEMM op of ``sel``: how many weights of the model it stands for (1; a traced expert's weight stands for
    ``experts / traced experts`` of its layer and role in a mixture of experts)."""
    copies = np.ones(len(sel))
    if cfg is None or not getattr(cfg, "is_moe", False) or not len(sel):
        return copies
    import pandas as pd   # a mixture of experts (its graph is traced at each shape, with pandas)

    sel = pd.DataFrame({"module": np.asarray(sel["module"], dtype=object)})
    parts = sel["module"].astype(str).str.extract(r"^(.*)\.experts\.\d+\.(.*)$")
    expert = parts[0].notna().to_numpy()
    if expert.any():
        group = (parts[0] + "|" + parts[1])[expert]
        copies[expert] = cfg.experts / group.map(group.value_counts()).to_numpy(float)
    return copies


def plan_gemms(graph, plan) -> tuple[np.ndarray, list]:
    """(rows of ``n, k, numel, copies`` per distinct sparsifiable GEMM weight ``plan`` puts a pattern on (copies:
    :func:`expert_copies`), the patterns); independent of the hardware, so a table of many accelerators resolves
    each plan once."""
    from nmsim.execution.table import MATRIX_KINDS, SPARSE_KINDS
    from nmsim.frame import ops_rows
    from nmsim.sparsity.plan import resolve_plan
    ops = ops_rows(graph)
    mops = ops.take(np.isin(ops["kind"], MATRIX_KINDS))
    pats = resolve_plan(plan, mops)
    if pats is None:
        return np.zeros((0, 4)), []
    pats = pats.to_numpy(dtype=object) if hasattr(pats, "to_numpy") else np.asarray(pats, dtype=object)
    first = np.zeros(len(mops), bool)
    first[np.unique(np.asarray(mops["weight"], dtype=object), return_index=True)[1]] = True   # each weight once
    keep_rows = np.isin(mops["kind"], SPARSE_KINDS) & first
    sel = mops.take(keep_rows)
    rows = np.column_stack([np.stack([np.asarray(sel[c], float) for c in ("gemm_n", "gemm_k", "weight_numel")],
                                     axis=1).reshape(-1, 3),
                            expert_copies(sel, getattr(graph, "config", None))])
    keep = [(r, p) for r, p in zip(rows, pats[keep_rows])
            if p is not None and not isinstance(p, float) and not p.is_dense and r[2] > 0]
    return np.array([r for r, _ in keep]).reshape(-1, 4), [p for _, p in keep]


def weights_at_rest(graph, plan, hw, dtype: str, weight_dtype: str | None = None, gemms=None) -> WeightBytes:
    """:class:`WeightBytes` of ``graph``'s model under ``plan`` on ``hw`` (see module docstring); ``gemms``:
    :func:`plan_gemms` of the plan when the caller has it."""
    from nmsim.execution.patterns import pattern_info
    size = dtype_bytes(weight_dtype or dtype)
    params = model_params(graph)
    rows, pats = gemms if gemms is not None else plan_gemms(graph, plan)
    numel = values = meta = 0.0
    for (n, k, w, copies), p in zip(rows, pats):
        info = pattern_info(hw, dtype, p)
        if info.sparse:
            v, m = compressed_gemm_bytes(n, k, info, size)
            numel, values, meta = numel + w * copies, values + v * copies, meta + m * copies
    return WeightBytes(params, (params - numel) * size, values, meta, numel, float(rows[:, 2] @ rows[:, 3]))
