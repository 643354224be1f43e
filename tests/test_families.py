"""Issue 21: the family registry (one module per family) and the Qwen2, Phi-2 and Mixtral families — parameter
counts against published totals, biases by role, parallel blocks, partial rotary, experts and their routing."""
from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.errors import UserError
from nmsim.graph import families, from_hf_config, list_workloads, load_workload, parameter_counts, trace_workload
from nmsim.graph.builder import expert_tokens
from nmsim.graph.config import FAMILIES

HF = Path(__file__).parent / "data" / "hf"


def test_every_module_in_the_folder_is_a_registered_family_with_a_bundled_workload():
    modules = [m.name for m in pkgutil.iter_modules(families.__path__)]
    assert len(modules) == len(FAMILIES) == 9
    assert {n.replace("-", "_") for n in FAMILIES} == set(modules)
    assert {load_workload(n).family for n in list_workloads()} == set(FAMILIES)
    assert set(families.HF_TYPES) == {"bert", "gpt2", "llama", "mistral", "mixtral", "phi", "qwen2", "t5", "vit"}


@pytest.mark.parametrize("name,roles", [
    ("qwen2-0.5b", {"q", "k", "v"}), ("qwen2-1.5b", {"q", "k", "v"}), ("phi-2", {"q", "k", "v", "o", "ff1", "ff2",
                                                                              "head"}),
    ("mixtral-8x7b", set()), ("llama-2-7b", set()), ("gpt2", {"q", "k", "v", "o", "ff1", "ff2"})])
def test_biases_by_role(name, roles):
    graph = trace_workload(load_workload(name), batch=1, seq=8)
    linear = graph.ops[graph.ops["kind"] == "linear"]
    assert set(linear.loc[linear["has_bias"].astype(bool), "role"]) == roles


@pytest.mark.parametrize("name", ["qwen2-0.5b", "qwen2-1.5b", "phi-2", "mixtral-8x7b"])
def test_hf_config_is_the_bundled_workload(name):
    """The shipped config.json (the model card's) imports to exactly the bundled YAML's structure."""
    hf, yaml = from_hf_config(HF / f"{name}.json"), load_workload(name)
    skip = {"name", "source", "seq_len"}
    assert {k: v for k, v in vars(hf).items() if k not in skip} == {k: v for k, v in vars(yaml).items() if k not in skip}


def test_phi2_parallel_block_and_partial_rotary():
    cfg = load_workload("phi-2")
    assert (cfg.rotary_dim, cfg.dim_head, cfg.parallel_block) == (32, 80, True)
    graph = trace_workload(cfg.replace(layers=1), batch=1, seq=4)
    assert sorted(set(graph.ops.loc[graph.ops["role"] == "norm", "module"])) == ["blocks.0.norm1", "norm"]
    # rotating 32 of 80 channels: the rotated halves are [.., 16] slices, the pass-through [.., 48]
    shapes = {s for s in graph.ops.loc[graph.ops["op"] == "cat", "out_shape"]}
    assert (1, 32, 4, 80) in shapes and (1, 32, 4, 32) in shapes


def test_mixtral_active_parameters_and_expert_flops():
    counts = parameter_counts(load_workload("mixtral-8x7b"))
    assert (counts["total"], counts["active"]) == (46_702_792_704, 12_879_925_248)   # 46.7B, 12.9B (Table 1)
    assert counts["router"] == 32 * 4096 * 8
    cfg = load_workload("mixtral-8x7b").replace(layers=2)
    dense = trace_workload(cfg.replace(experts=0), batch=2, seq=8).ops
    moe = trace_workload(cfg, batch=2, seq=8).ops
    for role in ("ff1", "ff_gate", "ff2"):   # 16 tokens x top-2 = 2 tokens per expert: twice one dense FFN
        assert moe.loc[moe["role"] == role, "fwd_flops"].sum() == 2 * dense.loc[dense["role"] == role,
                                                                                 "fwd_flops"].sum()
        assert set(moe.loc[moe["role"] == role, "gemm_m"]) == {4}
    router = moe[moe["role"] == "router"]
    assert list(router["fwd_flops"]) == [2 * 16 * 4096 * 8] * 2


def test_skewed_routing_keeps_flops_and_moves_tokens():
    cfg = load_workload("mixtral-8x7b").replace(layers=1)
    balanced = trace_workload(cfg, batch=1, seq=64).ops
    skewed = trace_workload(cfg.replace(routing_skew=1.0), batch=1, seq=64).ops
    ff1 = lambda ops: ops[ops["role"] == "ff1"]  # noqa: E731
    assert ff1(skewed)["fwd_flops"].sum() == ff1(balanced)["fwd_flops"].sum()
    assert list(ff1(balanced)["gemm_m"]) == [16] * 8
    assert list(ff1(skewed)["gemm_m"]) == expert_tokens(64, 8, 2, 1.0) == [47, 23, 16, 12, 9, 8, 7, 6]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 64), st.data(), st.floats(0, 8))
