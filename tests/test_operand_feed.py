"""The shared-memory operand feed of register-fed tensor-core kernels (nmsim.execution.operand_feed)."""
import dataclasses

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from nmsim.cost import price_gemms
from nmsim.execution.operand_feed import (bytes_per_flop, feed_factor, flops_per_clock, issue_factor,
                                         run_clock_factor)
from nmsim.hardware import load
from nmsim.sparsity.pattern import NMPattern


def _kernel(hw, name):
    return next(k for k in hw.execution["kernels"] if k.name == name)


def test_per_sm_rates_from_the_listed_peaks():
    # A100: 108 SMs x 1,024 FMA per clock at 1,410 MHz = 312 TFLOPS; RTX 4090 FP32 accumulate: 512 FLOPs per clock
    assert flops_per_clock(312, 108, 1410) == pytest.approx(2049.0, abs=1)
    assert flops_per_clock(165.2, 128, 2520) == pytest.approx(512.1, abs=0.1)


def test_bytes_per_flop_of_a_128_tile_with_64_warps():
    # fp16 dense: (2/128 + 2/128)/2 written + (2/64 + 2/64)/2 read = 3/64 bytes per FLOP
    assert bytes_per_flop(128, 128, 64, 64, 2.0, 2.0) == pytest.approx(3 / 64)
    # a 2:4 fp16 weight stores half its values and 2-bit indices: 1.125 bytes per element of k
    assert bytes_per_flop(128, 128, 64, 64, 2.0, 1.125) == pytest.approx(0.5 * 3.125 / 128 + 0.5 * 3.125 / 64)


@pytest.mark.parametrize("gpu, dtype, plan, factor", [
    ("a100", "fp16", "2:4", 128 / 150.0),    # 4,096 dense-equivalent FLOPs per clock ask 150 of 128 bytes
    ("a100", "fp16", None, 1.0),             # 96 of 128
    ("rtx-4090", "fp16", "2:4", 1.0),        # a quarter of the A100's rate at FP32 accumulate: 38 of 128
    ("rtx-4090", "fp16", None, 1.0),
])
def test_only_the_full_rate_sparse_pipe_is_feed_limited(gpu, dtype, plan, factor):
    hw = load(gpu)
    k = _kernel(hw, "cublas" if plan is None else "cusparselt")
    if plan is None:
        peak, w = hw.dense_tflops(dtype), 2.0
    else:
        peak, w = dict((str(p), t) for p, t in hw.sparse_options(dtype))[plan], 1.125
    assert feed_factor(k, hw.execution, peak, 2.0, w) == pytest.approx(factor, rel=1e-3)


def test_the_limit_prices_the_a100_2to4_gemm_and_goes_with_the_warp_tile():
    hw = load("a100")
    ops = pd.DataFrame([{"id": 0, "kind": "linear", "role": "ff1", "module": "ff1", "layer": 0, "gemm_b": 1,
                         "gemm_m": 16384, "gemm_k": 16384, "gemm_n": 16384, "has_bias": False,
                         "weight_numel": 16384 ** 2, "fwd_flops": 2.0 * 16384 ** 3, "dgrad_flops": 0.0,
                         "wgrad_flops": 0.0, "vector_flops": 0.0, "bwd_vector_flops": 0.0}])
    plan = pd.Series([NMPattern(2, 4)], index=ops.index, dtype=object)
    kernels = tuple(dataclasses.replace(k, warp_m=0, warp_n=0) for k in hw.execution["kernels"])
    bare = dataclasses.replace(hw, execution={**hw.execution, "kernels": kernels})
    limited = price_gemms(ops, plan, hw, "fp16", kernel="cusparselt").iloc[0]
    free = price_gemms(ops, plan, bare, "fp16", kernel="cusparselt").iloc[0]
    assert limited["compute_seconds"] / free["compute_seconds"] == pytest.approx(150 / 128.0, rel=1e-3)


@settings(deadline=None, max_examples=60)
@given(peak=st.floats(1.0, 2000.0), rate=st.floats(0.05, 1.0), act=st.sampled_from([1.0, 2.0, 4.0]),
       w=st.floats(0.25, 4.0))
def test_a_slower_pipe_never_reaches_less_of_its_peak(peak, rate, act, w):
    """The demand scales with the tensor rate per SM, the port does not: share(rate x peak) >= share(peak)."""
    k = _kernel(load("a100"), "cusparselt")
    gpu = load("a100").execution
    full, slow = feed_factor(k, gpu, peak, act, w), feed_factor(k, gpu, peak * rate, act, w)
    assert 0.0 < full <= slow <= 1.0


@pytest.mark.parametrize("gpu, dtype, kernel, eff", [
    ("a100", "fp16", "cublas", 0.814),                  # fitted at its own rate: unchanged
    ("a100", "tf32", "cublas", 1 / (1 + 0.5 * (1 / 0.814 - 1))),    # half the rate: half the issue loss
    ("a100", "int8", "cublas", 1 / (1 + 2 * (1 / 0.814 - 1))),
    ("rtx-4090", "fp16", "cublas", 0.9459),             # FP32 accumulate: a quarter of the A100's rate per SM
    ("rtx-4090", "fp16", "cusparselt", 0.9439),
])
def test_a_fitted_efficiency_is_issue_time_per_flop(gpu, dtype, kernel, eff):
    hw = load(gpu)
    k = _kernel(hw, kernel)
    assert k.efficiency * issue_factor(k, hw.execution, hw.dense_tflops(dtype)) == pytest.approx(eff, abs=1e-4)


def test_a_model_run_holds_the_sustained_clock_a_gemm_alone_the_boost_clock():
    ada, a100 = load("rtx-4090").execution, load("a100").execution
    assert run_clock_factor(ada, burst=True) == 1.0
    assert run_clock_factor(ada, burst=False) == pytest.approx(2235 / 2520)   # datasheet base over boost
    assert run_clock_factor(a100, burst=False) == 1.0                        # no sustained clock given


@settings(deadline=None, max_examples=60)
@given(eff=st.floats(0.05, 1.0), rate=st.floats(1.0, 8192.0))
def test_issue_time_keeps_more_of_a_slower_pipe(eff, rate):
    k = dataclasses.replace(_kernel(load("a100"), "cublas"), efficiency=eff)
    gpu = load("a100").execution
    at = lambda r: eff * issue_factor(k, gpu, r * 108 * 1410e6 / 1e12)   # noqa: E731  (TFLOPS at r per SM-clock)
    assert at(2048) == pytest.approx(eff)
    assert 0.0 < at(max(rate, 2048.0)) <= at(min(rate, 2048.0)) <= 1.0
