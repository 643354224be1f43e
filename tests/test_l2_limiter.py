"""The high-sparsity limiter of software N:M kernels: activation re-reads from L2 (the union of a tile's index sets'
kept k), bounded by the GPU's sourced L2 bandwidth; no limit where the spec gives none."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import nmsim
from nmsim.cli import main
from nmsim.hardware import load
from nmsim.sparsity import NMPattern
from tests.test_gpu_structure import _kernel, _row, _with


def _without_l2(hw):
    return dataclasses.replace(hw, execution={**hw.execution, "l2_bandwidth_gbps": None})


def test_specs_give_l2_bandwidth_where_sourced():
    """A100 and V100: their whitepaper's bytes per clock x boost clock; RTX 4090 and H100 SXM5: measured cp.async
    throughput; H100 PCIe, H200 and L40S (an L40's): measured L2 read plateaus; no source found: not given."""
    got = {name: load(name).execution["l2_bandwidth_gbps"]
           for name in ("a100", "v100", "rtx-4090", "h100", "h100-pcie", "h200", "l40s", "l4", "a10g", "mi300x")}
    assert got == {"a100": 7219, "v100": 3133, "rtx-4090": 4903, "h100": 8429, "h100-pcie": 6900, "h200": 9770,
                   "l40s": 5215, "l4": None, "a10g": None, "mi300x": None}
    nm, nms = _kernel(load("rtx-4090"), "nm-spmm"), _kernel(load("rtx-4090"), "nmsparse")
    assert (nm.tile_m, nm.tile_n, nm.index_columns) == (64, 128, 32)
    assert nm.tiles == ((64, 128), (64, 64), (32, 64), (32, 32))   # the four shapes its benchmark picks from
    assert (nms.tile_m, nms.tile_n, nms.index_columns) == (32, 32, 32)   # one index set per tile: no union


def test_l2_time_is_the_union_gather_over_l2_bandwidth():
    """RTX 4090, NM-SpMM 4:32, m = n = k = 4096: 64 row tiles x 32 column tiles of 64 x 128; each re-reads 64 rows
    of activation over 1 - (7/8)^4 of k and its 128 columns' 512 kept weights (fp32), at 4,903 GB/s."""
    hw = _with(load("rtx-4090"), "nm-spmm", tiles=())   # its largest tile alone
    row = _row(hw, 4096, 4096, 4096, NMPattern(4, 32), "nm-spmm", "fp32")
    union = 1 - (7 / 8) ** 4
    l2_bytes = 64 * 32 * (64 * 4096 * union + 128 * 512) * 4
    assert row["memory_seconds"] == pytest.approx(l2_bytes / 4903e9, rel=1e-12)
    hbm = _row(_without_l2(hw), 4096, 4096, 4096, NMPattern(4, 32), "nm-spmm", "fp32")
    assert hbm["memory_seconds"] < row["memory_seconds"] / 1.5   # the L2 stream, not GDDR6X, binds
    # overlap 0: the L2 stream adds to the math
    assert row["seconds"] == pytest.approx(3e-6 + row["compute_seconds"] + row["memory_seconds"], rel=1e-12)


def test_no_limit_without_l2_bandwidth_or_index_columns():
    """The paper's compressed-weight kernel does not say how its columns share indices; dense kernels never
    gather: each prices as without the limiter."""
    a100 = load("a100")
    for hw, kernel, plan, dtype in ((a100, "compressed-nm", NMPattern(1, 8), "fp16"),
                                    (a100, "cublas-sgemm", None, "fp32"), (a100, "cublas", None, "fp16")):
        with_l2, without = (_row(x, 4096, 4096, 4096, plan, kernel, dtype) for x in (hw, _without_l2(hw)))
        assert with_l2["seconds"] == without["seconds"]


@settings(max_examples=30, deadline=None)
@given(n1=st.integers(1, 15), n2=st.integers(16, 31), m=st.sampled_from([1024, 4096]),
       k=st.sampled_from([4096, 11008]), n=st.sampled_from([4096, 12288]))
def test_l2_traffic_falls_more_slowly_than_the_kept_work(n1, n2, m, k, n):
    """Fewer kept weights per 32 never add L2 traffic, but the traffic falls by less than the kept share: the
    gain over dense levels off below M/N."""
    hw = load("rtx-4090")
    lo, hi = (_row(hw, m, k, n, NMPattern(x, 32), "nm-spmm", "fp32")["memory_seconds"] for x in (n1, n2))
    assert lo <= hi and lo / hi > n1 / n2


@pytest.mark.parametrize("old,new,message", [
    ("  arch: sm80\n", "  arch: sm80\n  l2_bandwidth_gbps: -5\n",
     "gpu.yaml: execution.l2_bandwidth_gbps: must be > 0, got -5"),
    ("      kind: dense\n      split_k: auto\n", "      kind: dense\n      split_k: auto\n      index_columns: 32\n",
     "gpu.yaml: execution.kernels.cublas.index_columns: only a compressed-weight kernel takes index_columns"),
])
def test_bad_limiter_fields_name_the_field(tmp_path, capsys, old, new, message):
    text = (Path(nmsim.__file__).parent / "data" / "hardware_specs" / "a100-sxm4-80gb.yaml").read_text()
    text = text.replace("  l2_bandwidth_gbps:", "  # l2_bandwidth_gbps:", 1)   # the bundled value, set aside
    assert text.count(old) >= 1
    path = tmp_path / "gpu.yaml"
    path.write_text(text.replace(old, new, 1))
    rc = main(["hardware", "validate", str(path)])
    assert rc == 2 and capsys.readouterr().err == f"nmsim: error: {message}\n"
