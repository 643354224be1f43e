"""price_gemms / price / price_many against issue-3 numbers."""
import numpy as np
import pandas as pd
import pytest

from nmsim.cost import price, price_gemms, price_many, price_workload, trace_for_mode
from nmsim.cost.pricing import TOTAL_COLUMNS
from nmsim.errors import UserError
from nmsim.graph import load_workload, trace_workload
from nmsim.hardware import load
from nmsim.sparsity import NMPattern, SparsityPlan


@pytest.fixture(scope="module")
def vit():
    return trace_workload(load_workload("vit-base-16"))  # batch 256: M = 256*197, a multiple of 32


def _ff(df, pass_="fwd"):
    return df[df["role"].isin(["ff1", "ff2"]) & (df["pass"] == pass_)]


def _price(g, plan, hw, dtype="bf16", passes=("fwd",), **kw):
    ops = g.matrix_ops
    return price_gemms(ops, SparsityPlan.parse(plan).resolve(ops), load(hw), dtype, passes, **kw)


def test_ff_24_on_a100_halves_executed_flops(vit):
    ff = _ff(_price(vit, "ff=2:4", "a100"))
    assert len(ff) == 24
    assert (ff["executed_flops"] == ff["nominal_flops"] / 2).all()
    assert (ff["hw_pattern"] == "2:4").all() and (ff["pattern"] == "2:4").all()


def test_1_16_runs_as_24_on_a100_and_at_1_16_on_ideal(vit):
    a = _ff(_price(vit, "ff=1:16", "a100", kernel="cusparselt"))  # the sparse tensor core: 1:16 fits 2:4
    assert (a["hw_pattern"] == "2:4").all() and (a["pattern"] == "1:16").all() and (a["kernel"] == "cusparselt").all()
    assert np.allclose(a["executed_flops"], a["nominal_flops"] / 2)
    fast = _ff(_price(vit, "ff=1:16", "a100"))  # fastest kernel: the paper's compressed-weight kernel at 1:16
    assert (fast["kernel"] == "compressed-nm").all() and (fast["hw_pattern"] == "1:16").all()
    assert np.allclose(fast["executed_flops"], fast["nominal_flops"] / 16)
    assert fast["seconds"].sum() < a["seconds"].sum()
    i = _ff(_price(vit, "ff=1:16", "ideal-nm"))
    assert (i["hw_pattern"] == "1:16").all()
    assert np.allclose(i["executed_flops"], i["nominal_flops"] / 16)


def test_8_64_fits_no_tensor_core_pattern_on_a100(vit):
    with pytest.raises(UserError, match="kernel 'cusparselt' runs no GEMM of this plan"):
        _price(vit, "ff=8:64", "a100", kernel="cusparselt")
    ff = _ff(_price(vit, "ff=8:64", "a100", kernel="cublas"))  # pinning the dense kernel: all dense
    assert (ff["hw_pattern"] == "dense").all() and (ff["pattern"] == "8:64").all()
    assert (ff["executed_flops"] == ff["nominal_flops"]).all() and (ff["metadata_bytes"] == 0).all()
    assert (_ff(_price(vit, "ff=8:64", "v100", dtype="fp16"))["kernel"] == "compressed-nm").all()


def test_act_matmuls_never_sparse_and_wgrad_dense(vit):
    df = _price(vit, "all=2:4", "a100", passes=("fwd", "dgrad", "wgrad"), dgrad_sparse=True)
    mm = df[df["kind"] == "matmul"]
    assert (mm["hw_pattern"] == "dense").all() and (mm["pattern"] == "dense").all()
    assert (df.loc[df["pass"] == "wgrad", "hw_pattern"] == "dense").all()
    assert set(df["pass"]) == {"fwd", "dgrad", "wgrad"}
    assert not ((df["kind"] == "matmul") & (df["pass"] == "wgrad")).any()  # 0 nominal FLOPs: skipped


