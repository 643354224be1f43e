"""The tracer's dispatch shortcuts give what torch gives: a pointwise op's kept output layout (shape, strides,
dtype) is the meta kernel's for arguments alike, and the tensors of an op's arguments come in pytree's order."""
from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._pytree import tree_flatten

from nmsim.graph.tracer import _pointwise_meta, _tensors

OPS = [torch.ops.aten.mul.Tensor, torch.ops.aten.add.Tensor, torch.ops.aten.neg.default,
       torch.ops.aten.rsqrt.default, torch.ops.aten.pow.Tensor_Scalar, torch.ops.aten.sub.Tensor,
       torch.ops.aten.gt.Scalar]
DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.int64]


@st.composite
def arguments(draw):
    op = draw(st.sampled_from(OPS))
    shape = draw(st.lists(st.integers(1, 5), min_size=0, max_size=4))
    a = torch.empty(shape, dtype=draw(st.sampled_from(DTYPES)), device="meta")
    if draw(st.booleans()) and a.dim() >= 2:
        a = a.transpose(0, 1)   # strides not contiguous
    names = [arg.name for arg in op._schema.arguments]
    if len(names) == 1:
        return op, (a,)
    if op is torch.ops.aten.add.Tensor or op is torch.ops.aten.sub.Tensor or op is torch.ops.aten.mul.Tensor:
        other = list(a.shape[draw(st.integers(0, a.dim())):])   # broadcasts against a
        b = torch.empty([1 if draw(st.booleans()) else d for d in other],
                        dtype=draw(st.sampled_from(DTYPES)), device="meta")
        return op, (b, a) if draw(st.booleans()) else (a, b)
    return op, (a, draw(st.sampled_from([2, 0.5, -1.0])))


def _layout(t):
    return tuple(t.shape), t.stride(), t.dtype, t.device.type


@settings(max_examples=150, deadline=None)
@given(arguments())
def test_a_kept_pointwise_layout_is_the_meta_kernels(case):
    op, args = case
    want = op(*args)
    first = _pointwise_meta(op, args, {})
    again = _pointwise_meta(op, args, {})   # answered from the kept layout
    assert _layout(first) == _layout(want) and _layout(again) == _layout(want)
    assert again is not first and again.storage_offset() == 0


def test_arguments_like_another_ops_are_not_mixed_up():
    a = torch.empty(2, 3, device="meta")
    b = torch.empty(2, 3, dtype=torch.bfloat16, device="meta")
    assert _pointwise_meta(torch.ops.aten.mul.Tensor, (a, a), {}).dtype == torch.float32
    assert _pointwise_meta(torch.ops.aten.mul.Tensor, (a, b), {}).dtype == torch.float32
    assert _pointwise_meta(torch.ops.aten.mul.Tensor, (b, b), {}).dtype == torch.bfloat16
    assert _pointwise_meta(torch.ops.aten.add.Tensor, (b, b.t().contiguous().t()), {}).stride() == (3, 1)


nested = st.recursive(st.one_of(st.integers(), st.floats(allow_nan=False), st.none(),
                                st.builds(lambda n: torch.empty(n, device="meta"), st.integers(0, 3))),
                      lambda kids: st.one_of(st.lists(kids, max_size=3), st.tuples(kids, kids),
                                             st.dictionaries(st.sampled_from("abc"), kids, max_size=3)),
                      max_leaves=8)


@settings(max_examples=100, deadline=None)
@given(nested)
def test_tensors_come_in_pytree_order(tree):
    want = [t for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor)]
    got = _tensors(tree, [])
    assert len(got) == len(want) and all(g is w for g, w in zip(got, want))
