"""Issue 9: ``nmsim.trace`` on a user's own modules — real weights, tied parameters (GPT-2-style head sharing the
embedding), partly-meta modules — and roles given by the user (a role map or a callable, and ``roles:`` in a
workload YAML). FLOPs are checked against torch's FlopCounterMode on the real module, exactly."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from nmsim.cli import main
from nmsim.errors import UserError
from nmsim.graph import trace

V, D, L, T, B = 97, 32, 2, 16, 2


class Block(nn.Module):
    """Attention computed inline (no 'attn' in any module path) and a gated MLP named mlp.gate/up/down."""

    def __init__(self, d: int, heads: int = 4):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.mix = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.mlp = nn.ModuleDict(dict(gate=nn.Linear(d, 4 * d), up=nn.Linear(d, 4 * d), down=nn.Linear(4 * d, d)))
        self.heads = heads

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.mix(self.ln1(x)).split(d, -1)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5).softmax(-1) @ v
        x = x + self.out(att.transpose(1, 2).reshape(b, t, d))
        h, m = self.ln2(x), self.mlp
        return x + m["down"](F.silu(m["gate"](h)) * m["up"](h))


class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(T, D)
        self.blocks = nn.ModuleList(Block(D) for _ in range(L))
        self.head = nn.Linear(D, V, bias=False)
        self.head.weight = self.wte.weight          # tied, as GPT-2

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(x)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return TiedLM()


@pytest.fixture(scope="module")
def idx():
    return torch.randint(0, V, (B, T))


def _counter_flops(model, idx, backward: bool) -> int:
    with FlopCounterMode(display=False) as counter:
        out = model(idx)
        if backward:
            out.sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def test_tied_real_weights_match_flop_counter(model, idx):
    assert model.head.weight is model.wte.weight and not model.wte.weight.is_meta
    graph = trace(model, idx)
    totals = graph.totals()
    fwd = _counter_flops(model, idx, backward=False)
    both = _counter_flops(model, idx, backward=True)
    assert totals["fwd_flops"] == fwd > 0      # exact, not approximately
    assert totals["training_matrix_flops"] == both
    # the tied head is one weight, under its first name, and still a GEMM with a role
    head = graph.ops[graph.ops["role"] == "head"]
    assert list(head["weight"].unique()) == ["wte.weight"]
    assert float(head["fwd_flops"].sum()) == 2 * B * T * D * V
    # the real weights were not touched
    assert not any(p.is_meta for p in model.parameters())


def test_heuristics_and_unrecognised(model, idx):
    graph = trace(model, idx)
    per_role = graph.ops.groupby("role")["fwd_flops"].sum()
    assert per_role["ff_gate"] == per_role["ff1"] == per_role["ff2"] == L * 2 * B * T * D * 4 * D  # mlp.gate/up/down
    # 'mix' and 'out' say nothing: listed, and the inline attention matmuls are 'other'
    assert graph.unrecognised == [f"blocks.{i}.{n}" for i in range(L) for n in ("mix", "out")]
    assert per_role["other"] == L * (2 * B * T * D * 3 * D + 2 * B * T * D * D + 2 * 2 * B * T * T * D)


@pytest.mark.parametrize("roles", [
    {"blocks.*.mix": "qkv", "blocks.*.out": "o", "blocks.*": "attention"},
    lambda path: {"mix": "qkv", "out": "o"}.get(path.rsplit(".", 1)[-1])
    or ("attention" if path.count(".") == 1 and path.startswith("blocks.") else None),
])
def test_user_roles(model, idx, roles):
    graph = trace(model, idx, roles=roles)
    per_role = graph.ops.groupby("role")["fwd_flops"].sum()
    assert graph.unrecognised == []
    assert per_role["qkv"] == L * 2 * B * T * D * 3 * D and per_role["o"] == L * 2 * B * T * D * D
    assert per_role["logit"] == per_role["attend"] == L * 2 * B * T * T * D
    assert "other" not in per_role or per_role["other"] == 0
    assert graph.totals()["fwd_flops"] == _counter_flops(model, idx, backward=False)


def test_unknown_user_role_is_an_error(model, idx):
    with pytest.raises(UserError, match="unknown role 'ffn'"):
        trace(model, idx, roles={"*.mlp.up": "ffn"})


def test_partly_meta_module(idx):
    torch.manual_seed(0)
    real = TiedLM()
    partly = TiedLM()
    partly.blocks[1].to("meta")               # half the weights exist, half are meta
    with torch.device("meta"):
        meta = TiedLM()
    a, b, c = (trace(m, idx).totals() for m in (real, partly, meta))
    assert a == b == c
    assert not partly.blocks[0].mix.weight.is_meta and partly.blocks[1].mix.weight.is_meta


def test_workload_yaml_roles_and_cli_note(tmp_path, capsys):
    path = tmp_path / "w.yaml"
    path.write_text("family: gpt2\nvocab: 100\nlayers: 2\nd_model: 64\nheads: 4\nffn: 256\nseq_len: 32\n"
                    "roles: {'*.ff.ff1': other, '*.ff.ff2': ff_gate}\n")
    assert main(["trace", str(path), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert "ff_gate" in captured.out and "ff1" not in captured.out.split("ff_gate")[0].split("\n", 1)[1]
    assert captured.err.splitlines()[-1] == (
        "nmsim: note: 2 weight GEMM module(s) have no role, so plans like ff=2:4 cannot select them: "
        "blocks.0.ff.ff1, blocks.1.ff.ff1; name them in the workload's roles: map")
