"""gpu execution model structure: per-tile overhead along K, kernel arch applicability (an sm80 kernel on Hopper),
launch cost of unfused non-GEMM kernels, joint fits in nmsim validate."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import nmsim
from nmsim.cli import main
from nmsim.cost import price, price_gemms, trace_for_mode
from nmsim.cost.validate import validate
from nmsim.hardware import load
from nmsim.sparsity import NMPattern
from tests.test_execution import _one   # a one-GEMM op table


def _row(hw, m, k, n, pattern=None, kernel=None, dtype="fp16"):
    ops = _one(m, k, n)
    return price_gemms(ops, pd.Series([pattern], index=ops.index, dtype=object), hw, dtype, kernel=kernel).iloc[0]


def _kernel(hw, name):
    return next(k for k in hw.execution["kernels"] if k.name == name)


def _with(hw, name, **changes):
    execution = dict(hw.execution)
    execution["kernels"] = tuple(dataclasses.replace(k, **changes) if k.name == name else k
                                 for k in execution["kernels"])
    return dataclasses.replace(hw, execution=execution)


def test_tile_overhead_scales_compute_by_k_plus_overhead_over_k():
    """A100 cuBLAS: 128 reduction steps of prologue/epilogue per tile; a k=768 GEMM pays 896/768 of its loop."""
    hw = load("a100")
    assert _kernel(hw, "cublas").tile_overhead_k == 128 and _kernel(hw, "cusparselt").tile_overhead_k == 256
    no = _with(hw, "cublas", tile_overhead_k=0.0)
    for k in (768, 3072):
        with_oh, without = _row(hw, 12288, k, 3072), _row(no, 12288, k, 3072)
        assert with_oh["compute_seconds"] / without["compute_seconds"] == pytest.approx((k + 128) / k, rel=1e-12)
    # the 2:4 kernel's loop runs twice the logical K per unit time, so the same prologue time is 256 steps
    s, s0 = _row(hw, 12288, 768, 3072, NMPattern(2, 4), "cusparselt"), _row(
        _with(hw, "cusparselt", tile_overhead_k=0.0), 12288, 768, 3072, NMPattern(2, 4), "cusparselt")
    assert s["compute_seconds"] / s0["compute_seconds"] == pytest.approx(1024 / 768, rel=1e-12)


def test_sm80_kernel_on_hopper_reaches_half_the_peak():
    """CUTLASS #1335: Ampere sparse kernels recompiled for Hopper issue mma.sp, not wgmma (0.5 of the peak)."""
    h100 = load("h100")
    assert h100.execution["arch"] == "sm90" and h100.execution["older_arch_peak_fraction"] == 0.5
    sm80 = _kernel(h100, "cutlass-sm80-2:4")
    native = _with(h100, "cutlass-sm80-2:4", arch="sm90")
    old, new = (_row(x, 4096, 4096, 768, NMPattern(2, 4), "cutlass-sm80-2:4", "bf16") for x in (h100, native))
    assert sm80.arch == "sm80"
    assert old["compute_seconds"] == pytest.approx(2 * new["compute_seconds"], rel=1e-12)
    # the Marlin kernels and the paper's compressed-weight kernel are sm80 code too; cuBLAS / cuSPARSELt are native
    assert {k.name for k in h100.execution["kernels"] if k.arch == "sm80"} == {
        "marlin-int4", "sparse-marlin", "compressed-nm", "tinygemm-int4", "cutlass-sm80-2:4"}




STRUCTURE = ("kind", "arch", "split_k", "split_k_auto", "tile_m", "tile_n", "tiles", "min_rows", "tile_overhead_k",
             "index_columns", "threads", "stage_k", "overlap", "small_m_rows", "metadata", "transposed", "max_m",
             "offered_from_rows")
# open: the RTX 4090's cuBLAS prologue and cuSPARSELt split-K (from its SlideSparse rows) are not carried to the L4
# and L40S (sm89) yet
OPEN = {("sm89", "cublas"), ("sm89", "cusparselt")}


def test_one_kernel_model_per_library_and_arch():
    """A library's kernel is the same code on every GPU of one arch, so it has the same structure there (tiles,
    split-K or stream-K, prologue, index sharing, ...); only levels fitted or measured per GPU differ (efficiency,
    bandwidth, launch cost). Hopper's cuBLAS runs stream-K (no wave quantization) on the H100 SXM5, PCIe and H200."""
    from nmsim.hardware.loader import list_specs
    seen, differ = {}, set()
    for name in list_specs():
        ex = load(name).execution or {}
        for k in ex.get("kernels") or ():
            key, shape = (ex.get("arch"), k.name), tuple(getattr(k, f) for f in STRUCTURE)
            if seen.setdefault(key, shape) != shape:
                differ.add(key)
    assert differ <= OPEN
    assert ("sm90", "cublas") in seen and all(_kernel(load(n), "cublas").split_k for n in ("h100", "h100-pcie", "h200"))

