"""Kernels that pick among tile shapes, and occupancy: resident warps per SM from a kernel's shared memory per
block and the GPU's SM limits (nmSPARSE's 12:32 stages more kept k per block than its 16:32, so fewer blocks fit)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import nmsim
from nmsim.cli import main
from nmsim.execution.occupancy import latency_factor, resident_warps, stage_depth
from nmsim.hardware import load
from nmsim.sparsity import NMPattern
from tests.test_gpu_structure import _kernel, _row, _with


def test_sm_limits_from_the_programming_guide():
    a100, ada = load("a100").execution["sm_limits"], load("rtx-4090").execution["sm_limits"]
    assert (a100.shared_bytes, a100.blocks, a100.warps, a100.reserved_bytes) == (164 * 1024, 32, 64, 1024)
    assert (ada.shared_bytes, ada.blocks, ada.warps, ada.reserved_bytes) == (100 * 1024, 24, 48, 1024)
    assert load("h100").execution.get("sm_limits") is None


@pytest.mark.parametrize("gpu,pattern,warps", [
    # (32 + 32) x kept stage x 4 B + 1 KB per block; 64 threads = 2 warps per block
    ("a100", NMPattern(16, 32), 18),   # 128 x 0.5 = 64 kept: 17,408 B -> 9 blocks
    ("a100", NMPattern(12, 32), 12),   # 256 x 0.375 = 96 kept: 25,600 B -> 6 blocks
    ("a100", NMPattern(8, 32), 18),    # 256 x 0.25 = 64 kept -> 9 blocks
    ("a100", NMPattern(4, 32), 36),    # 32 kept: 9,216 B -> 18 blocks
    ("rtx-4090", NMPattern(16, 32), 10),   # 102,400 B / 17,408 -> 5 blocks
    ("rtx-4090", NMPattern(12, 32), 8),    # / 25,600 -> 4 blocks
    ("rtx-4090", NMPattern(4, 32), 22),    # / 9,216 -> 11 blocks
])
def test_nmsparse_resident_warps(gpu, pattern, warps):
    hw = load(gpu)
    k = _kernel(hw, "nmsparse")
    kept = stage_depth(k.stage_k, pattern.density) * pattern.density
    assert resident_warps(hw.execution["sm_limits"], k.threads, (32 + 32) * kept * 4) == warps
    factor = latency_factor(k, hw.execution["sm_limits"], pattern.density, 4)
    assert factor == pytest.approx(min(1.0, warps / k.latency_warps))


def test_occupancy_slows_the_math_only():
    """A100 nmSPARSE 12:32 at 4096^3: 12 resident warps of the 19.4 its math needs; the L2/HBM side unchanged."""
    hw = load("a100")
    row = _row(hw, 4096, 4096, 4096, NMPattern(12, 32), "nmsparse", "fp32")
    free = _row(_with(hw, "nmsparse", threads=0), 4096, 4096, 4096, NMPattern(12, 32), "nmsparse", "fp32")
    assert row["compute_seconds"] == pytest.approx(free["compute_seconds"] * 19.4 / 12, rel=1e-9)
    assert row["memory_seconds"] == free["memory_seconds"]


def test_no_occupancy_limit_without_sm_limits():
    hw = load("a100")
    bare = dataclasses.replace(hw, execution={**hw.execution, "sm_limits": None})
    for p in (NMPattern(12, 32), NMPattern(4, 32)):
        a, b = (_row(x, 1024, 4096, 4096, p, "nmsparse", "fp32") for x in (bare, _with(hw, "nmsparse", threads=0)))
        assert a["seconds"] == b["seconds"]


def test_tile_list_runs_the_fastest_tile():
    """A100 cuBLAS SGEMM at m = 256, n = k = 4096: 128 x 128 tiles give 64 tiles on 108 SMs (wave 0.59); 64 x 64
    give 256 (wave 0.79): the math takes 3/4 of the time."""
    hw = load("a100")
    k = _kernel(hw, "cublas-sgemm")
    assert k.tiles[0] == (128, 128) and (64, 64) in k.tiles
    best = _row(hw, 256, 4096, 4096, None, "cublas-sgemm", "fp32")["seconds"]
    each = [_row(_with(hw, "cublas-sgemm", tile_m=m, tile_n=n, tiles=()), 256, 4096, 4096, None, "cublas-sgemm",
                 "fp32")["seconds"] for m, n in k.tiles]
    assert best == min(each) == each[k.tiles.index((64, 64))]
    launch = 3e-6
    assert best - launch == pytest.approx((each[0] - launch) * (64 / 108) / (256 / 324), rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(m=st.sampled_from([256, 512, 1000, 4096]), n=st.integers(1, 64).map(lambda x: 64 * x),
       k=st.sampled_from([768, 4096]))
def test_more_tiles_never_slower(m, n, k):
    hw = load("rtx-4090")
    one = _with(hw, "cublas-sgemm", tiles=())
    assert _row(hw, m, k, n, None, "cublas-sgemm", "fp32")["seconds"] <= \
        _row(one, m, k, n, None, "cublas-sgemm", "fp32")["seconds"]


@pytest.mark.parametrize("old,new,message", [
    ("      tile: {m: 32, n: 32}\n", "      tile: []\n",
     "gpu.yaml: execution.kernels.nmsparse.tile: expected a tile {m, n} or a non-empty list of them"),
    ("      tile: {m: 32, n: 32}\n", "      tile: [{m: 32, n: 32}, {m: 0, n: 32}]\n",
     "gpu.yaml: execution.kernels.nmsparse.tile[1].m: must be > 0, got 0"),
    ('stage_k: {default: 256, "0.5": 128}', 'stage_k: {"0.5": 128}',
     "gpu.yaml: execution.kernels.nmsparse.occupancy.stage_k: missing required field 'default'"),
    ('stage_k: {default: 256, "0.5": 128}', 'stage_k: {default: 256, "half": 128}',
     "gpu.yaml: execution.kernels.nmsparse.occupancy.stage_k.half: a stage_k key is a pattern density in (0, 1] "
     "or default, got 'half'"),
    ("occupancy: {threads: 64,", "occupancy: {threds: 64,",
     "gpu.yaml: execution.kernels.nmsparse.occupancy.threds: unknown key 'threds' (did you mean 'threads'? allowed: "
     "latency_warps, stage_k, threads)"),
    ("sm_limits: {shared_kib: 164,", "sm_limits: {shared_kib: -1,",
     "gpu.yaml: execution.sm_limits.shared_kib: must be > 0, got -1"),
])
def test_bad_occupancy_fields_name_the_field(tmp_path, capsys, old, new, message):
    text = (Path(nmsim.__file__).parent / "data" / "hardware_specs" / "a100-sxm4-80gb.yaml").read_text()
    assert text.count(old) >= 1
    path = tmp_path / "gpu.yaml"
    path.write_text(text.replace(old, new, 1))
    rc = main(["hardware", "validate", str(path)])
    assert rc == 2 and capsys.readouterr().err == f"nmsim: error: {message}\n"
