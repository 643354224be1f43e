"""Pareto fronts: hypothesis properties (no front point dominated; every other point dominated by a front point)."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.report.pareto import dominates, pareto_front, pareto_mask

values = st.integers(min_value=0, max_value=6).map(float)  # small range: many ties and duplicates
points = st.lists(st.tuples(values, values, values), min_size=0, max_size=25)


def _dom(a, b, n_min):
    """a dominates b with the first n_min columns minimised, the rest maximised."""
    a = np.array(a, float)
    b = np.array(b, float)
    sign = np.array([1.0] * n_min + [-1.0] * (len(a) - n_min))
    return dominates(a * sign, b * sign)


@settings(max_examples=200, deadline=None)
@given(points, st.integers(min_value=0, max_value=3))
def test_front_properties(pts, n_min):
    df = pd.DataFrame(pts, columns=["a", "b", "c"])
    cols = ["a", "b", "c"]
    if n_min == 0:
        cols = cols[:2]
        n_min = 1  # at least one minimised objective; "c" unused
    minimize, maximize = cols[:n_min], cols[n_min:]
    mask = pareto_mask(df, minimize, maximize)
    rows = df[minimize + maximize].to_numpy()
    front = rows[mask.to_numpy()]
    off = rows[~mask.to_numpy()]
    for p in front:
        assert not any(_dom(q, p, n_min) for q in rows)
    for p in off:
        assert any(_dom(q, p, n_min) for q in front)
    if len(df):
        assert mask.any()


def test_simple_and_nan():
    df = pd.DataFrame({"flops": [1, 2, 3, 2, np.nan], "acc": [70, 75, 74, 75, 99]})
    mask = pareto_mask(df, minimize="flops", maximize="acc")
    assert mask.tolist() == [True, True, False, True, False]
    assert pareto_front(df, "flops", "acc")["flops"].tolist() == [1, 2, 2]
    with pytest.raises(ValueError):
        pareto_mask(df)