@pytest.mark.parametrize("name", ["h100", "h100-pcie", "h200"])
def test_int4_kernels_on_hopper_stream_as_they_fetch(name):
    """tinygemm (a block per 8 output columns, loads into registers) keeps the A100's fitted share of HBM; Marlin and
    Sparse-Marlin (one block per SM, a fixed cp.async pipeline) keep the A100's bandwidth per SM (Little's law)."""
    a100, hw = load("a100"), load(name)
    share = _kernel(a100, "tinygemm-int4").bandwidth_efficiency
    per_sm = a100.main_memory.bandwidth_gbps * share / a100.execution["sms"]
    carried = min(share, per_sm * hw.execution["sms"] / hw.main_memory.bandwidth_gbps)
    assert _kernel(hw, "tinygemm-int4").bandwidth_efficiency == share == 0.590
    for k in ("marlin-int4", "sparse-marlin"):
        assert _kernel(hw, k).bandwidth_efficiency == pytest.approx(carried, abs=5e-4)

def test_kernel_built_for_a_newer_arch_is_not_offered():
    a100 = load("a100")
    newer = _with(a100, "cusparselt", arch="sm90")
    assert _row(a100, 4096, 4096, 4096, NMPattern(2, 4))["kernel"] == "cusparselt"
    assert _row(newer, 4096, 4096, 4096, NMPattern(2, 4))["kernel"] != "cusparselt"


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 65536), k=st.sampled_from([256, 768, 4096, 14336]), n=st.sampled_from([512, 4096, 11008]))
def test_recompiled_ampere_kernel_never_chosen_unpinned(m, k, n):
    """It is slower than the native cuSPARSELt on every shape, so only a pin (a measurement) runs it."""
    assert _row(load("h100"), m, k, n, NMPattern(2, 4), dtype="bf16")["kernel"] != "cutlass-sm80-2:4"


def test_unfused_non_gemm_kernels_pay_a_launch_each():
    """Llama-3-8B decode: 32 layers x 2 RMSNorms + the final norm + the embedding + the rotary cos/sin table
    (built once per forward, as Hugging Face's LlamaRotaryEmbedding does) = 67 kernels of 3 us."""
    graph = trace_for_mode("llama-3-8b", "decode", batch=1, context=256)
    hw = load("a100")
    assert hw.execution["vector_launch_s"] == pytest.approx(3e-6)
    with_launch = price(graph, None, hw, "bf16", "decode")
    quiet = dataclasses.replace(hw, execution={**hw.execution, "vector_launch_s": 0.0})
    without = price(graph, None, quiet, "bf16", "decode")
    delta = with_launch.totals["seconds"] - without.totals["seconds"]
    assert delta == pytest.approx(67 * 3e-6, rel=1e-9)


def test_arch_needs_a_gpu_arch(tmp_path, capsys):
    path = tmp_path / "gpu.yaml"
    text = (Path(nmsim.__file__).parent / "data" / "hardware_specs" / "a100-sxm4-80gb.yaml").read_text()
    path.write_text(text.replace("  arch: sm80\n", "", 1).replace("      tile_overhead_k: 128\n",
                                                                  "      tile_overhead_k: 128\n      arch: sm80\n", 1))
    rc = main(["hardware", "validate", str(path)])
    err = capsys.readouterr().err
    assert rc == 2 and err == "nmsim: error: gpu.yaml: execution.arch: a kernel names an arch: the GPU needs one too\n"
    path.write_text(text.replace("  arch: sm80\n", "  arch: ampere\n", 1))
    rc = main(["hardware", "validate", str(path)])
    err = capsys.readouterr().err
    assert rc == 2 and err == ("nmsim: error: gpu.yaml: execution.arch: expected a compute capability like sm80 "
                               "or sm90, got 'ampere'\n")


JOINT = """
fits:
  - {name: f, hardware: a100, kernel: cublas, field: efficiency, bounds: [0.2, 1.0]}
  - {name: f, hardware: a100, kernel: cublas, field: tile_overhead_k, bounds: [0.0, 1024.0]}
sources:
  pr: "PyTorch PR 90119, A100 fp16 nn.Linear"
rows:
  - {id: a, group: g, level: kernel, fit: f, source: pr, hardware: a100, dtype: fp16,
     gemm: {m: 12288, k: 768, n: 3072}, metric: seconds, value: 273.7e-6}
  - {id: b, group: g, level: kernel, fit: f, source: pr, hardware: a100, dtype: fp16,
     gemm: {m: 49152, k: 3072, n: 768}, metric: seconds, value: 990.1e-6}
"""