def test_expert_tokens_route_every_token_k_times(tokens, experts, data, skew):
    k = data.draw(st.integers(1, experts))
    counts = expert_tokens(tokens, experts, k, skew)
    assert sum(counts) == tokens * k and max(counts) <= tokens and min(counts) >= 0
    assert counts == sorted(counts, reverse=True)
    if skew == 0:
        assert max(counts) - min(counts) <= 1


@pytest.mark.parametrize("fields,message", [
    ({"bias": ["q", "gate"]}, "w.yaml: bias: unknown role 'gate' (a list names some of q, k, v, o, ff1, ff_gate, "
                              "ff2, head)"),
    ({"bias": ["q", "q"]}, "w.yaml: bias: a role is listed twice: ['q', 'q']"),
    ({"rotary_dim": 6, "position": "learned"}, "w.yaml: rotary_dim: needs position: rope, got learned"),
    ({"rotary_dim": 130, "position": "rope"}, "w.yaml: rotary_dim: must be even and at most the head dimension "
                                              "(64), got 130"),
    ({"experts": 4, "experts_per_token": 5}, "w.yaml: experts_per_token: must be at most experts (4), got 5"),
    ({"experts": 4, "routing_skew": 9.5}, "w.yaml: routing_skew: must be <= 8.0, got 9.5"),
    ({"experts": -1}, "w.yaml: experts: must be >= 0, got -1"),
    ({"parallel_block": True, "norm_position": "post"}, "w.yaml: parallel_block: a parallel block needs "
                                                        "norm_position: pre and a single-stack family"),
])
def test_new_fields_refuse_bad_values(tmp_path, fields, message):
    from nmsim.graph.config import ModelConfig
    base = {"family": "llama", "layers": 2, "d_model": 128, "heads": 2, "vocab": 10}
    with pytest.raises(UserError) as exc:
        ModelConfig.from_dict({**base, **fields}, source="w.yaml")
    assert str(exc.value) == message


def test_phi_qk_layernorm_is_refused(tmp_path):
    path = tmp_path / "config.json"
    path.write_text((HF / "phi-2.json").read_text().replace('"qk_layernorm": false', '"qk_layernorm": true'))
    with pytest.raises(UserError, match=r"config.json: qk_layernorm: True is not modelled: LayerNorms on queries"):
        from_hf_config(path)


def test_cluster_refuses_moe_in_one_line(capsys):
    from nmsim.cli import main
    assert main(["cluster", "plan", "mixtral-8x7b", "--system", "dgx-h100", "--nodes", "1", "--global-batch", "8",
                 "--seq", "512"]) == 2
    err = capsys.readouterr().err
    assert err == ("nmsim: error: workload: mixtral-8x7b is a mixture of experts; cluster layouts have no expert "
                   "parallelism (price, compare and budget price MoE on one device)\n")


def test_moe_shape_sweep_traces_each_shape(tmp_path, capsys, monkeypatch):
    """No shape-generic graph for a mixture of experts: a sweep traces every shape (it used to raise), saying so
    on stderr as the CLI's pricing commands do (cache mode build)."""
    from nmsim.cli import main
    monkeypatch.setenv("NMSIM_CACHE", "build")
    (tmp_path / "moe.yaml").write_text("family: mixtral\nlayers: 2\nd_model: 64\nheads: 4\nkv_heads: 2\nffn: 128\n"
                                       "ffn_kind: swiglu\nexperts: 4\nexperts_per_token: 2\nnorm: rmsnorm\n"
                                       "bias: false\nvocab: 100\nseq_len: 64\nposition: rope\ncausal: true\n")
    assert main(["price", str(tmp_path / "moe.yaml"), "--hardware", "h100", "--mode", "decode", "--batch", "1,3",
                 "--context", "32", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    rows = out.strip().splitlines()
    assert len(rows) == 3 and rows[0].startswith("mode,batch,seq,context")
    traced = sorted(line for line in err.splitlines() if "tracing" in line)
    assert traced == [f"nmsim: tracing moe at batch {at} (a mixture of experts has no shape-generic graph: each "
                      "shape is traced once, cached after)" for at in ("1, seq 1, context 32", "2, seq 8", "3, seq 1, context 32")]
    # batch 2, seq 8: the weights at rest, from the model at batch 2


def test_moe_weights_at_rest_count_every_expert_whatever_the_routing():
    """Decode at batch 1 traces 2 of 8 experts; an ff=2:4 plan still stores all eight compressed."""
    from nmsim.hardware import load
    from nmsim.memory.weights import weights_at_rest
    cfg = load_workload("mixtral-8x7b").replace(layers=2)
    decode, prefill = trace_workload(cfg, batch=1, seq=1, past=16), trace_workload(cfg, batch=2, seq=16)
    assert decode.ops["module"].str.contains(r"\.experts\.").sum() < prefill.ops["module"].str.contains(
        r"\.experts\.").sum()
    hw = load("h100")
    a, b = (weights_at_rest(g, "ff=2:4", hw, "bf16") for g in (decode, prefill))
    assert a == b
    assert a.sparse_numel == 2 * 8 * 3 * 4096 * 14336   # every expert weight, both layers
