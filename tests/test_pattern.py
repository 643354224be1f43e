"""NMPattern / HierarchicalPattern: parsing, density, worst-case fit (exact cases + brute force properties)."""
import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.errors import UserError
from nmsim.sparsity import HierarchicalPattern, NMPattern, parse_any, worst_case_occupancy

P = NMPattern


@pytest.mark.parametrize("plan,fits", [("1:8", True), ("2:8", True), ("1:2", True), ("2:4", True),
                                       ("1:4", True), ("1:16", True), ("4:8", False), ("8:64", False),
                                       ("3:4", False), ("3:8", False)])
def test_fits_2_4(plan, fits):
    assert parse_any(plan).fits(P(2, 4)) is fits


def test_parse_and_str():
    assert NMPattern.parse("dense") is None
    assert str(NMPattern.parse("1:16T")) == "1:16T" and NMPattern.parse("1:16T").transposable
    h = parse_any("2:4/2:4")
    assert isinstance(h, HierarchicalPattern) and str(h) == "2:4/2:4"
    assert (h.n, h.m, h.density) == (4, 16, 0.25)
    assert parse_any("1:2/3:4T").transposable and parse_any("1:2/3:4").density == 3 / 8
    assert parse_any("1:8") == P(1, 8)
    for bad in ("2:4/", "2:4/x", "3:2/2:4", "2:4/dense", "2:4T/2:4"):
        with pytest.raises(UserError):
            parse_any(bad)


def test_hierarchical_fit():
    h = parse_any("2:4/2:4")
    assert h.worst_case_per_block(4) == 2 and h.worst_case_per_block(16) == 4
    assert h.fits(P(2, 4)) and h.fits(h)
    assert P(1, 8).fits(h)  # <= 2 non-empty 4-blocks in every 16
    assert not P(2, 8).fits(h)  # can touch 4 different 4-blocks in 16
    assert not P(1, 4).fits(h)
    assert parse_any("2:4/1:4").fits(h) and not h.fits(parse_any("2:4/1:4"))
    assert not parse_any("4:4/2:4").fits(P(2, 4))


def _random_mask(n, m, length, rng):
    mask = []
    for _ in range(length // m):
        keep = set(rng.sample(range(m), rng.randint(0, n)))
        mask += [i in keep for i in range(m)]
    return mask


def _exhaustive_worst(n, m, q):
    """Max nonzeros in any aligned q-block, enumerating every N:M placement over one period."""
    period = math.lcm(m, q)
    groups = [list(itertools.combinations(range(m), n))] * (period // m)
    worst = 0
    for choice in itertools.product(*groups):
        mask = [False] * period
        for g, kept in enumerate(choice):
            for i in kept:
                mask[g * m + i] = True
        worst = max(worst, max(sum(mask[s:s + q]) for s in range(0, period, q)))
    return worst


small = st.tuples(st.integers(1, 4), st.integers(1, 4)).filter(lambda t: t[0] <= t[1])


@settings(max_examples=60, deadline=None)
@given(nm=small, q=st.integers(1, 4))
def test_worst_case_matches_exhaustive(nm, q):
    n, m = nm
    assert P(n, m).worst_case_per_block(q) == _exhaustive_worst(n, m, q)


nm_pairs = st.integers(1, 32).flatmap(lambda m: st.tuples(st.integers(1, m), st.just(m)))


@settings(max_examples=100, deadline=None)
@given(nm=nm_pairs, q=st.integers(1, 32), seed=st.integers(0, 2**16))
def test_worst_case_bounds_and_random_placements(nm, q, seed):
    n, m = nm
    p = P(n, m)
    worst = p.worst_case_per_block(q)
    assert worst <= q and worst >= min(q, n) * (1 if q <= m else 0)
    assert worst <= n * (q // m + 2)
    assert worst == worst_case_occupancy(((n, m),), q, 1)  # the hierarchical engine agrees on one rank
    rng = random.Random(seed)
    period = math.lcm(m, q)
    mask = _random_mask(n, m, period, rng)
    assert all(sum(mask[s:s + q]) <= worst for s in range(0, period, q))
    # fits() is sound: a pattern that fits never overfills a hardware block in a random placement
    for hw in (P(2, 4), P(1, 2), P(4, 8), P(1, 4)):
        if p.fits(hw):
            hw_period = math.lcm(m, hw.m)
            mask = _random_mask(n, m, hw_period, rng)
            assert all(sum(mask[s:s + hw.m]) <= hw.n for s in range(0, hw_period, hw.m))


@settings(max_examples=100, deadline=None)
@given(m=st.integers(1, 32), q=st.integers(1, 32))
def test_density_and_worst_case_monotone_in_n(m, q):
    prev_density, prev_worst = 0.0, 0
    for n in range(1, m + 1):
        p = P(n, m)
        assert p.density > prev_density
        assert p.worst_case_per_block(q) >= prev_worst
        prev_density, prev_worst = p.density, p.worst_case_per_block(q)
    assert prev_worst == q  # dense fills every block


@settings(max_examples=50, deadline=None)
@given(ranks=st.lists(st.sampled_from([(1, 2), (2, 2), (1, 4), (2, 4), (3, 4), (4, 4)]), min_size=2, max_size=3),
       seed=st.integers(0, 2**16))
def test_hierarchical_random_placements(ranks, seed):
    h = HierarchicalPattern(tuple(P(n, m) for n, m in ranks))
    assert h.density == math.prod(n for n, _ in ranks) / math.prod(m for _, m in ranks)
    rng = random.Random(seed)
    # build a random mask following every rank, innermost first
    span = h.m
    for _ in range(5):
        def build(level):  # positions of one unit at `level` (level = number of ranks covered)
            if level == 0:
                return [True]
            n, m = ranks[level - 1]
            child = math.prod(mm for _, mm in ranks[:level - 1])
            keep = set(rng.sample(range(m), n))
            out = []
            for i in range(m):
                out += build(level - 1) if i in keep else [False] * child
            return out
        mask = build(len(ranks)) + build(len(ranks))
        assert sum(mask[:span]) <= h.n
        for q in (2, 4, 8, 16):
            if 2 * span % q == 0:
                assert all(sum(mask[s:s + q]) <= h.worst_case_per_block(q) for s in range(0, 2 * span, q))
