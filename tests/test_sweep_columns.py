"""Sweep frames hold text as categoricals (a 10⁶-row sweep holds a few strings, not 10⁶): same values, same
CSV and JSON text as the string columns they replace. Size and speed of a 10⁶-config sweep: bench/bench_pricing.

``tests/data/shape_sweep_{gpt2,vit}.csv`` were written by ``price_shapes(...).to_csv(index=False)`` at commit
d8e3356 (string columns, whole sweep priced in one block) for the grids of :func:`_sweeps`; when every path
came to assemble totals through ``nmsim.cost.step.assemble``, 11 cells of the 5 seq-1 training rows of the GPT-2
file (priced by price_many, whose vector sums moved from pandas to numpy order) moved by at most 2.4e-16 relative.
Both files were rewritten by the same call at 1cbb22c, which gave GPU inference steps a fitted per-kernel gap
(``kernel_gap_us``): exactly their GPU prefill/decode/inference rows moved (84 of 216), no other row. Rewritten
again when the A100's 2:4 kernel got its shared-memory operand feed (``nmsim.execution.operand_feed``: efficiency
0.689 became 0.808 x the feed's 0.853 = 0.6895): exactly its ff=2:4 rows moved (16 of 216), by 7e-4 relative.
Rewritten when the H100 SXM5 and H200 cuBLAS became stream-K (no wave quantization, as the H100 PCIe's):
exactly their rows moved (72 of 216), by at most 23 % (small GEMMs that had left SMs idle).
Rewritten again when GPU vector kernels moved to each spec's measured STREAM-like share of DRAM bandwidth
(``vector_bandwidth_efficiency``): exactly the rows of the three specs that carry one (A100, H100, H200; 144 of 216)
moved, the ideal-nm and TPU v4 rows did not.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.cost import price, price_many, trace_for_mode
from nmsim.cost import shape_sweep
from nmsim.cost.pricing import categorical
from nmsim.graph import load_workload
from test_shapes import cache_dir  # noqa: F401  (fixture: a fresh trace cache)

DATA = Path(__file__).parent / "data"
TEXT = ["mode", "plan", "hardware", "dtype", "bound", "kernel"]
CONFIGS = [(None, "a100", "bf16"), ("ff=2:4", "a100", "bf16"), ("all=1:8", "ideal-nm", "bf16"),
           ("ff=2:4", "h100", "fp16"), ("all=2:4", "tpu-v4", "bf16"), ("ff=1:4,qkv=2:4", "h200", None)]


def _sweeps():
    """(golden file, frame): every execution model (gpu, roofline, systolic), text, decode and image shapes, and
    seq 1 (outside the shape-generic domain: traced and priced by price_many)."""
    gpt2 = shape_sweep.price_shapes(load_workload("trainer-gpt2-chars"), CONFIGS, ("prefill", "decode", "training"),
                                    {"batch": [1, 3, 4], "seq": [1, 16, 40], "context": [3, 50]})
    vit = shape_sweep.price_shapes(load_workload("vit-tiny"), CONFIGS, ("inference", "training"),
                                   {"batch": [1, 5], "image_size": [16, 32, 40]})
    return [("shape_sweep_gpt2.csv", gpt2), ("shape_sweep_vit.csv", vit)]


def test_small_grids_equal_the_string_frames_exactly(cache_dir):
    for name, df in _sweeps():
        assert df["fits"].dtype == bool and (df["mem_gib"] > 0).all()   # memory columns came later than the files
        df = df.drop(columns=["mem_gib", "fits"])
        golden = (DATA / name).read_text()
        assert df.to_csv(index=False) == golden, name   # same CSV text, so the same values to the last bit
        want = pd.read_csv(DATA / name)
        assert list(df.columns) == list(want.columns)
        for c in df.columns:
            got = df[c].astype(str) if c in TEXT else df[c]
            assert (got.to_numpy() == want[c].to_numpy()).all(), (name, c)
        assert [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)] == TEXT
        assert not any(df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype) and c not in TEXT
                       for c in df.columns)
        as_text = df.astype({c: object for c in TEXT})
        assert df.to_json(orient="records") == as_text.to_json(orient="records")
        # categories sorted: sorting by a text column orders the rows as sorting the strings does
        assert list(df.sort_values(["plan", "kernel"], kind="stable").index) == \
            list(as_text.sort_values(["plan", "kernel"], kind="stable").index)


def test_blocks_of_shapes_give_the_numbers_of_one_block(cache_dir, monkeypatch):
    """A sweep priced 64 shapes at a time equals the same sweep priced in one block, bit for bit."""
    cfg = load_workload("trainer-gpt2-chars")
    shapes = {"batch": list(range(1, 11)), "seq": list(range(2, 21)), "context": list(range(8, 27))}
    whole = shape_sweep.price_shapes(cfg, CONFIGS[:4], ("prefill", "decode"), shapes)
    assert len(whole) == 2 * 190 * 4
    monkeypatch.setattr(shape_sweep, "CHUNK_ELEMENTS", 1)   # 64 shapes per block: 3 blocks per region
    blocks = shape_sweep.price_shapes(cfg, CONFIGS[:4], ("prefill", "decode"), shapes)
    pd.testing.assert_frame_equal(blocks, whole, check_exact=True)


def test_price_many_text_columns_are_those_of_price():
    graph = trace_for_mode("vit-tiny", "inference", batch=2)
    configs = [(p, h, d) for h in ("a100", "tpu-v4", "v100") for p in ("dense", "ff=2:4", "all=1:8")
               for d in (None,)]
    many = price_many(graph, configs)
    assert [c for c in many.columns if isinstance(many[c].dtype, pd.CategoricalDtype)] == \
        ["plan", "hardware", "dtype", "bound", "kernel"]
    for i, (plan, hw, dtype) in enumerate(configs):
        p = price(graph, plan, hw, dtype)
        assert (many.loc[i, "plan"], many.loc[i, "hardware"], many.loc[i, "dtype"], many.loc[i, "bound"]) == \
            (p.plan, p.hardware, p.dtype, p.totals["bound"])
    assert list(many["hardware"].cat.categories) == ["a100-sxm4-80gb", "tpu-v4", "v100"]   # only those used
    # the kernel of the largest sparse GEMM, else of the largest GEMM (the string column's values before)
    assert list(many["kernel"]) == ["cublas", "compressed-nm", "compressed-nm", "dense", "dense", "dense", "cublas",
                                    "cublas", "compressed-nm"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["b", "a", "dense", "2:4", "a"]), min_size=1, max_size=6).flatmap(
    lambda names: st.tuples(st.just(names), st.lists(st.integers(0, len(names) - 1), max_size=40))))
def test_categorical_decodes_to_the_names(case):
    names, codes = case
    col = categorical(np.array(codes, dtype=np.int64), names)
    assert list(col.astype(object)) == [names[c] for c in codes]
    assert list(col.categories) == sorted({names[c] for c in codes})   # used names only, sorted
