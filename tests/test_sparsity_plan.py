"""SparsityPlan: CLI syntax, resolution against a traced-op frame, overrides and errors."""
import pandas as pd
import pytest

from nmsim.errors import UserError
from nmsim.sparsity import HierarchicalPattern, NMPattern, SparsityPlan

P = NMPattern


def _ops(layers=4, d=768, ff=3072):
    rows = []
    for i in range(layers):
        for name, role, k, n in [("attn.q", "q", d, d), ("attn.k", "k", d, d), ("attn.v", "v", d, d),
                                 ("attn.o", "o", d, d), ("ff.ff1", "ff1", d, ff), ("ff.ff2", "ff2", ff, d)]:
            rows.append(dict(module=f"blocks.{i}.{name}", role=role, layer=i, kind="linear", gemm_k=k, gemm_n=n))
        rows.append(dict(module=f"blocks.{i}.attn.logit", role="logit", layer=i, kind="matmul", gemm_k=64, gemm_n=128))
        rows.append(dict(module=f"blocks.{i}.norm1", role="norm", layer=i, kind="layernorm", gemm_k=0, gemm_n=0))
    rows.append(dict(module="head", role="head", layer=-1, kind="linear", gemm_k=d, gemm_n=1000))
    return pd.DataFrame(rows, index=[f"op{i}" for i in range(len(rows))])


OPS = _ops()


def _by_module(plan):
    got = SparsityPlan.parse(plan).resolve(OPS)
    return dict(zip(OPS["module"], got))


def test_basic_roles_and_types():
    plan = SparsityPlan.parse("ff=1:16,qkv=1:8")
    out = plan.resolve(OPS)
    assert list(out.index) == list(OPS.index) and out.dtype == object
    m = dict(zip(OPS["module"], out))
    assert m["blocks.0.ff.ff1"] == P(1, 16) and m["blocks.3.ff.ff2"] == P(1, 16)
    assert m["blocks.1.attn.q"] == P(1, 8) and m["blocks.1.attn.v"] == P(1, 8)
    assert m["blocks.1.attn.o"] is None and m["blocks.1.attn.logit"] is None and m["head"] is None
    assert m["blocks.1.norm1"] is None


def test_layer_range_regex_override_direction():
    m = _by_module(r"ff=1:16,ff@0-1=1:8,re:blocks\.3\.ff\..*=2:4/2:4,ff@2=dense,o=2:8/col")
    assert m["blocks.0.ff.ff1"] == P(1, 8) and m["blocks.1.ff.ff2"] == P(1, 8)
    assert m["blocks.2.ff.ff1"] is None
    assert isinstance(m["blocks.3.ff.ff1"], HierarchicalPattern)
    assert m["blocks.0.attn.o"] == P(2, 8)
    frame = SparsityPlan.parse("o=2:8/col,ff=1:4T/row").resolve_frame(OPS)
    assert set(frame.loc[OPS["role"] == "o", "direction"]) == {"col"}
    assert set(frame.loc[OPS["role"] == "ff1", "direction"]) == {"row"}
    assert frame.loc[OPS["role"] == "ff1", "pattern"].iloc[0].transposable


def test_regex_with_commas_and_at():
    m = _by_module(r"re:blocks\.[0-9]{1,2}\.attn\.(q|k)=1:4")
    assert m["blocks.2.attn.k"] == P(1, 4) and m["blocks.2.attn.v"] is None


