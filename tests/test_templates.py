"""Per-structure templates (nmsim.graph.templates) equal fresh traces, column by column.

The drift check: every shipped template at new random sizes and shape, and every bundled text workload at its
own sizes (a random shape in one of its regions; in every region with ``NMSIM_TEMPLATE_PROOF=1``, as
``make templates`` runs it), against a trace of the same model; parameter counts too. When the tracer or the
builder changes what it records, these fail: regenerate with ``make templates``.
"""
from __future__ import annotations

import json
import os
import random

import pytest

from nmsim.graph import list_workloads, load_workload
from nmsim.graph import templates as T
from nmsim.graph.api import parameter_counts_uncached, trace_uncached
from nmsim.graph.shapes import SINGLE, frame_difference
from test_shapes import NO_TORCH, _run_cli, cache_dir  # noqa: F401 (fixture)

INDEX = json.loads((T.FOLDER / "index.json").read_text())
TEXT = [n for n in list_workloads() if T.dimensions(load_workload(n)) is not None]


def fresh(cfg, kind, shape):
    if kind == "decode":
        return trace_uncached(cfg, shape["batch"], 1, shape["past"])
    return trace_uncached(cfg, shape["batch"], shape["seq"])


def random_shape(cfg, kind, fixed, rng):
    table = (cfg.max_positions or cfg.seq_len) if cfg.position == "learned" else 8192
    shape = {"batch": fixed.get("batch") or rng.randint(2, 64)}
    shape["past" if kind == "decode" else "seq"] = rng.randint(2, table - 1)
    return shape


def assert_same(sg, cfg, kind, shape):
    got, want = sg.at(config=cfg, **shape), fresh(cfg, kind, shape)
    assert frame_difference(got.ops, want.ops) is None, (cfg.name, shape, frame_difference(got.ops, want.ops))
    assert sorted(got.edge_list()) == sorted(want.edge_list()), (cfg.name, shape)
    assert got.uncounted == want.uncounted, (cfg.name, shape)


def test_index_lists_the_shipped_files():
    files = {p.stem for p in T.FOLDER.glob("*.npz")}
    assert files == set(INDEX)
    for key, entry in INDEX.items():
        for name in entry["workloads"]:
            assert T.template_key(load_workload(name), entry["kind"], entry["fixed"]) == key


def test_every_decoder_family_has_every_template():
    """The bench's first questions (Llama-2-7B, -70B, Llama-3.1-405B) and every Llama, Mistral, Qwen2, Phi-2 and
    GPT-2 workload: prefill and decode, batch 1 and larger. Other structures fall back to tracing where one is
    missing."""
    for name in ("llama-2-7b", "llama-2-70b", "llama-3-8b", "mistral-7b", "llama-3.1-405b", "qwen2-0.5b",
                 "qwen2-1.5b", "phi-2", "gpt2", "trainer-gpt2-chars", "trainer-gpt2-chars-128"):
        cfg = load_workload(name)
        assert [T.template_key(cfg, k, f) in INDEX for k, f in T.regions(cfg)] == [True] * 4, name


def test_a_mixture_of_experts_has_no_template():
    """Tokens per expert are rounded shares of the batch: no polynomial of the shape, so no shape-generic graph
    (each shape is traced, with a line saying so: test_families)."""
    cfg = load_workload("mixtral-8x7b")
    assert T.dimensions(cfg) is None
    assert [T.instantiate(cfg, k, f) for k in T.TEXT_KINDS for f in ({}, SINGLE)] == [None] * 4


@pytest.mark.parametrize("name", TEXT)
def test_zoo_workload_from_its_templates_equals_a_trace(name):
    """A bundled text workload from one of its templates (each, with NMSIM_TEMPLATE_PROOF=1) equals a trace at a
    random shape of that region, on every op column, the edges and the parameter counts."""
    cfg = load_workload(name)
    rng = random.Random(name)
    found = [(k, f) for k, f in T.regions(cfg) if T.template_key(cfg, k, f) in INDEX]
    if found and os.environ.get("NMSIM_TEMPLATE_PROOF") != "1":
        found = [rng.choice(found)]
    for kind, fixed in found:
        sg = T.instantiate(cfg, kind, fixed)
        assert sg is not None, (name, kind, fixed)
        assert_same(sg, cfg, kind, random_shape(cfg, kind, fixed, rng))
    if found:
        assert sg.parameter_counts() == {k: int(v) for k, v in parameter_counts_uncached(cfg).items()}


@pytest.mark.parametrize("key", sorted(INDEX))
def test_template_at_new_random_sizes_equals_a_trace(key):
    """Each template at random sizes (not those it was fitted or verified at) and depth 4 to 9 per stack."""
    entry = INDEX[key]
    base = load_workload(entry["workloads"][0])
    rng = random.Random(key)
    dims = {n: rng.randint(T.SIZE_POINTS[n][0], 97) for n in T.dimensions(base)}
    if "positions" in dims:
        dims["positions"] = rng.randint(64, 700)
    cfg = T.with_dimensions(base, dims)
    if base.layers >= 4:
        cfg = cfg.replace(layers=rng.randint(4, 9), decoder_layers=rng.randint(4, 9) if base.is_enc_dec else 0)
    sg = T.instantiate(cfg, entry["kind"], entry["fixed"])
    assert sg is not None
    assert_same(sg, cfg, entry["kind"], random_shape(cfg, entry["kind"], entry["fixed"], rng))
    assert sg.parameter_counts() == {k: int(v) for k, v in parameter_counts_uncached(cfg).items()}


def test_other_structures_and_small_sizes_fall_back_to_tracing():
    llama = load_workload("llama-3-8b")
    assert T.instantiate(llama, "forward", {}) is not None
    assert T.instantiate(llama.replace(norm_position="post"), "forward", {}) is None       # no such template
    assert T.instantiate(llama.replace(kv_heads=1), "forward", {}) is None                 # below the fit sizes
    assert T.instantiate(llama.replace(heads=32, kv_heads=None), "decode", SINGLE) is not None   # llama-2 style
    assert T.instantiate(load_workload("vit-base-16"), "image", {}) is None                # images: traced
    phi = load_workload("phi-2")
    assert T.instantiate(phi.replace(rotary_dim=80), "forward", {}) is None   # full rotary: another structure
    assert T.instantiate(phi.replace(rotary_dim=48), "forward", {}) is not None   # other partial sizes: same one


def test_first_call_on_a_templated_model_imports_no_torch(cache_dir):
    env = {"NMSIM_CACHE_DIR": str(cache_dir)}
    r = _run_cli(["price", "llama-3.1-405b", "--hardware", "a100", "--mode", "prefill"], env, NO_TORCH)
    assert r.returncode == 0, r.stderr
    assert "HEAVY=\n" in r.stderr and "tracing" not in r.stderr, r.stderr
    assert len(list(cache_dir.glob("graphs/*.npz"))) == 1   # stored for the next call, as a traced graph is
