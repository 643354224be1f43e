"""N:M sparse layers: exact N per group, straight-through gradients, SR-STE term, sparsify/apply_state."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from nmsim.errors import UserError
from nmsim.sparsity.mask import nm_mask
from nmsim.sparsity.pattern import NMPattern
from nmsim.train.layers import NMConv2d, NMLinear, apply_state, current_patterns, nm_layers, sparsify

torch.set_num_threads(1)


@st.composite
def layer_cases(draw):
    m = draw(st.sampled_from([2, 4, 8, 16, 32]))
    n = draw(st.integers(1, m))
    direction = draw(st.sampled_from(["row", "col"]))
    groups = draw(st.integers(1, 3))
    other = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    decay = draw(st.sampled_from([0.0, 0.0, 0.25, 0.9]))
    return n, m, direction, groups, other, seed, decay


def _layer(n, m, direction, groups, other, seed, rule="ste", decay=0.0, lam=0.0):
    gen = torch.Generator().manual_seed(seed)
    in_f, out_f = (groups * m, other) if direction == "row" else (other, groups * m)
    lin = nn.Linear(in_f, out_f)
    with torch.no_grad():
        w = torch.randn(out_f, in_f, generator=gen)
        lin.weight.copy_(torch.where(w == 0, torch.ones_like(w), w))
        lin.bias.copy_(torch.randn(out_f, generator=gen))
    layer = NMLinear.from_dense(lin, "ff", direction)
    layer.set_state(NMPattern(n, m), decay, rule, lam)
    x = torch.randn(5, in_f, generator=gen)
    upstream = torch.randn(5, out_f, generator=gen)
    return layer, x, upstream


@settings(max_examples=60, deadline=None)
@given(layer_cases())
def test_effective_weight_has_exactly_n_per_group(case):
    n, m, direction, groups, other, seed, _ = case
    layer, _, _ = _layer(n, m, direction, groups, other, seed)
    eff = layer.effective_weight().detach()
    w = eff if direction == "row" else eff.t()
    counts = (w.reshape(w.shape[0], -1, m) != 0).sum(-1)
    assert torch.all(counts == n)
    keep = nm_mask(layer.weight, n, m, direction)
    assert torch.equal(eff, layer.weight.detach() * keep)


@settings(max_examples=60, deadline=None)
@given(layer_cases())
def test_ste_gradient_equals_dense_output_gradient(case):
    n, m, direction, groups, other, seed, decay = case
    layer, x, upstream = _layer(n, m, direction, groups, other, seed, "ste", decay)
    F.linear(x, layer.effective_weight(), layer.bias).backward(upstream)
    # the gradient of the same loss wrt the effective (masked / decayed) weight taken as a dense leaf
    keep = nm_mask(layer.weight, n, m, direction)
    w_eff = (layer.weight.detach() * torch.where(keep, 1.0, decay)).requires_grad_()
    F.linear(x, w_eff, layer.bias.detach()).backward(upstream)
    assert torch.equal(layer.weight.grad, w_eff.grad)
    assert layer.bias.grad is not None  # bias kept and trained


@settings(max_examples=60, deadline=None)
@given(layer_cases(), st.sampled_from([2e-4, 1e-2, 0.5]))
def test_srste_extra_term_exact(case, lam):
    n, m, direction, groups, other, seed, _ = case
    ste, x, upstream = _layer(n, m, direction, groups, other, seed, "ste")
    sr, _, _ = _layer(n, m, direction, groups, other, seed, "sr-ste", 0.0, lam)
    ste(x).backward(upstream)
    sr(x).backward(upstream)
    keep = nm_mask(sr.weight, n, m, direction)
    expected = ste.weight.grad + lam * sr.weight.detach().masked_fill(keep, 0.0)
    assert torch.equal(sr.weight.grad, expected)
    assert torch.equal(sr(x), ste(x))  # SR-STE changes only the backward


def test_mask_recomputed_from_current_weights():
    layer, x, _ = _layer(1, 4, "row", 2, 3, 0)
    first = layer.effective_weight().detach() != 0
    with torch.no_grad():
        layer.weight.mul_(torch.where(first, 0.01, 10.0))  # kept weights become the smallest
    second = layer.effective_weight().detach() != 0
    assert not torch.equal(first, second)


@pytest.mark.parametrize("direction", ["row", "col"])
def test_conv_groups_along_channels(direction):
    torch.manual_seed(0)
    conv = NMConv2d.from_dense(nn.Conv2d(8, 8, 3, padding=1), "x", direction)
    conv.set_state(NMPattern(1, 4), 0.0, "ste")
    eff = conv.effective_weight().detach()
    along = 1 if direction == "row" else 0
    groups = eff.movedim(along, -1).reshape(-1, 2, 4)
    assert torch.all((groups != 0).sum(-1) == 1)
    out = conv(torch.randn(2, 8, 5, 5))
    assert out.shape == (2, 8, 5, 5)


class Tiny(nn.Module):
    def __init__(self, d=32, f=64):
        super().__init__()
        self.blocks = nn.ModuleList()
        for _ in range(2):
            block = nn.Module()
            block.attn = nn.Module()
            for name in "qkvo":
                setattr(block.attn, name, nn.Linear(d, d))
            block.ff = nn.Module()
            block.ff.ff1, block.ff.ff2 = nn.Linear(d, f), nn.Linear(f, d)
            self.blocks.append(block)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        for b in self.blocks:
            x = x + b.attn.o(b.attn.q(x) * b.attn.k(x) + b.attn.v(x))
            x = x + b.ff.ff2(torch.relu(b.ff.ff1(x)))
        return self.head(x)


def test_sparsify_and_apply_state():
    model = Tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    claimed = sparsify(model, {"ff": NMPattern(1, 16), "qkv": NMPattern(1, 4)})
    assert sorted(claimed) == sorted(f"blocks.{i}.{p}" for i in range(2)
                                     for p in ("ff.ff1", "ff.ff2", "attn.q", "attn.k", "attn.v"))
    assert isinstance(model.head, nn.Linear) and not isinstance(model.head, NMLinear)
    assert isinstance(model.blocks[0].attn.o, nn.Linear) and not isinstance(model.blocks[0].attn.o, NMLinear)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # same names, same tensors
    state = SimpleNamespace(masks={"ff": NMPattern(2, 16), "qkv": None}, decay=0.5, rule="ste", srste_lambda=0.0)
    apply_state(model, state)
    assert current_patterns(model) == {"ff": "2:16", "qkv": "dense"}
    for _, layer in nm_layers(model):
        assert (layer.decay == 0.5) if layer.selector == "ff" else layer.pattern is None
    model(torch.randn(3, 32)).sum().backward()


def test_sparsify_errors():
    with pytest.raises(UserError, match="does not divide"):
        sparsify(Tiny(d=24, f=64), {"ff": NMPattern(1, 16)})
    with pytest.raises(UserError, match="unknown layer selector"):
        sparsify(Tiny(), {"mlp": NMPattern(1, 4)})
    layer, _, _ = _layer(1, 4, "row", 2, 3, 0)
    with pytest.raises(UserError, match="does not divide"):
        layer.set_state(NMPattern(1, 16), 0.0, "ste")


def test_apply_state_from_recipe():
    from nmsim.recipes import make_recipe

    model = Tiny()
    sparsify(model, {"ff": NMPattern(1, 16)})
    recipe = make_recipe("sdgf-stepwise", {"ff": NMPattern(1, 16)})
    seen = []
    for step in range(0, 100, 10):
        apply_state(model, recipe.at(step, 100))
        seen.append(current_patterns(model)["ff"])
    assert seen[0] == "15:16" and seen[-1] == "1:16"
    eff = model.blocks[0].ff.ff1.effective_weight().detach()
    assert torch.all((eff.reshape(64, -1, 16) != 0).sum(-1) == 1)