def test_round_trip_and_introspection():
    text = r"ff=1:16,qkv@0-5=1:8,re:blocks\.[0-3]\.ff\..*=2:4/2:4/col,k@3=dense,all=1:2T"
    plan = SparsityPlan.parse(text)
    assert str(plan) == text
    assert SparsityPlan.parse(str(plan)) == plan
    assert [r.selector for r in plan.rules] == ["ff", "qkv", r"re:blocks\.[0-3]\.ff\..*", "k", "all"]
    assert plan.rules[1].layers == (0, 5) and plan.rules[3].layers == (3, 3)
    assert plan.rules[2].direction == "col" and plan.rules[3].pattern is None
    assert str(SparsityPlan.parse("ff@2-2=1:8")) == "ff@2=1:8"
    assert str(SparsityPlan.dense()) == "dense" and SparsityPlan.parse("dense") == SparsityPlan.dense()
    assert SparsityPlan.dense().resolve(OPS).isna().all()
    assert SparsityPlan.from_mapping({"ff": "1:16", "q@0-1": "1:8"}) == SparsityPlan.parse("ff=1:16,q@0-1=1:8")


def test_col_direction_uses_output_dim():
    ops = _ops(d=768, ff=3000)  # ff1 output 3000 is not a multiple of 16
    SparsityPlan.parse("ff1=1:16").resolve(ops)
    with pytest.raises(UserError, match="gemm_n=3000"):
        SparsityPlan.parse("ff1=1:16/col").resolve(ops)


ERRORS = [
    ("ff=3:2", "--sparsity 'ff=3:2': N > M in pattern '3:2'"),
    ("ff=0:4", "--sparsity 'ff=0:4': N must be at least 1 in pattern '0:4'"),
    ("ff=1-16", "--sparsity 'ff=1-16': not an N:M pattern: '1-16' (expected e.g. 1:16 or dense)"),
    ("ffn=1:16", "--sparsity 'ffn=1:16': unknown selector 'ffn'"),
    ("ff@5-2=1:8", "--sparsity 'ff@5-2=1:8': bad layer range '5-2': end 2 is below start 5"),
    ("ff@a-b=1:8", "--sparsity 'ff@a-b=1:8': bad layer range 'a-b' (expected e.g. 0-5 or 3)"),
    ("ff@-1=1:8", "--sparsity 'ff@-1=1:8': bad layer range '-1' (expected e.g. 0-5 or 3)"),
    ("ff1:16", "--sparsity 'ff1:16': expected SELECTOR[@LAYERS]=PATTERN[/row|/col], e.g. ff=1:16"),
    ("re:blocks[=1:8", "--sparsity 're:blocks[=1:8': bad regular expression 'blocks['"),
    ("ff=2:4/x", "--sparsity 'ff=2:4/x': not an N:M pattern: 'x'"),
]


@pytest.mark.parametrize("text,message", ERRORS)
def test_parse_errors(text, message):
    with pytest.raises(UserError) as err:
        SparsityPlan.parse(text)
    assert str(err.value).startswith(message)


RESOLVE_ERRORS = [
    ("ff=1:7", "--sparsity 'ff=1:7': M=7 does not divide the reduction dimension gemm_k=768 of blocks.0.ff.ff1 "
               "(8 op(s) affected)"),
    ("ff2=1:7/col", "--sparsity 'ff2=1:7/col': M=7 does not divide the output dimension gemm_n=768 of "
                    "blocks.0.ff.ff2 (4 op(s) affected)"),
    ("ff_gate=1:8", "--sparsity 'ff_gate=1:8': selector 'ff_gate' matches no sparsifiable (linear/conv) op"),
    ("ff@7-9=1:8", "--sparsity 'ff@7-9=1:8': layers 7-9 go past the model's 4 layers (0 to 3)"),
    (r"re:.*logit=1:8", r"--sparsity 're:.*logit=1:8': selector 're:.*logit' matches no sparsifiable (linear/conv) op"),
    ("head=1:5/1:2", "--sparsity 'head=1:5/1:2': M=10 does not divide the reduction dimension gemm_k=768 "
                         "of head (1 op(s) affected)"),
]


@pytest.mark.parametrize("text,message", RESOLVE_ERRORS)
def test_resolve_errors(text, message):
    plan = SparsityPlan.parse(text)
    with pytest.raises(UserError) as err:
        plan.resolve(OPS)
    assert str(err.value) == message
