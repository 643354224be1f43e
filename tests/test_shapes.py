"""Shape-generic graphs (nmsim.graph.shapes), the trace cache, shape sweeps and the torch-free CLI paths.

The unit tests check every zoo workload at two layers per stack (same ops per layer as the full model) at a few
random shapes; ``python bench/run.py shapes`` checks the full-depth zoo at 20+ random shapes each.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nmsim.errors import UserError
from nmsim.graph import cache, list_workloads, load_workload
from nmsim.graph import shapes as S
from nmsim.graph.api import trace_uncached

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path / "cache"))
    S._MEMORY.clear()
    S._AT.clear()
    yield tmp_path / "cache"
    S._MEMORY.clear()
    S._AT.clear()
    cache.set_cache_mode("read")


def _shallow(cfg):
    return cfg.replace(layers=2, decoder_layers=2 if cfg.is_enc_dec else 0)


def _random_shape(cfg, kind, fixed, rng):
    batch = fixed.get("batch") or rng.randint(2, 96)
    if kind == "image":
        return {"batch": batch, "image_size": rng.randint(2, 30) * cfg.patch_size}
    table = (cfg.max_positions or cfg.seq_len) if cfg.position == "learned" else 8192
    if kind == "decode":
        return {"batch": batch, "past": rng.randint(1, table)}
    return {"batch": batch, "seq": rng.randint(2, table)}


def kinds_of(cfg):
    if cfg.is_image:
        return ["image"]
    return ["forward", "decode"] if cfg.causal and not cfg.is_enc_dec else ["forward"]


def check_against_traces(cfg, kind, fixed, n, rng):
    sg = S.fit(cfg, kind, fixed)
    for _ in range(n):
        shape = _random_shape(cfg, kind, fixed, rng)
        want = S.trace_at(cfg, kind, shape).ops
        got = sg.at(**shape).ops
        assert S.frame_difference(got, want) is None, (cfg.name, kind, shape)
        for col in ("fwd_flops", "dgrad_flops", "wgrad_flops", "vector_flops", "bytes_read", "bytes_written"):
            assert got[col].sum() == want[col].sum()
        X = sg.evaluate({k: [v] for k, v in shape.items()})
        assert np.array_equal(X["fwd_flops"][0], want["fwd_flops"].to_numpy(float))
    return sg


@pytest.mark.parametrize("name", list_workloads())
def test_generic_graph_equals_fresh_trace(name):
    cfg = _shallow(load_workload(name))
    if cfg.is_moe:   # tokens per expert are rounded shares of the batch: no polynomial, every shape is traced
        assert S.shape_of(cfg, 2, 8) is None
        with pytest.raises(S.ShapeFitError):
            S.fit(cfg, "forward", {})
        return
    rng = random.Random(name)
    for kind in kinds_of(cfg):
        for fixed in ({}, {"batch": 1}):
            check_against_traces(cfg, kind, fixed, 2, rng)


def test_full_depth_gpt2_and_parameter_counts():
    cfg = load_workload("gpt2")
    sg = check_against_traces(cfg, "forward", {}, 2, random.Random(3))
    from nmsim.graph.api import parameter_counts_uncached
    assert sg.parameter_counts() == {k: int(v) for k, v in parameter_counts_uncached(cfg).items()}


def test_image_parameters_follow_the_image_size():
    cfg = load_workload("vit-tiny")
    sg = S.fit(cfg, "image", {})
    from nmsim.graph.api import parameter_counts_uncached
    for size in (32, 64, 96):
        want = parameter_counts_uncached(cfg.replace(image_size=size))
        assert sg.parameter_counts({"batch": [2], "image_size": [size]}) == {k: int(v) for k, v in want.items()}


def test_fit_refuses_an_op_set_that_changes(monkeypatch):
    # batch 1 skips the contiguous copies of batched matmuls: fitting across it must refuse
    monkeypatch.setitem(S.FIT_POINTS, "batch", (1, 2))
    with pytest.raises(S.ShapeFitError, match="op set changes with shape"):
        S.fit(load_workload("trainer-gpt2-chars"), "forward", {})


def test_fit_refuses_an_inexact_polynomial(monkeypatch):
    # attention logits grow with seq²: a degree-1 fit is caught at the solve or the verification trace
    monkeypatch.setitem(S.DEGREES, "seq", 1)
    with pytest.raises(S.ShapeFitError, match="not (an integer polynomial|exact)"):
        S.fit(load_workload("trainer-gpt2-chars"), "forward", {})


def test_domain_is_enforced():
    sg = S.fit(load_workload("trainer-gpt2-chars"), "forward", {})
    with pytest.raises(UserError, match="seq >= 2"):
        sg.evaluate({"batch": [3], "seq": [1]})
    with pytest.raises(UserError, match="batch = 1|batch >= 2"):
        sg.evaluate({"batch": [1], "seq": [8]})
    assert S.shape_of(load_workload("trainer-gpt2-chars"), 4, 1) is None  # seq 1: traced, not generic


def test_cache_roundtrip_and_trace_workload(cache_dir):
    cfg = load_workload("trainer-gpt2-chars")
    cache.set_cache_mode("build")
    g = S.graph_at(cfg, 3, 17)
    files = list((cache_dir / "graphs").glob("nmsim-graph-*.npz"))
    assert len(files) == 1
    S._MEMORY.clear()
    S._AT.clear()
    cache.set_cache_mode("read")
    from nmsim.graph import trace_workload
    again = trace_workload(cfg, batch=3, seq=17)   # loaded from disk, not traced
    assert S.frame_difference(again.ops, g.ops) is None
    assert S.frame_difference(again.ops, trace_uncached(cfg, 3, 17, 0).ops) is None
    assert sorted(again.graph.edges) == sorted(trace_uncached(cfg, 3, 17, 0).graph.edges)
    (entry,) = cache.entries()
    assert entry["workload"] == "trainer-gpt2-chars" and entry["kind"] == "forward" and entry["current"]
    cache.set_cache_mode("off")
    assert S.graph_at(cfg, 3, 17) is None


def test_cache_key_is_the_workload_content():
    cfg = load_workload("gpt2")
    k = cache.key(cfg, "forward")
    assert cache.key(cfg.replace(name="renamed", batch=7, source="x"), "forward") == k
    assert cache.key(cfg.replace(d_model=cfg.d_model * 2), "forward") != k
    assert cache.key(cfg, "decode") != k and cache.key(cfg, "forward", {"batch": 1}) != k
    # seq_len is a variable of the graph, unless it sizes a learned position table (no max_positions)
    assert cache.key(cfg.replace(seq_len=256), "forward") == k
    table = cfg.replace(max_positions=0)
    assert cache.key(table.replace(seq_len=256), "forward") != cache.key(table, "forward")
    assert set(cache.versions()) == {"torch", "nmsim", "code"}


def test_cache_location_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("NMSIM_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.directory() == tmp_path / "xdg" / "nmsim"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.directory() == Path.home() / ".cache" / "nmsim"


def test_clear_removes_only_nmsim_files(cache_dir):
    cache.set_cache_mode("build")
    S.graph_at(load_workload("trainer-gpt2-chars"), 2, 9)
    folder = cache_dir / "graphs"
    foreign = [folder / "notes.txt", folder / "nmsim-graph-mine.npz", folder / ("nmsim-graph-" + "0" * 64 + ".npy")]
    for f in foreign:
        f.write_text("keep")
    assert cache.clear()[0] == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in foreign)


def test_unreadable_cache_entry_is_a_miss(cache_dir):
    cfg = load_workload("trainer-gpt2-chars")
    path = cache.path_for(cache.key(cfg, "forward"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip")
    assert cache.load(cache.key(cfg, "forward")) is None


# ---- shape sweeps ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,modes", [("trainer-gpt2-chars", ("prefill", "decode", "training")),
                                        ("vit-tiny", ("inference", "training")),
                                        ("wmt-enc-dec", ("training",))])
def test_sweep_equals_price_per_shape(name, modes, cache_dir):
    from nmsim.cost import price, trace_for_mode
    from nmsim.cost.shape_sweep import price_shapes

    cfg = _shallow(load_workload(name)) if name == "wmt-enc-dec" else load_workload(name)
    configs = [(None, "a100", "bf16"), ("ff=2:4", "a100", "bf16"), ("all=1:8", "ideal-nm", "bf16"),
               ("ff=2:4", "h100", "fp16")]
    shapes = ({"batch": [1, 5], "image_size": [16, 32]} if cfg.is_image else
              {"batch": [1, 4, 9], "seq": [1, 16, 40], "context": [3, 50]})
    df = price_shapes(cfg, configs, modes, shapes)
    assert len(df) == sum(len(configs) * (4 if cfg.is_image else (6 if m == "decode" else 9)) for m in modes)
    for _, r in df.iterrows():
        if cfg.is_image:
            graph = trace_for_mode(cfg.replace(image_size=int(r.image_size)), r["mode"], int(r.batch))
        elif r["mode"] == "decode":
            graph = trace_for_mode(cfg, "decode", int(r.batch), None, int(r.context))
        else:
            graph = trace_for_mode(cfg, r["mode"], int(r.batch), int(r.seq))
        plan, hw, dtype = configs[r.config]
        want = price(graph, plan, hw, dtype, r["mode"]).totals
        for col in ("nominal_flops", "executed_flops", "vector_flops", "bytes", "weight_bytes", "metadata_bytes",
                    "matrix_seconds", "vector_seconds", "seconds", "joules", "compute_share", "memory_share"):
            assert r[col] == pytest.approx(want[col], rel=1e-9, abs=1e-30), (r["mode"], r.batch, col)
        assert r["bound"] == want["bound"]


def test_price_many_with_shapes(cache_dir):
    from nmsim.cost import price_many

    df = price_many("trainer-gpt2-chars", [(None, "a100", "bf16")], ("prefill", "decode"),
                    shapes={"batch": [2, 3], "seq": [8], "context": [16]})
    assert list(df["mode"]) == ["prefill", "prefill", "decode", "decode"]
    assert list(df["batch"]) == [2, 3, 2, 3]


def test_axis_syntax():
    from nmsim.cli.axes import axis, parse_axis
    assert parse_axis("1:4,8") == [1, 2, 3, 4, 8]
    assert parse_axis("1k:32k:x2") == [1024, 2048, 4096, 8192, 16384, 32768]
    assert parse_axis("128,512,2048") == [128, 512, 2048]
    assert parse_axis("5:10:5") == [5, 10]
    assert axis("64") == 64 and axis("64:64") == [64]
    import argparse
    for bad in ("0", "4:1", "a:b", "1:10:x1", "1:2:3:4", "-3"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_axis(bad)


def _run_cli(args, env_extra, code=None):
    env = {**os.environ, "NMSIM_CACHE": "", **env_extra}   # the CLI's own modes (conftest sets read)
    return subprocess.run([sys.executable, "-c", code or "import sys; from nmsim.cli import main; sys.exit(main())",
                           *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


NO_TORCH = ("import sys\nfrom nmsim.cli import main\nrc = main(sys.argv[1:])\n"
            "heavy = sorted(m for m in ('torch', 'networkx') if m in sys.modules)\n"
            "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\nsys.exit(rc)")


def test_cli_from_cached_graph_does_not_import_torch(cache_dir):
    env = {"NMSIM_CACHE_DIR": str(cache_dir)}
    first = _run_cli(["price", "trainer-gpt2-chars", "--hardware", "a100", "--mode", "prefill", "--batch", "3"], env,
                     NO_TORCH)
    assert first.returncode == 0, first.stderr
    assert list(cache_dir.glob("graphs/*.npz"))   # the first call stores the shape-generic graph (from a template)
    for args in (["price", "trainer-gpt2-chars", "--hardware", "a100", "--mode", "prefill", "--batch", "5",
                  "--seq", "33"],
                 ["price", "trainer-gpt2-chars", "--hardware", "a100", "--mode", "training", "--batch", "2:4",
                  "--seq", "8,16", "--format", "csv"],
                 ["budget", "trainer-gpt2-chars", "--sparsity", "ff=2:4", "--recipes", "sr-ste", "--epochs", "2",
                  "--batch", "7", "--hardware", "a100"],
                 ["cache", "info"]):
        r = _run_cli(args, env, NO_TORCH)
        assert r.returncode == 0, (args, r.stderr)
        assert "HEAVY=\n" in r.stderr, (args, r.stderr)   # answered from the cached graph: no torch, no networkx
    sweep = _run_cli(["price", "trainer-gpt2-chars", "--hardware", "a100", "--mode", "training", "--batch", "2:4",
                      "--seq", "8,16", "--format", "csv"], env)
    lines = sweep.stdout.strip().splitlines()
    assert len(lines) == 1 + 6 and lines[0].startswith("mode,batch,seq,context,plan,hardware,dtype")


def test_cli_typos_fail_without_pandas_or_torch(cache_dir):
    code = NO_TORCH.replace("('torch', 'networkx')", "('torch', 'networkx', 'pandas')")
    for args, text in ((["price", "gpt2", "--hardware", "a10O"], "unknown hardware"),
                       (["price", "gpt2", "--hardware", "a100", "--sparsity", "fff=2:4"], "fff"),
                       (["budget", "gpt2", "--sparsity", "ff=2:4", "--recipes", "srste", "--epochs", "1"],
                        "unknown recipe 'srste'")):
        r = _run_cli(args, {"NMSIM_CACHE_DIR": str(cache_dir)}, code)
        assert r.returncode == 2 and text in r.stderr and "HEAVY=\n" in r.stderr, (args, r.stderr)


def test_cache_cli(cache_dir):
    env = {"NMSIM_CACHE_DIR": str(cache_dir)}
    _run_cli(["price", "trainer-gpt2-chars", "--hardware", "a100", "--mode", "decode", "--batch", "2"], env)
    info = _run_cli(["cache", "info", "--format", "json"], env)
    rows = json.loads(info.stdout)
    assert [(r["workload"], r["kind"], r["variables"]) for r in rows] == [("trainer-gpt2-chars", "decode",
                                                                            "batch,past")]
    cleared = _run_cli(["cache", "clear"], env)
    assert cleared.returncode == 0 and "removed 1 cached graph file(s)" in cleared.stdout
    assert not list((cache_dir / "graphs").iterdir())
    bad = _run_cli(["cache", "info"], {**env, "NMSIM_CACHE": "sometimes"})
    assert bad.returncode == 2 and "NMSIM_CACHE" in bad.stderr


def test_cli_image_size_sweep(cache_dir, capsys):
    from nmsim.cli import main

    assert main(["price", "vit-tiny", "--hardware", "a100", "--batch", "2", "--image-size", "32,64",
                 "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("mode,batch,image_size,") and [x.split(",")[2] for x in lines[1:]] == ["32", "64"]
    assert main(["price", "gpt2", "--hardware", "a100", "--image-size", "32"]) == 2
    assert "--image-size: gpt2 is a text model" in capsys.readouterr().err


def test_cache_evicts_least_recently_used(cache_dir):
    folder = cache_dir / "graphs"
    folder.mkdir(parents=True)
    names = [folder / f"nmsim-graph-{c * 64}.npz" for c in "abc"]
    for i, path in enumerate(names):
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1000 + i, 1000 + i))
    (folder / "mine.txt").write_bytes(b"y" * 5000)
    assert cache.evict(limit=2500) == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted(["mine.txt", names[1].name, names[2].name])


def test_stored_header_is_utf8_bytes_and_format_1_headers_still_read():
    meta = {"kind": "forward", "static": {"op": ["linear", "ünïcode"]}, "info": {"workload": "x"}}
    v2 = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    assert S.read_meta(v2) == meta and v2.nbytes == len(json.dumps(meta).encode())
    assert S.read_meta(np.array(json.dumps(meta))) == meta     # format 1: a numpy str, 4 bytes a character
