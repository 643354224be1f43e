"""Metadata encodings: published per-group sizes, NVIDIA compressed-size ratios, hierarchical metadata."""
from fractions import Fraction

import pytest

from nmsim.errors import UserError
from nmsim.sparsity import NMPattern, compressed_bytes, metadata_bits_per_group, parse_any

# metadata bits per group of M (NVIDIA 2:4: 2-bit index per kept value; index/bitmask encodings)
TABLE = [  # pattern, index, bitmask, combinatorial
    ("2:4", 4, 4, 3), ("1:4", 2, 4, 2), ("1:8", 3, 8, 3), ("2:8", 6, 8, 5), ("4:8", 12, 8, 7), ("2:16", 8, 16, 7),
]


@pytest.mark.parametrize("pattern,index,bitmask,comb", TABLE)
def test_metadata_table(pattern, index, bitmask, comb):
    p = NMPattern.parse(pattern)
    assert metadata_bits_per_group(p, "index") == index
    assert metadata_bits_per_group(p, "bitmask") == bitmask
    assert metadata_bits_per_group(p, "combinatorial") == comb
    assert metadata_bits_per_group(p, "hierarchical") == index  # one rank = index


@pytest.mark.parametrize("dtype,ratio", [("fp16", Fraction(9, 16)), ("bf16", Fraction(9, 16)), ("int8", Fraction(10, 16))])
def test_nvidia_2_4_compressed_ratio(dtype, ratio):
    rows, cols = 4096, 4096
    dense = compressed_bytes(rows, cols, None, dtype)
    sparse = compressed_bytes(rows, cols, NMPattern(2, 4), dtype, "index")
    assert dense["metadata_bytes"] == 0
    assert Fraction(sparse["total_bytes"]) / Fraction(dense["total_bytes"]) == ratio
    assert sparse["values_bytes"] == dense["total_bytes"] / 2


def test_values_and_dtypes():
    out = compressed_bytes(8, 16, NMPattern(1, 16), "int4", "bitmask")
    assert out == {"values_bytes": 8 * 1 * 0.5, "metadata_bytes": 8 * 16 / 8, "total_bytes": 4 + 16}
    assert compressed_bytes(2, 8, NMPattern(2, 8), "fp32")["values_bytes"] == 2 * 8 * 2 / 8 * 4
    assert compressed_bytes(1, 6, NMPattern(2, 4), "fp8")["values_bytes"] == 4  # 2 groups (last padded) x 2 x 1 B
    with pytest.raises(UserError, match="unknown dtype 'fp4'"):
        compressed_bytes(4, 4, NMPattern(2, 4), "fp4")
    with pytest.raises(UserError, match="unknown metadata encoding 'huffman'"):
        metadata_bits_per_group(NMPattern(2, 4), "huffman")
    assert metadata_bits_per_group(None, "index") == 0
    assert metadata_bits_per_group(NMPattern(4, 4), "bitmask") == 0


def test_hierarchical_metadata():
    h = parse_any("2:4/2:4")  # outer: 2 of 4 blocks (2 x 2 bits); inner: 2 of 4 in each of the 2 blocks (2 x 4 bits)
    assert metadata_bits_per_group(h, "hierarchical") == 4 + 2 * 4
    assert metadata_bits_per_group(h, "bitmask") == 16
    assert metadata_bits_per_group(h, "index") == 4 * 4
    assert metadata_bits_per_group(parse_any("4:4/1:4"), "hierarchical") == 2  # dense inner rank is free
    out = compressed_bytes(16, 16, h, "bf16", "hierarchical")
    assert out["values_bytes"] == 16 * 4 * 2 and out["metadata_bytes"] == 16 * 12 / 8
