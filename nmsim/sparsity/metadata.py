"""Metadata encodings for N:M compressed weights and compressed sizes.

Bits per group of M (one group = one rank-top span for hierarchical patterns):

- ``index``: N·⌈log2 M⌉ — the position of each kept element (NVIDIA: 2 bits per kept element of 2:4;
  source: Mishra et al., "Accelerating Sparse Deep Neural Networks", arXiv 2104.08378).
- ``bitmask``: M — one bit per position.
- ``combinatorial``: ⌈log2 C(M, N)⌉ — the rank of the kept subset among all C(M, N).
- ``hierarchical``: sum over ranks of (groups of that rank that survive the ranks above) × N_r·⌈log2 M_r⌉,
  i.e. an index per sparse rank (HighLight-style; dense ranks are free). Flat pattern: equals ``index``.
"""
from __future__ import annotations

import math

from nmsim.errors import UserError
from nmsim.sparsity.hierarchical import HierarchicalPattern

ENCODINGS = ("index", "bitmask", "combinatorial", "hierarchical")

# bytes per element
DTYPE_BYTES: dict[str, float] = {
    "fp64": 8, "fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "int4": 0.5,
}


def _clog2(x: int) -> int:
    return (x - 1).bit_length() if x > 1 else 0


def dtype_bytes(dtype: str, where: str | None = None) -> float:
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise UserError(f"unknown dtype {dtype!r} (known: {', '.join(DTYPE_BYTES)})", where) from None


def metadata_bits_per_group(pattern, encoding: str = "index") -> int:
    """Metadata bits for one group of ``pattern.m`` weights; 0 for dense (``None``)."""
    if pattern is None or pattern.is_dense:
        return 0
    n, m = pattern.n, pattern.m
    if encoding == "index":
        return n * _clog2(m)
    if encoding == "bitmask":
        return m
    if encoding == "combinatorial":
        return _clog2(math.comb(m, n))
    if encoding == "hierarchical":
        if not isinstance(pattern, HierarchicalPattern):
            return n * _clog2(m)
        bits, surviving = 0, 1
        for rank in reversed(pattern.ranks):  # outermost first
            if rank.n < rank.m:  # a dense rank needs no metadata
                bits += surviving * rank.n * _clog2(rank.m)
            surviving *= rank.n
        return bits
    raise UserError(f"unknown metadata encoding {encoding!r} (known: {', '.join(ENCODINGS)})")


def compressed_bytes(rows: int, cols: int, pattern, dtype: str = "bf16", encoding: str = "index") -> dict:
    """Bytes of a ``rows × cols`` weight compressed with ``pattern`` (groups of M along ``cols``).

    ``values_bytes = rows·cols·N/M·bytes(dtype)``; when M does not divide ``cols`` the last group of each row is
    padded (``⌈cols/M⌉`` groups). Dense (``None``) gives the plain size and no metadata.
    """
    size = dtype_bytes(dtype)
    if pattern is None or pattern.is_dense:
        values = rows * cols * size
        return {"values_bytes": values, "metadata_bytes": 0.0, "total_bytes": values}
    groups = rows * -(-cols // pattern.m)
    values = groups * pattern.n * size
    metadata = groups * metadata_bits_per_group(pattern, encoding) / 8
    return {"values_bytes": float(values), "metadata_bytes": float(metadata), "total_bytes": float(values + metadata)}