def test_fits_sharing_a_name_are_fitted_jointly(tmp_path):
    """Two rows at k = 768 and 3072 pin both the efficiency and the per-tile overhead: both rows fit exactly."""
    path = tmp_path / "m.yaml"
    path.write_text(JOINT)
    v = validate(path)
    assert list(v.fits["field"]) == ["efficiency", "tile_overhead_k"] and list(v.fits["rows"]) == [2, 2]
    assert v.rows["error_pct"].abs().max() < 0.5
    assert 0.2 < v.fits["fitted_value"].iloc[0] < 1.0 and v.fits["fitted_value"].iloc[1] > 0


def test_shape_sweep_counts_the_same_kernels_as_price():
    """The shape sweep deduplicates vector rows; the launches it charges still equal price()'s (same number)."""
    from nmsim.cost import price_many
    hw = load("a100")
    for batch in (1, 4):
        p = price(trace_for_mode("llama-3-8b", "decode", batch=batch, context=256), None, hw, "bf16", "decode")
        many = price_many("llama-3-8b", [(None, hw, "bf16")], "decode",
                          shapes={"batch": [batch], "context": [256]})
        assert many["seconds"].iloc[0] == pytest.approx(p.totals["seconds"], rel=1e-9)


def test_eager_kernels_wait_for_their_host_dispatch():
    """Without CUDA graphs each priced row takes at least its kernels x host_op_us (289 GEMMs, one launch each,
    and the 67 unfused-module kernels of Llama-3-8B decode); replayed from a graph it is unchanged. price, the
    vectorised price_many and the shape sweep give the same eager number."""
    from nmsim.cost import price_many
    graph = trace_for_mode("llama-3-8b", "decode", batch=1, context=256)
    hw = load("a100")
    host = hw.execution["host_op_s"]
    assert host == pytest.approx(112.3e-6)
    graphs = price(graph, None, hw, "bf16", "decode")
    eager = price(graph, None, hw, "bf16", "decode", cuda_graphs=False)
    g, e = graphs.ops, eager.ops
    gemm = g["kernel"] != "vector"
    assert int(gemm.sum()) == 289
    assert (e.loc[gemm, "seconds"] == g.loc[gemm, "seconds"].clip(lower=host)).all()
    assert e["seconds"].sum() >= (289 + 67) * host
    assert graphs.totals["seconds"] == pytest.approx(price(graph, None, hw, "bf16", "decode",
                                                           cuda_graphs=True).totals["seconds"], rel=0)
    many = price_many(graph, [(None, hw, "bf16")], "decode", cuda_graphs=False)
    assert many["seconds"].iloc[0] == pytest.approx(eager.totals["seconds"], rel=1e-9)
    sweep = price_many("llama-3-8b", [(None, hw, "bf16")], "decode", shapes={"batch": [1], "context": [256]},
                       cuda_graphs=False)
    assert sweep["seconds"].iloc[0] == pytest.approx(eager.totals["seconds"], rel=1e-9)


def test_no_cuda_graphs_flag(capsys):
    rc = main(["price", "gpt2", "--hardware", "a100", "--mode", "decode", "--batch", "1",
               "--context", "64", "--no-cuda-graphs"])
    head = capsys.readouterr().out.split("\n  ")[0].replace("\n#   ", "")
    assert rc == 0 and "(flash-attention+epilogue, no CUDA graphs)" in head


def test_a_gpu_level_field_is_fitted_end_to_end(tmp_path):
    """validate fits host_op_us on an end-to-end speedup row (graphs over eager) and scores another."""
    path = tmp_path / "m.yaml"
    path.write_text("""
sources: {s: a blog}
fits: [{name: h, hardware: a100, field: host_op_us, bounds: [0, 200]}]
rows:
  - {id: f, group: g, level: end-to-end, fit: h, source: s, hardware: a100, dtype: bf16, workload: gpt2,
     mode: decode, batch: 1, context: 64, metric: speedup, baseline: {cuda_graphs: false}, value: 3.0}
  - {id: s, group: g, level: end-to-end, source: s, hardware: a100, dtype: bf16, workload: gpt2, mode: decode,
     batch: 1, context: 64, cuda_graphs: false, metric: seconds, value: 1.0e-3}
""")
    v = validate(path)
    assert list(v.fits["kernel"]) == ["(gpu)"] and list(v.fits["field"]) == ["host_op_us"]
    assert list(v.fits["rows"]) == [1] and list(v.rows["use"]) == ["fitted", "scored"]
    assert abs(v.rows["error_pct"].iloc[0]) < 0.1
    assert 0 < v.fits["fitted_value"].iloc[0] < 200