def _one_gemm(m, k, n, b=1):
    flops = 2.0 * b * m * k * n
    return pd.DataFrame([{
        "id": 0, "op": "mm", "kind": "linear", "role": "ff1", "module": "x.ff1", "layer": 0, "gemm_b": b,
        "gemm_m": m, "gemm_k": k, "gemm_n": n, "has_bias": False, "x_grad": True, "w_grad": True,
        "weight_numel": k * n, "fwd_flops": flops, "dgrad_flops": flops, "wgrad_flops": flops,
        "vector_flops": 0.0, "bwd_vector_flops": 0.0, "weight": "x.ff1.weight"}])


def test_decode_4096_gemm_pads_to_32_rows_on_a100():
    ops = _one_gemm(1, 4096, 4096)
    hw = load("a100")
    dense = price_gemms(ops, pd.Series([None]), hw, "bf16", decode=True).iloc[0]
    sparse = price_gemms(ops, pd.Series([NMPattern(2, 4)]), hw, "bf16", decode=True, kernel="cusparselt").iloc[0]
    assert sparse["hw_pattern"] == "2:4"
    assert sparse["padded_flops"] == 32 * dense["nominal_flops"]
    assert sparse["executed_flops"] == 16 * dense["nominal_flops"]  # more work than the dense GEMV
    assert sparse["compute_seconds"] >= dense["compute_seconds"]  # padding: no compute gain
    assert dense["bound"] == "memory"
    # issue 3: sparse is not faster than dense; the cuSPARSELt kernel's small-M efficiency (fitted on the 2:4 time
    # of PyTorch issue 111339) with the dense GEMV predicted at 21.3 us (measured 22 us) gives the measured 0.11x
    assert sparse["kernel"] == "cusparselt" and dense["kernel"] == "cublas"
    assert sparse["seconds"] >= dense["seconds"]
    assert sparse["seconds"] == pytest.approx(0.196e-3, rel=0.01)
    assert dense["seconds"] / sparse["seconds"] == pytest.approx(0.111, rel=0.03)


def test_small_m_penalty_only_below_the_row_tile():
    hw = load("a100")
    ops = _one_gemm(64, 4096, 4096)
    dense = price_gemms(ops, pd.Series([None]), hw, "bf16").iloc[0]
    sparse = price_gemms(ops, pd.Series([NMPattern(2, 4)]), hw, "bf16").iloc[0]
    assert sparse["seconds"] < dense["seconds"]  # 64 rows: no padding, compressed weights help


def _kernel(hw, name):
    return next(k for k in hw.execution["kernels"] if k.name == name)


