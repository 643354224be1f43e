"""Four traced layers per stack, replicated (nmsim.graph.replicate), equal a trace of every layer exactly.

Every bundled workload at prefill shapes (batch 1 and 2) and, for decoder-only models, single-token decode;
random configurations of every family (hypothesis); and the cases that must fall back to tracing every layer
(a role map by layer, layers built differently, a block that differs from its predecessor).
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nmsim.errors import UserError
from nmsim.graph import builder, list_workloads, load_workload, stacks
from nmsim.graph.api import parameter_counts_uncached, trace_full, trace_uncached
from nmsim.graph.config import FAMILIES, ModelConfig
from nmsim.graph.replicate import PROBE, parameter_table, probe_config, trace_replicated
from nmsim.graph.shapes import frame_difference


def shapes_of(cfg) -> list[tuple[int, int | None, int]]:
    """(batch, seq, past) to compare at: prefill at batch 2 and 1, decode for decoder-only text models."""
    if cfg.is_image:
        return [(2, None, 0), (1, None, 0)]
    out = [(2, 3, 0), (1, 4, 0)]
    if cfg.causal and not cfg.is_enc_dec:
        out.append((2, 1, 3))
    return out


def assert_same(full, got, where):
    assert frame_difference(got.ops, full.ops) is None, (where, frame_difference(got.ops, full.ops))
    assert got.edge_list() == full.edge_list(), where
    assert got.uncounted == full.uncounted, where
    assert list(got.ops.columns) == list(full.ops.columns), where


def full_parameter_counts(cfg):
    with torch.device("meta"):
        return parameter_table(builder.build_model(cfg))[0]


def deep(cfg) -> bool:
    return cfg.layers > PROBE or (cfg.is_enc_dec and cfg.decoder_layers > PROBE)


@pytest.mark.parametrize("name", list_workloads())
def test_zoo_replicated_equals_full_trace(name):
    cfg = load_workload(name)
    for batch, seq, past in shapes_of(cfg):
        full = trace_full(cfg, batch, seq, past)
        got = trace_replicated(cfg, batch, seq, past)
        assert (got is not None) == deep(cfg), name      # every deep bundled model is replicated
        assert_same(full, got if got is not None else trace_uncached(cfg, batch, seq, past), (name, batch, seq, past))
    assert parameter_counts_uncached(cfg).to_dict() == full_parameter_counts(cfg)


def test_zoo_covers_every_family_and_a_405b_model():
    families = {load_workload(n).family for n in list_workloads()}
    assert families == set(FAMILIES)
    cfg = load_workload("llama-3.1-405b")
    assert (cfg.layers, cfg.d_model, cfg.heads, cfg.kv_heads, cfg.ffn, cfg.vocab) == (126, 16384, 128, 8, 53248,
                                                                                         128256)
    assert parameter_counts_uncached(cfg)["total"] == 405_853_388_800


@st.composite
def configs(draw):
    family = draw(st.sampled_from(FAMILIES))
    heads = draw(st.sampled_from([2, 4]))
    dh = draw(st.sampled_from([4, 6]))
    fields = dict(name="prop", family=family, layers=draw(st.integers(2, 6)), d_model=heads * dh, heads=heads,
                  kv_heads=draw(st.sampled_from([None, 1, 2])), ffn=draw(st.integers(5, 24)),
                  ffn_kind=draw(st.sampled_from(["gelu", "gelu_tanh", "relu", "swiglu", "geglu"])),
                  norm=draw(st.sampled_from(["layernorm", "rmsnorm"])),
                  norm_position=draw(st.sampled_from(["pre", "post"])), bias=draw(st.booleans()), batch=1)
    if family == "vit":
        fields.update(image_size=draw(st.sampled_from([8, 12])), patch_size=4, num_classes=5, head="classifier",
                      class_token=draw(st.booleans()))
    else:
        fields.update(vocab=draw(st.integers(7, 40)), seq_len=8,
                      position=draw(st.sampled_from(["learned", "rope", "relative", "sinusoidal", "none"])),
                      causal=draw(st.booleans()), tie_embeddings=draw(st.booleans()),
                      head=draw(st.sampled_from(["lm", "classifier", "none"])), num_classes=3,
                      type_vocab=draw(st.sampled_from([0, 2])), embed_norm=draw(st.booleans()),
                      pooler=draw(st.booleans()))
        if family in ("t5", "enc-dec"):
            fields.update(decoder_layers=draw(st.integers(1, 5)), head="lm")
        elif draw(st.booleans()):   # Phi-2's parallel block and partial rotary; Mixtral's experts
            fields.update(parallel_block=draw(st.booleans()), norm_position="pre",
                          rotary_dim=2 if fields["position"] == "rope" else None,
                          experts=draw(st.sampled_from([0, 2, 3])), experts_per_token=draw(st.sampled_from([1, 2])),
                          routing_skew=draw(st.sampled_from([0.0, 1.5])))
    if draw(st.booleans()):   # biases on some linear layers only (Qwen2: q, k, v)
        fields["bias"] = draw(st.lists(st.sampled_from(["q", "k", "v", "o", "ff1", "ff_gate", "ff2", "head"]),
                                       unique=True))
    if draw(st.booleans()):
        fields["roles"] = {"*.ff.ff1": "ff1", "*.attn": "attention"}
    try:
        return ModelConfig.from_dict(fields)
    except UserError:
        assume(False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), st.sampled_from([(1, 3, 0), (2, 5, 0), (2, 1, 2)]))
def test_random_configs_replicate_exactly(cfg, shape):
    batch, seq, past = shape
    if cfg.is_image:
        seq, past = None, 0
    elif past and (cfg.is_enc_dec or not cfg.causal):
        past, seq = 0, 4
    try:
        full = trace_full(cfg, batch, seq, past)
    except (UserError, RuntimeError, ValueError):
        assume(False)
    got = trace_replicated(cfg, batch, seq, past)
    assert (got is not None) == deep(cfg)
    assert_same(full, trace_uncached(cfg, batch, seq, past), (cfg, shape))
    assert parameter_counts_uncached(cfg).to_dict() == full_parameter_counts(cfg)


def small_llama(**changes):
    fields = dict(layers=8, d_model=16, heads=2, kv_heads=1, ffn=24, vocab=11)
    return load_workload("llama-2-7b").replace(**{**fields, **changes})


@pytest.mark.parametrize("glob", ["blocks.5.ff.ff1", "blocks.1.*", "blocks.2.attn.q", "blocks.1?.ff.*"])
def test_a_role_map_by_layer_traces_every_layer(glob):
    cfg = small_llama(roles={glob: "other"}, layers=12)
    assert trace_replicated(cfg, 2, 3) is None
    full = trace_full(cfg, 2, 3)
    assert_same(full, trace_uncached(cfg, 2, 3), glob)
    assert (full.ops["role"] == "other").sum() > (trace_full(small_llama(layers=12), 2, 3).ops["role"] == "other").sum()


def test_a_role_map_alike_for_every_layer_is_replicated():
    cfg = small_llama(roles={"blocks.*.ff.ff1": "ff_gate", "blocks.*.ff.ff_gate": "ff1"})
    got = trace_replicated(cfg, 2, 3)
    assert got is not None
    assert_same(trace_full(cfg, 2, 3), got, "roles")
    assert list(got.ops.loc[got.ops["module"] == "blocks.7.ff.ff1", "role"]) == ["ff_gate"]


def test_layers_built_differently_trace_every_layer(monkeypatch):
    """A stack whose blocks differ (here every fourth layer non-causal, as sliding-window/global patterns do)
    is never replicated, even where the probe's four layers agree."""
    cfg = small_llama()
    alike = trace_full(cfg, 2, 3)

    def every_fourth(cfg, layers, causal, cross):
        return [(causal and i % 4 != 3, cross, True) for i in range(layers)]

    monkeypatch.setattr(stacks, "block_kinds", every_fourth)
    assert probe_config(cfg) is None and trace_replicated(cfg, 2, 3) is None
    full = trace_full(cfg, 2, 3)
    assert len(full.ops) == len(alike.ops) - 2 * 2       # layers 3 and 7 build no causal mask (triu, masked_fill)
    assert_same(full, trace_uncached(cfg, 2, 3), "kinds")


def test_a_block_that_differs_from_the_one_before_is_not_replicated(monkeypatch):
    """Layer 2 of the probe is checked against layer 1: an extra op there (or anywhere the builder does not
    declare) makes the probe prove nothing, and every layer is traced."""
    forward = builder.Block.forward

    def odd(self, x, *args, **kwargs):
        if getattr(self, "extra", False):
            x = x * 2.0
        return forward(self, x, *args, **kwargs)

    build = builder.build_model

    def marked(cfg):
        model = build(cfg)
        for i, block in enumerate(model.blocks):
            block.extra = i % 3 == 2
        return model

    monkeypatch.setattr(builder.Block, "forward", odd)
    monkeypatch.setattr(builder, "build_model", marked)
    cfg = small_llama()
    assert trace_replicated(cfg, 2, 3) is None
    full = trace_full(cfg, 2, 3)
    assert_same(full, trace_uncached(cfg, 2, 3), "extra op")
    assert list(full.ops.loc[full.ops["op"] == "mul", "layer"]).count(5) > list(
        full.ops.loc[full.ops["op"] == "mul", "layer"]).count(4)