def _gap(hw, us):
    return dataclasses.replace(hw, execution={**hw.execution, "kernel_gap_s": us * 1e-6})


def test_kernel_gap_is_charged_per_kernel_of_a_step_not_to_a_gemm_alone():
    """A step pays kernel_gap_us (fitted 3.43 us on the A100) once per GEMM and per unfused vector kernel: Llama-3-8B
    batch-1 decode runs 289 GEMMs and 67 vector kernels, so the gap adds 356 x 3.43 us; a GEMM priced alone (the
    kernel-level rows) pays none. price and price_many agree with it."""
    from nmsim.cost import price_many
    hw = load("a100")
    assert hw.execution["kernel_gap_s"] == pytest.approx(3.43e-6)
    graph = trace_for_mode("llama-3-8b", "decode", batch=1, context=256)
    with_gap = price(graph, None, hw, "bf16", "decode")
    without = price(graph, None, _gap(hw, 0.0), "bf16", "decode")
    assert with_gap.totals["seconds"] - without.totals["seconds"] == pytest.approx(356 * 3.43e-6, rel=1e-9)
    assert _row(hw, 1, 4096, 4096)["seconds"] == _row(_gap(hw, 0.0), 1, 4096, 4096)["seconds"]
    many = price_many(graph, [(None, hw, "bf16")], "decode")
    assert many["seconds"].iloc[0] == pytest.approx(with_gap.totals["seconds"], rel=1e-9)


@settings(max_examples=10, deadline=None)
@given(gap=st.floats(0.0, 50.0), context=st.sampled_from([16, 128, 1000]))
def test_kernel_gap_adds_linearly_and_never_speeds_a_step(gap, context):
    """The step's time grows by exactly gap x its kernels, whatever the gap and the KV-cache length."""
    hw = load("a100")
    graph = trace_for_mode("gpt2", "decode", batch=1, context=context)
    base = price(graph, None, _gap(hw, 0.0), "bf16", "decode")
    more = price(graph, None, _gap(hw, gap), "bf16", "decode")
    assert more.totals["seconds"] >= base.totals["seconds"]
    one = price(graph, None, _gap(hw, 1.0), "bf16", "decode")
    per_us = one.totals["seconds"] - base.totals["seconds"]
    assert more.totals["seconds"] - base.totals["seconds"] == pytest.approx(gap * per_us, rel=1e-6, abs=1e-12)
    gemms = int((base.ops["kernel"] != "vector").sum())
    assert per_us > gemms * 1e-6   # every GEMM and at least one vector kernel



def test_fp8_forward_step_runs_linear_layers_at_fp8_efficiency_and_attention_at_16_bits():
    """An fp8 forward step (H100, fp8_efficiency 0.574): each compute-bound linear layer takes 0.797 / 0.574 of its
    time at the fp16 level; attention's QK^T and PV take the bf16 step's compute time (the 16-bit peak at
    cuBLAS's efficiency) while reading the KV cache in fp8; a training step and a GEMM timed alone keep the level."""
    hw = load("h100")
    assert (_kernel(hw, "cublas").efficiency, _kernel(hw, "cublas").fp8_efficiency) == (0.797, 0.574)
    same = _with(hw, "cublas", fp8_efficiency=0.797)
    graph = trace_for_mode("llama-2-7b", "prefill", batch=1, seq=2048)
    fp8, level, bf16 = (price(graph, None, h, d, "prefill").ops for h, d in ((hw, "fp8"), (same, "fp8"),
                                                                             (hw, "bf16")))
    linear = fp8["role"].isin(["q", "k", "v", "o", "ff1", "ff_gate", "ff2"]).to_numpy()
    attention = fp8["role"].isin(["logit", "attend"]).to_numpy()
    assert int(linear.sum()) == 224 and int(attention.sum()) == 64
    ratio = fp8["compute_seconds"].to_numpy()[linear] / level["compute_seconds"].to_numpy()[linear]
    assert ratio == pytest.approx([0.797 / 0.574] * 224, rel=1e-9)
    assert fp8["compute_seconds"].to_numpy()[attention] == pytest.approx(
        bf16["compute_seconds"].to_numpy()[attention], rel=1e-9)
    assert fp8["bytes"].to_numpy()[attention] == pytest.approx(bf16["bytes"].to_numpy()[attention] / 2, rel=1e-9)
    train = trace_for_mode("llama-2-7b", "training", batch=1, seq=512)
    assert price(train, None, hw, "fp8", "training").totals["seconds"] == pytest.approx(
        price(train, None, same, "fp8", "training").totals["seconds"], rel=1e-12)
    alone = [_row(h, 4096, 4096, 4096, dtype="fp8")["seconds"] for h in (hw, same)]
    assert alone[0] == pytest.approx(alone[1], rel=1e-12)