@pytest.mark.parametrize("hw_name", ["a100", "ideal-nm"])
def test_training_gemm_speedup_1_5_and_1_2(hw_name):
    ops = _one_gemm(32768, 32768, 32768)  # compute-bound, full waves at this size
    hw = load(hw_name)
    passes = ("fwd", "dgrad", "wgrad")
    # time of a sparse pass relative to dense: 1/2 on ideal 2x kernels; on a100 the fitted kernels' ratio
    # (efficiency x the per-tile overhead share k / (k + tile_overhead_k) of each kernel), and the 2:4 kernel's
    # shared-memory operand feed: at 624 TFLOPS over 108 SMs at 1,410 MHz an SM runs 4,098 FLOP/clk; 128 x 128
    # tiles of 64 x 64 warps move (2/128 + 1.125/128 + 2/64 + 1.125/64) / 2 B per FLOP (bf16 activations, 2:4
    # weights at 2 values + 4 index bits per 4), 150.1 B/clk against the 128 B/clk port: 0.853 of the peak
    # (the dense kernel asks 96 B/clk: not limited)
    eff = lambda k: k.efficiency * 32768 / (32768 + k.tile_overhead_k)  # noqa: E731
    feed = 128 / (624e12 / (108 * 1410e6) * (2 / 128 + 1.125 / 128 + 2 / 64 + 1.125 / 64) / 2)
    assert feed == pytest.approx(0.853, abs=5e-4)
    r = 0.5 if hw_name == "ideal-nm" else eff(_kernel(hw, "cublas")) / (2 * eff(_kernel(hw, "cusparselt")) * feed)
    dense = price_gemms(ops, pd.Series([None]), hw, "bf16", passes)["seconds"].sum()
    transposable = price_gemms(ops, pd.Series([NMPattern(2, 4, transposable=True)]), hw, "bf16", passes,
                               kernel="cusparselt" if hw_name == "a100" else None)
    assert transposable["bound"].eq("compute").all()
    assert dense / transposable["seconds"].sum() == pytest.approx(3 / (r + r + 1), rel=1e-4)
    plain = price_gemms(ops, pd.Series([NMPattern(2, 4)]), hw, "bf16", passes, dgrad_sparse=False)
    assert dense / plain["seconds"].sum() == pytest.approx(3 / (r + 1 + 1), rel=1e-4)
    if hw_name == "a100":  # a100 does not accept the transposed pattern: a plain mask gets a dense dgrad
        auto = price_gemms(ops, pd.Series([NMPattern(2, 4)]), hw, "bf16", passes)
        assert dense / auto["seconds"].sum() == pytest.approx(3 / (r + 2), rel=1e-4)
    else:
        assert r == 0.5 and 3 / (r + r + 1) == 1.5 and 3 / (r + 2) == 1.2


def test_weight_bytes_and_dtype_bytes():
    ops = _one_gemm(64, 4096, 4096)
    hw = load("a100")
    for dtype, ratio in (("bf16", 9 / 16), ("int8", 10 / 16)):
        d = price_gemms(ops, pd.Series([None]), hw, dtype).iloc[0]
        s = price_gemms(ops, pd.Series([NMPattern(2, 4)]), hw, dtype).iloc[0]
        assert s["weight_bytes"] / d["weight_bytes"] == pytest.approx(ratio)
    assert d["weight_bytes"] == 4096 * 4096  # int8: 1 byte, not the trace's fp32


def test_unsupported_dtype_is_user_error(vit):
    with pytest.raises(UserError, match="tpu-v4"):
        _price(vit, "ff=2:4", "tpu-v4", dtype="fp8")


def test_price_modes_and_totals(vit):
    p = price(vit, "ff=2:4", "a100", "bf16", "training")
    t = p.totals
    assert set(p.ops["pass"]) == {"fwd", "dgrad", "wgrad", "bwd", "step"}  # step: the optimizer update
    assert t["executed_flops"] < t["nominal_flops"]
    assert t["seconds"] == pytest.approx(p.ops["seconds"].sum())
    assert t["compute_share"] + t["memory_share"] + t["metadata_share"] == pytest.approx(1)
    assert set(t) == set(TOTAL_COLUMNS) and p.mode == "training"   # the documented totals, nothing else
    assert set(p.by("layer").columns) >= {"layer", "seconds", "bound"}
    with pytest.raises(UserError, match="decoder-only"):
        price(vit, None, "a100", mode="decode")


def test_decode_llama_uses_kv_heads_and_is_memory_bound():
    p = price_workload("llama-3-8b", "ff=2:4", "a100", "bf16", "decode", context=1024)
    assert p.totals["bound"] == "memory"
    logit = p.ops[(p.ops["role"] == "logit")].iloc[0]
    # q: 32 heads x 128; K cache read with 8 kv heads (not 32) over 1025 positions; flash attention: no scores
    assert logit["act_bytes"] == 2 * (32 * 128 + 8 * 128 * 1025)
    unfused = price_workload("llama-3-8b", "ff=2:4", "a100", "bf16", "decode", context=1024, fusion=False)
    logit = unfused.ops[(unfused.ops["role"] == "logit")].iloc[0]
    assert logit["act_bytes"] == 2 * (32 * 128 + 8 * 128 * 1025 + 32 * 1025)  # + the 32 x 1025 scores


