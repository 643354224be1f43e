"""High-level graph API: trace a workload config, tables by op/role/layer/module, the paper's FLOP view.

torch is imported only when a trace actually runs: a shape answered by the workload's shape-generic graph (in
memory or in the trace cache, see :mod:`nmsim.graph.shapes`) needs no torch.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from nmsim.graph import roles as R
from nmsim.graph.config import ModelConfig
from nmsim.graph.opgraph import OpGraph

if TYPE_CHECKING:
    import pandas as pd


def trace_workload(cfg: ModelConfig, batch: int | None = None, seq: int | None = None, past: int = 0) -> OpGraph:
    """Build ``cfg`` on the meta device and trace one forward pass.

    ``past`` > 0 traces single-step decoding with a KV cache of ``past`` positions (decoder-only models):
    the new tokens (``seq``, usually 1) attend over ``past + seq`` keys. A shape the model cannot take (more
    positions than its learned position table, sizes out of range) is a :class:`~nmsim.errors.UserError`.
    The workload's ``roles`` map (if any) is applied.
    """
    batch = cfg.batch if batch is None else batch
    seq = seq or (cfg.seq_len if not cfg.is_image else None)
    cfg.check_shape(batch, seq, past)
    from nmsim.graph.shapes import graph_at  # the shape-generic graph, when there is one (identical numbers)

    return graph_at(cfg, batch, seq, past) or _trace_cached(cfg, batch, seq, past)


@functools.lru_cache(maxsize=32)
def _trace_cached(cfg: ModelConfig, batch: int, seq: int | None, past: int) -> OpGraph:
    return trace_uncached(cfg, batch, seq, past)


def trace_uncached(cfg: ModelConfig, batch: int, seq: int | None, past: int = 0) -> OpGraph:
    """One meta-device trace of ``cfg`` at this shape (no caches): four layers per stack replicated to the
    model's depth when they provably repeat (:mod:`nmsim.graph.replicate`; the same graph), else every layer."""
    from nmsim.graph.replicate import trace_replicated

    graph = trace_replicated(cfg, batch, seq, past)
    return graph if graph is not None else trace_full(cfg, batch, seq, past)


def trace_full(cfg: ModelConfig, batch: int, seq: int | None, past: int = 0) -> OpGraph:
    """One meta-device trace of every layer of ``cfg`` at this shape."""
    import torch

    from nmsim.graph.builder import build_model, example_inputs
    from nmsim.graph.tracer import trace

    with torch.device("meta"):
        model = build_model(cfg)
    inputs = example_inputs(cfg, batch=batch, seq=seq)
    kwargs = {"past": past} if past else None
    return trace(model, inputs, example_kwargs=kwargs, config=cfg, roles=cfg.roles or None)


PAPER_LABELS = {R.Q: "Q", R.K: "K", R.V: "V", R.O: "O", R.LOGIT: "Logit", R.ATTEND: "Attend",
                R.FF1: "FF1", R.FF2: "FF2"}


from nmsim.columns import PAPER_COLUMNS  # noqa: E402,F401 (paper_view's columns, by op)


def paper_view(cfg: ModelConfig, tokens: int = 196) -> pd.DataFrame:
    """The paper's inference FLOP convention: per input, only Q, K, V, O, Logit, Attend, FF1, FF2, at ``tokens``.

    Image models are traced without the class token at batch 1 (ViT-B/16 at 224/16 gives the 196 tokens of
    Table 18); text models at ``seq = tokens``. Returns one row per counted op role with forward GFLOPs, and
    a ``total`` row.
    """
    if cfg.is_image:
        side = int(round(tokens ** 0.5)) * cfg.patch_size
        cfg = cfg.replace(class_token=False, image_size=side, batch=1)
        graph = trace_workload(cfg, batch=1)
    else:
        graph = trace_workload(cfg, batch=1, seq=tokens)
    ops = graph.ops[graph.ops["role"].isin(PAPER_LABELS)]
    per_role = ops.groupby("role")["fwd_flops"].sum()
    rows = [(PAPER_LABELS[r], per_role.get(r, 0.0) / 1e9) for r in R.PAPER_ROLES]
    import pandas as pd

    table = pd.DataFrame(rows, columns=["op", *PAPER_COLUMNS]).set_index("op")
    table.loc["total"] = table["gflops"].sum()
    return table


def parameter_counts(cfg: ModelConfig) -> pd.Series:
    """Weight-matrix parameters by role (weights only, as the paper counts them) plus ``total`` (all params) and,
    for a mixture of experts, ``active`` (the parameters one token uses)."""
    import pandas as pd

    return pd.Series(parameter_totals(cfg), dtype="int64")


def parameter_totals(cfg: ModelConfig) -> dict[str, int]:
    """:func:`parameter_counts` as a dict (from a cached shape-generic graph: no pandas, no torch)."""
    from nmsim.graph.shapes import cached_parameter_counts

    counts = cached_parameter_counts(cfg)
    counts = {k: int(v) for k, v in (counts if counts is not None else parameter_counts_uncached(cfg)).items()}
    if cfg.is_moe:
        counts["active"] = active_parameters(cfg, counts)
    return counts


def active_parameters(cfg: ModelConfig, counts) -> int:
    """Parameters one token uses in a mixture-of-experts model: ``total`` less the (experts - k) / experts share
    of the expert weights (the ff1, ff_gate, ff2 roles: every feed-forward layer is a mixture) and their biases."""
    ff = [r for r in (R.FF1, R.FF_GATE, R.FF2) if r in counts]
    biases = sum(cfg.d_model if r == R.FF2 else cfg.ffn for r in ff if cfg.has_bias(r))
    expert = sum(int(counts[r]) for r in ff) + cfg.layers * cfg.experts * biases
    return int(counts["total"]) - expert * (cfg.experts - cfg.experts_per_token) // cfg.experts


def parameter_counts_uncached(cfg: ModelConfig) -> pd.Series:
    """:func:`parameter_counts` from the model built on the meta device (four layers per stack, replicated,
    when they provably repeat: :mod:`nmsim.graph.replicate`)."""
    import torch

    from nmsim.graph.builder import build_model
    from nmsim.graph.replicate import parameter_counts_replicated, parameter_table

    import pandas as pd

    counts = parameter_counts_replicated(cfg)
    if counts is None:
        with torch.device("meta"):
            counts = parameter_table(build_model(cfg))[0]
    return pd.Series(counts, dtype="int64")
