"""The N:M mask: exactly N per group, the N largest magnitudes, ties to the lower index, all code paths."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.errors import UserError
from nmsim.sparsity.mask import nm_mask, nm_mask_argsort

PATTERNS = [(1, 2), (1, 4), (2, 4), (3, 4), (1, 8), (2, 8), (4, 8), (7, 8), (1, 16), (2, 16), (5, 16), (15, 16),
            (1, 32), (8, 64), (16, 128)]


@settings(max_examples=60, deadline=None)
@given(nm=st.sampled_from(PATTERNS), rows=st.integers(1, 6), groups=st.integers(1, 4),
       direction=st.sampled_from(["row", "col"]), seed=st.integers(0, 2**16), ties=st.booleans())
def test_exactly_n_per_group_and_equal_to_argsort(nm, rows, groups, direction, seed, ties):
    n, m = nm
    gen = torch.Generator().manual_seed(seed)
    shape = (rows, groups * m) if direction == "row" else (groups * m, rows)
    w = torch.randint(-2, 3, shape, generator=gen).float() if ties else torch.randn(shape, generator=gen)
    mask = nm_mask(w, n, m, direction)
    assert mask.dtype == torch.bool and mask.shape == w.shape
    grouped = (mask if direction == "row" else mask.t()).reshape(-1, m)
    assert (grouped.sum(-1) == n).all()
    assert torch.equal(mask, nm_mask_argsort(w, n, m, direction))


def test_known_values_and_tie_break():
    w = torch.tensor([[0.1, -0.9, 0.5, 0.2, 3.0, 3.0, 3.0, 3.0]])
    assert nm_mask(w, 2, 4).tolist() == [[False, True, True, False, True, True, False, False]]
    assert nm_mask(w, 1, 4).tolist() == [[False, True, False, False, True, False, False, False]]
    assert nm_mask(w, 1, 8).int().tolist() == [[0, 0, 0, 0, 1, 0, 0, 0]]


def test_conv_weight_groups_along_input_channels():
    w = torch.randn(8, 16, 3, 3)
    mask = nm_mask(w, 1, 4)
    assert (mask.reshape(8, -1).reshape(8, -1, 4).sum(-1) == 1).all()


def test_errors():
    with pytest.raises(UserError, match="M=16 does not divide the grouped dimension 24"):
        nm_mask(torch.zeros(4, 24), 1, 16)
    with pytest.raises(UserError, match="invalid N:M 5:4"):
        nm_mask(torch.zeros(4, 8), 5, 4)


@pytest.mark.slow
def test_compiled_path_matches():
    """torch.compile'd fused rank kernel (used where compile time pays off): same mask."""
    w = torch.randn(64, 128)
    assert torch.equal(nm_mask(w, 2, 4, compiled=True), nm_mask_argsort(w, 2, 4))
