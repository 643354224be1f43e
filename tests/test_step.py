"""nmsim.cost.step: the one place a priced step's totals are assembled (price, price_many, the shape sweep)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from nmsim.cost.step import TOTAL_COLUMNS, assemble, representative_rows, row_sum, step_kernel, vector_sums
from nmsim.execution import Priced

ROWS = 7


def priced(seconds: np.ndarray, bound: np.ndarray) -> Priced:
    """A model's answer with every quantity derived from ``seconds`` (so each total is checkable by hand)."""
    return Priced(executed_flops=2 * seconds, weight_bytes=3 * seconds, metadata_bytes=seconds / 4, act_bytes=seconds,
                  bytes=5 * seconds, compute_seconds=seconds, memory_seconds=seconds, metadata_seconds=seconds,
                  seconds=seconds, bound=bound, joules=7 * seconds, sparse=np.zeros(seconds.shape, bool),
                  kernel=np.zeros(seconds.shape, np.int64))


def vector_answer(seconds, bound) -> dict:
    return {"flops": 11 * seconds, "bytes": 13 * seconds, "seconds": seconds, "bound": bound, "joules": 17 * seconds}


def test_totals_by_hand():
    sec = np.array([1.0, 2.0, 4.0, 8.0])
    r = priced(sec, np.array([0, 1, 2, 0], np.int8))
    fwd = np.array([True, False, True, False])
    vec = vector_sums([(vector_answer(np.array([16.0, 32.0]), np.array([0, 1], np.int8)), row_sum)])
    t = assemble(r, fwd, vec, nominal=100.0, epilogue=3.0)
    assert set(t) == set(TOTAL_COLUMNS)
    assert (t["executed_flops"], t["bytes"], t["weight_bytes"], t["metadata_bytes"]) == (30.0, 75.0 + 13 * 48, 15.0,
                                                                                       1.25)
    assert (t["matrix_seconds"], t["vector_seconds"], t["seconds"], t["joules"]) == (15.0, 48.0, 63.0, 105 + 17 * 48)
    assert (t["nominal_flops"], t["vector_flops"]) == (100.0, 11 * 48 + 3.0)
    # compute: 1 + 8 (GEMMs) + 16 (vector); memory: 2 + 32; metadata: 4
    assert (t["compute_share"], t["memory_share"], t["metadata_share"]) == (25 / 63, 34 / 63, 4 / 63)
    assert t["bound"] == 1   # memory


def test_a_step_without_gemms_or_time():
    vec = vector_sums([])
    t = assemble(None, np.zeros(0, bool), vec, nominal=0.0, epilogue=0.0)
    assert t["seconds"] == 0 and t["compute_share"] == 0 and t["bound"] == 0
    t = assemble(None, np.zeros(0, bool), vector_sums([(vector_answer(np.array([2.0]), np.array([1])), row_sum)]),
                 nominal=0.0, epilogue=0.0)
    assert (t["seconds"], t["memory_share"], t["bound"], t["executed_flops"]) == (2.0, 1.0, 1, 0.0)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (3, ROWS), elements=st.floats(0, 1e3)),
       arrays(np.int8, (3, ROWS), elements=st.integers(0, 2)), arrays(np.float64, (3, 2), elements=st.floats(0, 1e3)))
def test_a_leading_axis_gives_each_steps_own_totals(sec, bound, vsec):
    """Steps stacked on a leading axis (configs, shapes) get, bit for bit, the totals each gets alone; the shares
    of a step with time sum to 1 and its bound holds the largest."""
    fwd = np.arange(ROWS) % 3 == 0
    stacked = assemble(priced(sec, bound), fwd, vector_sums([(vector_answer(vsec, np.zeros((3, 2), np.int8)),
                                                              row_sum)]), nominal=1.0, epilogue=0.0)
    for i in range(3):
        alone = assemble(priced(sec[i], bound[i]), fwd, vector_sums([(vector_answer(vsec[i], np.zeros(2, np.int8)),
                                                                      row_sum)]), nominal=1.0, epilogue=0.0)
        for c in TOTAL_COLUMNS:
            assert stacked[c][i] == alone[c] if np.ndim(stacked[c]) else stacked[c] == alone[c], c
        shares = [alone[f"{b}_share"] for b in ("compute", "memory", "metadata")]
        if alone["seconds"] > 0:
            assert sum(shares) == pytest.approx(1.0) and shares[alone["bound"]] == max(shares)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, ROWS, elements=st.floats(0, 1e3)), st.lists(st.integers(1, 4), min_size=ROWS,
                                                                       max_size=ROWS))
def test_multiplicities_equal_repeated_rows(sec, mult):
    """The shape sweep's rows priced once with a multiplicity give the totals of the rows repeated."""
    mult = np.asarray(mult, float)
    bound = (np.arange(ROWS) % 3).astype(np.int8)
    fwd = np.arange(ROWS) % 2 == 0
    vec = vector_sums([])
    once = assemble(priced(sec, bound), fwd, vec, nominal=0.0, epilogue=0.0, reduce=lambda a: a @ mult)
    rep = np.repeat(np.arange(ROWS), mult.astype(int))
    repeated = assemble(priced(sec[rep], bound[rep]), fwd[rep], vec, nominal=0.0, epilogue=0.0)
    for c in TOTAL_COLUMNS:
        assert once[c] == pytest.approx(repeated[c], rel=1e-12, abs=1e-12), c


def test_the_kernel_of_a_step():
    """The kernel of the first (largest) forward weight GEMM with an N:M pattern, else of the largest one."""
    rows = representative_rows(np.array([True, False, True, True]), np.array([5.0, 99.0, 7.0, 7.0]))
    assert list(rows) == [2, 3, 0]
    assert list(representative_rows(np.zeros(3, bool), np.ones(3))) == [0]
    kernel = np.array([[4, 5, 6], [4, 5, 6]])
    sparse = np.array([[False, True, True], [False, False, False]])
    assert list(step_kernel(kernel, sparse)) == [5, 4]