def test_price_many_matches_price(vit):  # its speed: bench/bench_pricing.py (>= 10,000 configs/s)
    hws = [load(n) for n in ("a100", "h100-sxm5", "ideal-nm")]
    plans = ["dense", "ff=2:4", "ff=1:16", "all=1:8", "ff=2:4,qkv=1:8"]
    configs = [(p, h, "bf16") for h in hws for p in plans]
    many = price_many(vit, configs)
    for i, (plan, hw, dtype) in enumerate(configs):
        t = price(vit, plan, hw, dtype).totals
        for k in ("seconds", "executed_flops", "bytes", "joules", "metadata_bytes", "vector_flops"):
            assert many.loc[i, k] == pytest.approx(t[k], rel=1e-9), (i, k)
        assert many.loc[i, "bound"] == t["bound"]


@pytest.fixture(scope="module")
def bert_small():
    return trace_for_mode("bert-base", "training", 2, 8)


def _dropout_bytes(g, **kw):
    rows = price(g, None, "a100", "fp16", "training", dropout=True, **kw).ops
    return rows.loc[rows["kind"] == "dropout", "bytes"].to_numpy()


def test_dropout_masks_of_a_bert_training_step(bert_small):
    # 12 layers x (attention output + FF2) + the embeddings: 25 sites of 2 x 8 x 768 elements; 12 attention-prob
    # sites of 2 x 12 x 8 x 8; unfused, each element moves 2 x 2 B + a 1-byte mask per pass (fwd and bwd)
    hidden, probs = 25 * 2 * 8 * 768, 12 * 2 * 12 * 8 * 8
    assert _dropout_bytes(bert_small, fusion=False).sum() == 2 * 5 * (hidden + probs)
    # fused: FlashAttention draws its dropout in-kernel (0 B), a GEMM epilogue writes / reads only the mask; the
    # embeddings' dropout follows a norm and stays a kernel of its own
    assert _dropout_bytes(bert_small).sum() == 2 * (24 * 2 * 8 * 768 + 5 * 2 * 8 * 768)
    plain = price(bert_small, None, "a100", "fp16", "training", fusion=False).totals["seconds"]
    with_dropout = price(bert_small, None, "a100", "fp16", "training", fusion=False, dropout=True).totals["seconds"]
    assert with_dropout > plain


def test_dropout_is_training_only(bert_small):
    g = trace_for_mode("bert-base", "inference", 2, 8)
    with pytest.raises(UserError) as e:
        price(g, None, "a100", "fp16", "inference", dropout=True)
    assert str(e.value) == "--dropout: applies to --mode training only (this run prices --mode inference)"
    many = price_many(bert_small, [(None, "a100", "fp16")], "training", fusion=False, dropout=True)
    one = price(bert_small, None, "a100", "fp16", "training", fusion=False, dropout=True)
    assert many["seconds"].iloc[0] == pytest.approx(one.totals["seconds"], rel=1e-12)


def test_a_measured_training_row_prices_what_its_program_ran(bert_small):
    # nmsim validate's row keys fusion / copies / dropout / cuda_graphs are price()'s options: the same number
    from nmsim.cost.validate import predict
    row = {"workload": "bert-base", "mode": "training", "batch": 2, "seq": 8, "dtype": "fp16", "metric": "seconds",
           "fusion": False, "copies": True, "dropout": True, "cuda_graphs": False}
    hw = load("a100")
    direct = price(bert_small, None, hw, "fp16", "training", fusion=False, fuse_copies=False, dropout=True,
                   cuda_graphs=False).totals["seconds"]
    assert predict(row, hw) == direct
    plain = {k: v for k, v in row.items() if k not in ("fusion", "copies", "dropout", "cuda_graphs")}
    assert predict(plain, hw) == price(bert_small, None, hw, "fp16", "training").totals["seconds"] < direct
