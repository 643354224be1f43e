"""Mixtures of experts have no shape-generic graph, and some shapes lie outside one (a one-token prefill, several
new tokens over a KV cache, an image of one patch); each such shape's trace is kept in the trace cache
(nmsim.graph.one_shape), so a second question at that shape, in a later process, neither imports torch nor
traces, and gets exactly the graph (and the numbers) a fresh trace gives."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.graph import load_workload, parameter_counts
from nmsim.graph.api import parameter_counts_uncached, trace_uncached
from nmsim.graph.cache import cache_for
from nmsim.graph.shapes import frame_difference

ROOT = Path(__file__).resolve().parents[1]
# Mixtral's structure, small: 6 layers (deeper than the 4-layer probe), 4 experts, top-2, grouped KV heads
SMALL = load_workload("mixtral-8x7b").replace(name="mixtral-small", layers=6, d_model=64, heads=4, kv_heads=2,
                                             ffn=96, experts=4, vocab=101)
YAML = (ROOT / "nmsim" / "data" / "workloads" / "mixtral-8x7b.yaml").read_text()
for field, value in (("layers", 6), ("d_model", 64), ("heads", 4), ("kv_heads", 2), ("ffn", 96), ("experts", 4),
                     ("vocab", 101)):
    YAML = "\n".join(f"{field}: {value}" if line.startswith(f"{field}:") else line for line in YAML.splitlines())


def _same(got, want) -> None:
    assert frame_difference(got.ops, want.ops) is None
    assert sorted(got.edge_list()) == sorted(want.edge_list()) and got.uncounted == want.uncounted


@settings(max_examples=4, deadline=None)
@given(batch=st.integers(1, 9), seq=st.integers(1, 40), past=st.sampled_from([0, 0, 1, 57]))
def test_a_kept_shape_is_the_fresh_trace(batch, seq, past, tmp_path_factory):
    import nmsim.graph.one_shape as one_shape

    seq = 1 if past else seq
    cache = tmp_path_factory.mktemp("cache")
    fresh = trace_uncached(SMALL, batch, seq, past)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NMSIM_CACHE_DIR", str(cache))
        one_shape.forget()
        built = one_shape.graph_at(SMALL, batch, seq, past, build=True)      # traced, checked, stored
        one_shape.forget()
        loaded = one_shape.graph_at(SMALL, batch, seq, past, build=False)    # from the file
        counts = one_shape.parameter_counts(SMALL)
        one_shape.forget()
    assert len(list((cache / "graphs").iterdir())) == 1
    _same(built, fresh)
    _same(loaded, fresh)
    assert counts == dict(parameter_counts_uncached(SMALL))


def test_parameter_counts_come_with_the_kept_graph(tmp_path, monkeypatch):
    import nmsim.graph.one_shape as one_shape

    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path))
    with cache_for("price"):
        one_shape.graph_at(SMALL, 2, 8, 0, build=True)
        counts = parameter_counts(SMALL)
    one_shape.forget()
    assert counts.to_dict() == {**parameter_counts_uncached(SMALL).to_dict(), "active": counts["active"]}
    assert counts["active"] < counts["total"]


PROBE = ("import sys\nfrom nmsim.cli import main\nrc = main(sys.argv[1:])\n"
         "print('TORCH=' + str('torch' in sys.modules), file=sys.stderr)\nsys.exit(rc)")


def _price(workload: Path, hardware: str, cache: Path) -> tuple[str, str]:
    env = {**os.environ, "NMSIM_CACHE_DIR": str(cache)}
    env.pop("NMSIM_CACHE", None)
    r = subprocess.run([sys.executable, "-c", PROBE, "price", str(workload), "--hardware", hardware, "--mode",
                        "prefill", "--batch", "3", "--seq", "24"], capture_output=True, text=True, cwd=ROOT,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr


def test_a_second_question_at_the_shape_neither_traces_nor_imports_torch(tmp_path, capsys, monkeypatch):
    workload = tmp_path / "mixtral-small.yaml"
    workload.write_text(YAML)
    first, first_err = _price(workload, "a100", tmp_path / "cache")
    second, second_err = _price(workload, "h100", tmp_path / "cache")   # another question, the same shape
    assert "nmsim: tracing mixtral-small at batch 3, seq 24 " in first_err and first_err.endswith("TORCH=True\n")
    assert "tracing" not in second_err and second_err.endswith("TORCH=False\n")
    from nmsim.cli import main

    monkeypatch.setenv("NMSIM_CACHE", "off")   # the numbers of a fresh trace
    for hardware, got in (("a100", first), ("h100", second)):
        assert main(["price", str(workload), "--hardware", hardware, "--mode", "prefill", "--batch", "3", "--seq",
                     "24"]) == 0
        assert capsys.readouterr().out == got


@pytest.mark.parametrize("shape", [(0, 8, 0), (2, None, 0)])
def test_requests_without_a_one_point_graph_are_left_to_the_tracer(shape):
    from nmsim.graph.one_shape import region

    assert region(SMALL, *shape) is None


# models and shapes no shape-generic graph covers: an image mixture of experts, MoE decode of 3 new tokens, a
# one-token prefill, 3 new tokens over a cache and an image of one patch (dense models outside the graph's domain)
VIT = load_workload("vit-base-16").replace(name="vit-small", layers=2, d_model=64, heads=4, ffn=96, image_size=32)
GPT = load_workload("gpt2").replace(name="gpt2-small", layers=2, d_model=64, heads=4, ffn=96, vocab=101)
OUTSIDE = [(VIT.replace(name="vit-moe", experts=4), 2, None, 0), (SMALL, 2, 3, 5), (GPT, 2, 1, 0), (GPT, 2, 3, 5),
           (VIT.replace(name="vit-one-patch", image_size=16), 3, None, 0)]


@pytest.mark.parametrize("cfg,batch,seq,past", OUTSIDE, ids=["image-moe", "moe-decode-seq-3", "prefill-seq-1",
                                                             "decode-seq-3", "image-one-patch"])
def test_a_shape_outside_every_shape_generic_graph_is_traced_once(cfg, batch, seq, past, tmp_path, monkeypatch):
    import nmsim.graph.api as api
    import nmsim.graph.one_shape as one_shape
    from nmsim.graph.shapes import graph_at

    traces = []
    trace = api.trace_uncached
    monkeypatch.setattr(api, "trace_uncached", lambda *a: traces.append(a) or trace(*a))
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path))
    fresh = trace(cfg, batch, seq, past)
    one_shape.forget()
    monkeypatch.setenv("NMSIM_CACHE", "build")
    with cache_for("price"):
        built = graph_at(cfg, batch, seq, past)           # traced once, checked, stored
    one_shape.forget()                                     # a later process (cache mode read): the trace cache
    loaded = graph_at(cfg, batch, seq, past)
    counts = parameter_counts(cfg)
    one_shape.forget()
    assert len(traces) == 1 and len(list((tmp_path / "graphs").iterdir())) == 1
    _same(built, fresh)
    _same(loaded, fresh)
    assert counts.drop("active", errors="ignore").to_dict() == parameter_counts_uncached(cfg).to_dict()
