"""Matrix FLOPs per token of a traced step, beside the 6N rule (Kaplan et al., arXiv 2001.08361, section 2.1:
training costs about 6N FLOPs per token, forward about 2N, N the parameters), and which attention count a table
prices.

Causal attention: nmsim prices the logit (Q K^T) and attend (P V) GEMMs at the full T x T, the count of
``torch.utils.flop_counter.FlopCounterMode`` and of the 6N + 12 L T d formula (Narayanan et al., arXiv
2104.04473, appendix): the masked upper triangle is counted and timed. FlashAttention kernels skip the fully
masked tiles (Dao, arXiv 2307.08691, section 3.1.1), so a causal forward over T query tokens does about
(T + 1) / 2T of that work; :func:`flops_per_token` gives that causal-aware figure beside the priced one. A decode
step (one query over the cache) and a bidirectional encoder mask nothing.
"""
from __future__ import annotations

from nmsim.cost.gemm import MATRIX_KINDS
from nmsim.units import si

ATTENTION_ROLES = ("logit", "attend")


def masked_share(causal: bool, query_len: int) -> float:
    """Share of a T x T score matrix above the diagonal: (T - 1) / 2T for a causal forward, else 0."""
    return (query_len - 1) / (2 * query_len) if causal and query_len > 1 else 0.0


def flops_per_token(graph, tokens: float, query_len: int, causal: bool, params: float | None = None) -> dict:
    """Matrix FLOPs per token of ``graph`` (``tokens`` in the traced step): ``forward`` and ``training``
    (forward + dgrad + wgrad), as priced (full T x T), the ``*_causal`` counts skipping masked tiles, and
    ``two_n``/``six_n`` from ``params`` (default: the workload's parameter count; active ones for MoE)."""
    import numpy as np

    from nmsim.frame import ops_rows

    ops = ops_rows(graph)
    mat = ops.take(np.isin(ops["kind"], MATRIX_KINDS))
    train = np.stack([np.asarray(mat[c], float) for c in ("fwd_flops", "dgrad_flops", "wgrad_flops")])
    attn = np.isin(mat["role"], ATTENTION_ROLES)
    fwd, train_sum = float(np.sum(train[0])), float(np.sum(train))
    share = masked_share(causal, query_len)
    attn_fwd = float(np.sum(train[0][attn]))
    attn_train = float(np.sum(train[:, attn]))
    if params is None:
        from nmsim.graph.api import parameter_totals
        counts = parameter_totals(graph.config)
        params = float(counts.get("active", counts["total"]))   # a mixture of experts: what a token uses
    return {"tokens": float(tokens), "forward": fwd / tokens, "training": train_sum / tokens,
            "forward_causal": (fwd - share * attn_fwd) / tokens,
            "training_causal": (train_sum - share * attn_train) / tokens,
            "attention_share": attn_fwd / fwd if fwd else 0.0, "masked_share": share, "params": float(params),
            "two_n": 2.0 * params, "six_n": 6.0 * params}


def attention_basis(causal: bool, query_len: int) -> str:
    """What a table's attention FLOPs and times are: full T x T for a causal forward (masked half counted)."""
    if masked_share(causal, query_len) == 0:
        return "attention: nothing masked (bidirectional, or one query over the cache)"
    return "attention at full T x T: the causal mask's upper half is counted and timed (as FlopCounterMode)"


def per_token_line(f: dict, training: bool = True) -> str:
    """``# per token: forward 19.3 GFLOP (2N = 16.1 GFLOP), training step ...`` with the causal-aware figure."""
    g = lambda v: si(v, "FLOP")  # noqa: E731
    text = f"# per token: forward {g(f['forward'])} (2N = {g(f['two_n'])})"
    if training:
        text += f", training step {g(f['training'])} (6N = {g(f['six_n'])})"
    text += f"; N = {f['params'] / 1e6:,.1f}M parameters"
    if f["masked_share"] > 0:
        causal = f"forward {g(f['forward_causal'])}" + (f", training {g(f['training_causal'])}" if training else "")
        text += f"; attention at full T x T (masked half counted); skipping masked tiles: {causal}"
    else:
        text += "; attention: nothing masked"
    return text + "\n"
