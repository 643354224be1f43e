"""The systolic execution model: cycle formulas, N:M condensing, traffic, SCALE-Sim agreement, spec wiring."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmsim.errors import UserError
from nmsim.execution.systolic import ArrayConfig, condensed_k, gemm_cycles

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "nmsim" / "data" / "validation" / "scalesim-3.0.0.csv"
TRAFFIC = REPO / "nmsim" / "data" / "validation" / "scalesim-3.0.0-traffic.csv"
A128 = ArrayConfig(128, 128, "ws")


# ---- formulas ----------------------------------------------------------------------------------------------
def test_ws_dense_cycles_by_hand():
    # ViT-B ff1: K=768 -> 6 row folds, N=3072 -> 24 column folds; a fold = 2*128 + 128 + 197 - 2 = 579 cycles
    r = gemm_cycles(A128, 197, 768, 3072)
    assert (int(r["row_folds"]), int(r["col_folds"]), int(r["cycles_per_fold"])) == (6, 24, 579)
    assert r["compute_cycles"] == 144 * 579


def test_condensed_k_pads_to_whole_row_folds():
    # 1:4 of K=768 keeps 192 = 1.5 row folds -> 2 folds: the GEMM gains 3x, not 4x
    dense = gemm_cycles(A128, 4096, 768, 768)
    sparse = gemm_cycles(A128, 4096, 768, 768, keep_n=1, group_m=4)
    assert int(sparse["condensed_k"]) == 192 and int(sparse["row_folds"]) == 2
    assert float(dense["compute_cycles"] / sparse["compute_cycles"]) == pytest.approx(3.0)


def test_condensed_k_partial_group():
    assert condensed_k(10, 2, 4) == 2 * 2 + 2        # groups [4, 4, 2]: the last keeps min(2, 2)
    assert condensed_k(9, 2, 4) == 2 * 2 + 1         # last group of 1 keeps 1
    assert condensed_k(768, 4, 4) == 768


def test_os_and_is_fold_cycles():
    os_ = gemm_cycles(ArrayConfig(128, 128, "os"), 197, 768, 3072)
    assert int(os_["folds"]) == 2 * 24 and int(os_["cycles_per_fold"]) == 768 + 128 + 128 - 2
    is_ = gemm_cycles(ArrayConfig(64, 32, "is"), 100, 256, 50)
    assert int(is_["folds"]) == 4 * 4 and int(is_["cycles_per_fold"]) == 2 * 64 + 32 + 50 - 2


def test_is_condenses_the_stationary_reduction_like_ws():
    # SCALE-Sim 3.0.0 condenses the IFMAP and the filter to the kept K_c before any dataflow runs: 1:4 of K=512 on
    # 64 rows -> 2 row folds instead of 8; column folds ceil(256/64) = 4; a fold = 2*64 + 64 + 512 - 2 = 702
    dense = gemm_cycles(ArrayConfig(64, 64, "is"), 256, 512, 512)
    sparse = gemm_cycles(ArrayConfig(64, 64, "is"), 256, 512, 512, keep_n=1, group_m=4)
    assert bool(sparse["sparse"]) and int(sparse["condensed_k"]) == 128
    assert (int(sparse["row_folds"]), int(sparse["col_folds"]), int(sparse["cycles_per_fold"])) == (2, 4, 702)
    assert float(dense["compute_cycles"]) == 8 * 4 * 702 and float(sparse["compute_cycles"]) == 2 * 4 * 702
    # the streamed weight is the condensed one (K_c x N per column fold); the stationary A is read whole
    assert float(sparse["sram_w_reads"]) == 128 * 512 * 4 and float(sparse["sram_a_reads"]) == 256 * 512


def test_metadata_port_stretches_the_tile_load():
    # 2:4 index metadata = 4 bits per group; a 128x128 tile holds 128*128/2 groups = 32768 bits
    slow = ArrayConfig(128, 128, "ws", meta_bits_per_cycle=64)
    r = gemm_cycles(slow, 197, 768, 768, keep_n=2, group_m=4, meta_bits_per_group=4)
    assert int(r["cycles_per_fold"]) == 32768 // 64 + 127 + 127 + 197
    assert float(r["metadata_bytes"]) == 768 * (768 // 4) * 4 / 8


def test_sram_traffic_rereads_and_spills():
    small = ArrayConfig(128, 128, "ws", ifmap_sram_bytes=64 * 1024, ofmap_sram_bytes=64 * 1024)
    r = gemm_cycles(small, 1024, 768, 3072, bytes_per_el=2)
    # A (1024x768x2 B = 1.5 MiB) does not fit half of 64 KiB: re-read per column fold (24x); a column fold's
    # partial sums (1024x128x2 B = 256 KiB) do not fit either: spilled between the 6 row folds
    assert float(r["a_elems"]) == 1024 * 768 * 24
    assert float(r["c_elems"]) == 1024 * 3072 * (2 * 6 - 1)
    assert float(r["w_elems"]) == 768 * 3072
    ideal = gemm_cycles(A128, 1024, 768, 3072, bytes_per_el=2)
    assert float(ideal["dram_bytes"]) == (1024 * 768 + 768 * 3072 + 1024 * 3072) * 2


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 3000), k=st.integers(1, 5000), n=st.integers(1, 5000),
       nm=st.sampled_from([(1, 2), (2, 4), (1, 4), (1, 8), (2, 8), (4, 8), (1, 16)]),
       df=st.sampled_from(["ws", "os", "is"]), rows=st.sampled_from([8, 20, 32, 128]),
       cols=st.sampled_from([8, 16, 48, 128]))
def test_sparse_never_slower_and_never_beyond_m_over_n(m, k, n, nm, df, rows, cols):
    arr = ArrayConfig(rows, cols, df)
    dense = float(gemm_cycles(arr, m, k, n)["compute_cycles"])
    sparse = float(gemm_cycles(arr, m, k, n, keep_n=nm[0], group_m=nm[1])["compute_cycles"])
    assert sparse <= dense
    assert dense / sparse <= nm[1] / nm[0] + 1e-9
    kc = int(condensed_k(k, *nm))
    assert kc <= k and (k % nm[1] or kc * nm[1] == k * nm[0])


def test_activation_dbb_condenses_the_streamed_reduction_by_hand():
    # os, 32x32: K=768 with 4:8 weights -> 384, and 4:8 activations -> ceil(384 * 4 / 8) = 192 streamed steps
    arr = ArrayConfig(32, 32, "os")
    r = gemm_cycles(arr, 197, 768, 3072, keep_n=4, group_m=8, act_n=4, act_m=8)
    assert int(r["condensed_k"]) == 192 and int(r["folds"]) == 7 * 96
    assert int(r["cycles_per_fold"]) == 192 + 31 + 31
    assert float(r["executed_macs"]) == 197 * 192 * 3072
    # weight traffic and metadata stay the weight's own (condensed 4:8) size: activation masks are made on chip
    w_only = gemm_cycles(arr, 197, 768, 3072, keep_n=4, group_m=8, meta_bits_per_group=8)
    joint = gemm_cycles(arr, 197, 768, 3072, keep_n=4, group_m=8, meta_bits_per_group=8, act_n=4, act_m=8)
    assert float(joint["w_elems"]) == float(w_only["w_elems"]) == 384 * 3072
    assert float(joint["metadata_bytes"]) == float(w_only["metadata_bytes"]) == 3072 * 96
    # activations alone (dense weights): ceil(768 * 3 / 8) = 288
    assert int(gemm_cycles(arr, 8, 768, 8, act_n=3, act_m=8)["condensed_k"]) == 288


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 2000), k=st.integers(1, 4000), n=st.integers(1, 2000),
       w=st.sampled_from([(1, 1), (2, 4), (4, 8), (1, 4)]), a=st.sampled_from([(1, 1), (2, 8), (4, 8), (6, 8)]),
       rows=st.sampled_from([8, 32, 128]), cols=st.sampled_from([8, 32, 128]))
def test_activation_dbb_between_weight_only_and_the_joint_bound(m, k, n, w, a, rows, cols):
    arr = ArrayConfig(rows, cols, "os")
    dense = float(gemm_cycles(arr, m, k, n)["compute_cycles"])
    weights = float(gemm_cycles(arr, m, k, n, keep_n=w[0], group_m=w[1])["compute_cycles"])
    joint = float(gemm_cycles(arr, m, k, n, keep_n=w[0], group_m=w[1], act_n=a[0], act_m=a[1])["compute_cycles"])
    assert joint <= weights <= dense
    # never beyond weights density x activations density (fill, drain and folds only take away)
    assert dense / joint <= (w[1] / w[0]) * (a[1] / a[0]) + 1e-9


def test_activation_dbb_needs_a_streamed_reduction():
    with pytest.raises(UserError, match=r"activation blocks can be skipped only where the reduction streams in time "
                                        r"\(dataflow os\), not ws"):
        gemm_cycles(A128, 8, 8, 8, act_n=4, act_m=8)
    with pytest.raises(UserError, match="activation N:M bound needs 1 <= N <= M"):
        gemm_cycles(ArrayConfig(8, 8, "os"), 8, 8, 8, act_n=0, act_m=8)


def test_bad_array_inputs():
    with pytest.raises(UserError, match="dataflow"):
        ArrayConfig(8, 8, "rs")
    with pytest.raises(UserError, match="rows"):
        ArrayConfig(0, 8)
    with pytest.raises(UserError, match="N:M"):
        gemm_cycles(A128, 8, 8, 8, keep_n=5, group_m=4)


# ---- SCALE-Sim 3.0.0 as the reference (stored runs; bench/bench_scalesim.py re-runs them live) ----------------
def test_scalesim_reference_within_1_percent_on_every_dataflow_and_array():
    from nmsim.export.scalesim import compare_reference, speedups

    ref = pd.read_csv(REFERENCE)
    assert (ref["scalesim_version"] == "3.0.0").all() and ref["command"].str.contains("scalesim_worker").all()
    assert len(ref[ref["dataflow"] == "ws"]["name"].unique()) >= 8 and (ref["dataflow"] == "os").any()
    assert len(ref[ref["dataflow"] == "is"]["name"].unique()) >= 4
    assert set(ref["sparsity"]) == {"1:1", "2:4", "1:4", "1:8"}
    assert ref["split"].value_counts().to_dict() == {"held_out": 105, "seen": 30}
    held = ref[ref["split"] == "held_out"]
    # held out: N:M on input- and output-stationary arrays, and non-square / odd arrays in every dataflow
    for df in ("is", "os"):
        assert set(held.loc[(held["dataflow"] == df) & (held["rows"] == 128), "sparsity"]) >= {"2:4", "1:4", "1:8"}
    shapes = set(zip(held["rows"], held["cols"]))
    assert shapes == {(128, 128), (32, 64), (64, 16), (8, 128), (48, 20)}
    for r, c in shapes - {(128, 128)}:
        g = held[(held["rows"] == r) & (held["cols"] == c)]
        assert len(g) == 21 and set(g["dataflow"]) == {"ws", "os", "is"}
    table = compare_reference(ref)
    assert table["scalesim_incl_prefetch_cycles"].iloc[0] == 266257 and table["scalesim_cycles"].iloc[0] == 62531
    assert table["error_pct"].abs().max() <= 1.0
    # SCALE-Sim's count is ours minus the one cycle it does not count per GEMM, in every dataflow, N:M included
    assert ((table["nmsim_cycles"] - table["scalesim_cycles"]) == 1).all()
    # SCALE-Sim skips on input stationary as on weight stationary: 1:8 of ViT-B's proj, 6 row folds -> 1
    rows = table.set_index(["shape", "sparsity", "dataflow", "rows", "cols"])
    assert rows.loc[("vit-b proj", "1:1", "is", 128, 128), "scalesim_cycles"] == 13799
    assert rows.loc[("vit-b proj", "1:8", "is", 128, 128), "scalesim_cycles"] == 2299
    assert rows.loc[("vit-b proj", "1:8", "is", 128, 128), "nmsim_cycles"] == 2300
    sp = speedups(table)
    assert len(sp) >= 8
    assert np.allclose(sp["nmsim_speedup_1:4"], sp["scalesim_speedup_1:4"], rtol=1e-3)


def test_array_side_sram_counts_by_hand():
    # 100 x 200 x 150 on 32 x 32: ws row folds ceil(200/32) = 7, column folds ceil(150/32) = 5
    arr = ArrayConfig(32, 32, "ws", ifmap_sram_bytes=4096, filter_sram_bytes=4096, ofmap_sram_bytes=4096)
    r = gemm_cycles(arr, 100, 200, 150)
    assert float(r["sram_a_reads"]) == 100 * 200 * 5      # A streamed once per column fold
    assert float(r["sram_w_reads"]) == 200 * 150          # stationary weights loaded once
    assert float(r["sram_c_writes"]) == 100 * 150 * 7     # partial outputs once per row fold
    # a column fold's partial sums (100 x 32 B) overflow the 2 KiB active half: written every row fold, read back
    assert float(r["c_write_elems"]) == 100 * 150 * 7 and float(r["c_read_elems"]) == 100 * 150 * 6
    # 2:4 weights: K_c = 100 (4 row folds); the array still reads all of A (each PE row picks its activation)
    s24 = gemm_cycles(arr, 100, 200, 150, keep_n=2, group_m=4)
    assert float(s24["sram_a_reads"]) == 100 * 200 * 5 and float(s24["sram_w_reads"]) == 100 * 150
    assert float(s24["sram_c_writes"]) == 100 * 150 * 4
    # is: A stationary (read once), W streamed once per column fold of M (ceil(100/32) = 4)
    r_is = gemm_cycles(ArrayConfig(32, 32, "is"), 100, 200, 150)
    assert float(r_is["sram_a_reads"]) == 100 * 200 and float(r_is["sram_w_reads"]) == 200 * 150 * 4
    # os: outputs stay in the PEs; W re-read once per row fold of M
    r_os = gemm_cycles(ArrayConfig(32, 32, "os"), 100, 200, 150)
    assert float(r_os["sram_c_writes"]) == 100 * 150 and float(r_os["sram_w_reads"]) == 200 * 150 * 4


def test_scalesim_traffic_and_is_cycles_within_10_percent():
    from nmsim.export.scalesim import NOT_COMPARABLE, compare_traffic, nmsim_cycles

    ref = pd.read_csv(TRAFFIC)
    assert (ref["scalesim_version"] == "3.0.0").all() and ref["command"].str.contains("scalesim_worker").all()
    assert set(ref["dataflow"]) == {"ws", "os", "is"} and set(ref["sparsity"]) >= {"1:1", "2:4", "1:4"}
    assert ref["name"].nunique() >= 10 and set(ref["sram_kb"]) == {4, 8, 32, 64}
    # runs seen while the traffic model was corrected, and runs held out (other array, SRAMs and shapes)
    assert ref["split"].value_counts().to_dict() == {"seen": 60, "held_out": 40}
    assert set(ref.loc[ref["split"] == "held_out", "rows"]) == {64}
    # cycles in every dataflow, IS included: one cycle per GEMM apart
    for (rows, cols), g in ref.groupby(["rows", "cols"]):
        assert (np.abs(nmsim_cycles(g, rows, cols) - g["total_cycles"].to_numpy()) <= 1).all()
    table = compare_traffic(ref)
    ok = table[table["comparable"] == "yes"]
    assert len(ok) >= 0.8 * len(table) and set(ok["quantity"]) == set(table["quantity"])
    # within 10 % everywhere but output-stationary weight reads near the fit of a column fold's K_c x C tile:
    # SCALE-Sim's buffer replaces its whole active half at once, so it re-fetches part of a tile nmsim counts as
    # fitting (seen: -21.7 %, -23.8 %) and keeps part of one nmsim counts as not fitting (held out: +18.1 %)
    os_w = (ok["dataflow"] == "os") & (ok["quantity"] == "dram_filter_reads")
    assert ok.loc[~os_w, "error_pct"].abs().max() <= 10.0
    assert ok.loc[os_w, "error_pct"].abs().max() <= 25.0
    assert (ok["error_pct"].abs() > 10.0).sum() == 3
    held = ok[ok["split"] == "held_out"]
    assert len(held) >= 200 and (held["error_pct"].abs() > 10.0).sum() == 1
    # filter metadata (SPARSE_REPORT, held-out N:M runs): ceil(log2 M) bits per kept value, exactly
    meta = table[table["quantity"] == "filter_metadata_bytes"]
    assert len(meta) == 16 and (meta["scalesim"] == meta["nmsim"]).all()
    assert set(table["comparable"]) - {"yes"} == set(NOT_COMPARABLE.values())
    # SCALE-Sim's output-stationary OFMAP SRAM count adds rows + cols per fold to nmsim's one write per output
    oso = table[table["comparable"] == NOT_COMPARABLE["os_ofmap_count"]]
    side = oso["array"].str.split("x").str[0].astype(int)
    folds = np.ceil(oso["m"] / side) * np.ceil(oso["n"] / side)
    assert np.array_equal(oso["scalesim"], oso["nmsim"] + 2 * side * folds)
    # where the two count differently by design, SCALE-Sim's number is the other accounting, exactly:
    # every partial output the array writes goes to DRAM ...
    psum = table[table["comparable"] == NOT_COMPARABLE["psum_on_chip"]]
    writes = table[table["quantity"] == "sram_ofmap_writes"].set_index(["shape", "dataflow", "sparsity", "sram_kb"])
    key = ["shape", "dataflow", "sparsity", "sram_kb"]
    extra = psum["scalesim"].to_numpy() - writes.loc[list(psum[key].itertuples(index=False)), "nmsim"].to_numpy()
    assert ((extra >= 0) & (extra < psum["array"].str.split("x").str[1].astype(int))).all()  # + its drain, < C
    # ... and an N:M weight's layer fetches the condensed A: what nmsim fetches for a dense A of width K_c
    cond = table[table["comparable"] == NOT_COMPARABLE["condensed_ifmap"]]
    for r in cond.itertuples(index=False):
        n, m = (int(x) for x in r.sparsity.split(":"))
        kb, side = r.sram_kb * 1024, int(r.array.split("x")[0])
        arr = ArrayConfig(side, side, "ws", ifmap_sram_bytes=kb, filter_sram_bytes=kb, ofmap_sram_bytes=kb)
        narrow = gemm_cycles(arr, r.m, condensed_k(r.k, n, m), r.n)
        assert r.scalesim == pytest.approx(float(narrow["a_elems"]), rel=1e-3)


# ---- the execution model behind a spec ---------------------------------------------------------------------
SPEC = """name: sa-test
description: test array
kind: systolic
execution:
  model: systolic
  source: "test geometry"
  rows: {rows}
  cols: 16
  dataflow: {dataflow}
  clock_ghz: 1.0
matrix:
  bf16:
    dense_tflops: {{value: {peak}, source: "2 x rows x 16 x 1 GHz"}}
    sparse: {{"2:4": {{tflops: {{value: {sparse}, source: "array bound"}}}}}}
vector_tflops:
  fp32: {{value: 0.01, source: "test"}}
memory:
  - {{name: dram, capacity_gib: 8, bandwidth_gbps: 100, source: "test"}}
sparse_support:
  transposed_dgrad: false
  source: "test"
"""


def _spec(tmp_path, rows=32, dataflow="ws", peak=None):
    peak = 2 * rows * 16 * 1e9 / 1e12 if peak is None else peak
    path = tmp_path / "sa.yaml"
    path.write_text(SPEC.format(rows=rows, dataflow=dataflow, peak=peak, sparse=2 * peak))
    return path


def _vit_tiny_table(plan):
    from nmsim.cost.pricing import trace_for_mode
    from nmsim.execution.table import gemm_table
    from nmsim.sparsity.plan import SparsityPlan

    graph = trace_for_mode("vit-tiny", "training", 2)
    return gemm_table(graph, SparsityPlan.parse(plan).resolve(graph.ops) if plan else None, "training")


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_spec_selects_the_systolic_model(tmp_path, dataflow):
    from nmsim.execution import ExecContext, model_for
    from nmsim.hardware import load

    hw = load(_spec(tmp_path, dataflow=dataflow))
    model = model_for(hw)
    assert model.name == "systolic" and (model.array.rows, model.array.cols, model.array.dataflow) == (32, 16, dataflow)
    table = _vit_tiny_table("ff=2:4")
    priced = model.price(table, ExecContext(hw, "bf16"))
    frame = table.to_frame()
    ff = (frame["role"].isin(["ff1", "ff2"])).to_numpy()
    fwd = (frame["pass"] == "fwd").to_numpy()
    sparse = np.asarray(priced.sparse)
    # the 2:4 weight runs condensed in fwd only (dgrad reduces over the other dim, mask not transposable)
    assert sparse[ff & fwd].all() and not sparse[~(ff & fwd)].any()
    # every row's seconds = cycles / clock or memory time, whichever is larger; cycles match gemm_cycles
    arr = model.array
    for i in np.flatnonzero(ff & fwd)[:2]:
        r = gemm_cycles(arr, table.m[i], table.k[i], table.n[i], keep_n=2, group_m=4, batch=table.b[i])
        assert priced.extra["cycles"][i] == float(r["compute_cycles"])
        assert priced.compute_seconds[i] == pytest.approx(float(r["compute_cycles"]) / 1e9)
    assert np.all(priced.seconds >= priced.compute_seconds) and np.all(priced.seconds >= priced.memory_seconds)
    assert float(np.sum(priced.executed_flops[~sparse])) == pytest.approx(float(np.sum(table.nominal_flops[~sparse])))


def test_act_by_act_dgrad_prices_both_operand_gradients(tmp_path):
    from nmsim.execution import ExecContext, model_for
    from nmsim.hardware import load

    hw = load(_spec(tmp_path))
    table = _vit_tiny_table(None)
    priced = model_for(hw).price(table, ExecContext(hw, "bf16"))
    frame = table.to_frame()
    i = int(np.flatnonzero(((frame["role"] == "logit") & (frame["pass"] == "dgrad")).to_numpy())[0])
    b, m, k, n = table.b[i], table.m[i], table.k[i], table.n[i]
    arr = model_for(hw).array
    da = gemm_cycles(arr, m, k, n, batch=b / 2)["compute_cycles"]
    db = gemm_cycles(arr, n, m, k, batch=b / 2)["compute_cycles"]
    assert priced.extra["cycles"][i] == float(da + db)
    assert priced.executed_flops[i] == pytest.approx(table.nominal_flops[i])


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace("dataflow: ws", "dataflow: rs"), r"sa.yaml: execution.dataflow: unknown dataflow 'rs'"),
    (lambda t: t.replace("  rows: 32\n", ""), r"sa.yaml: execution: missing required field 'rows'"),
    (lambda t: t.replace("  rows: 32\n", "  rows: 32.5\n"), r"sa.yaml: execution.rows: expected an integer"),
    (lambda t: t.replace("clock_ghz: 1.0", "clock_ghz: -1"), r"sa.yaml: execution.clock_ghz: must be > 0"),
    (lambda t: t.replace("  cols: 16\n", "  cols: 16\n  banks: 4\n"), r"unknown key 'banks' for execution model"),
    (lambda t: t.replace("  cols: 16\n", "  cols: 16\n  activation_nm: '4:8'\n"),
     r"sa.yaml: execution.activation_nm: activation density-bound blocks need dataflow os \(the reduction streams "
     r"in time\), not ws"),
    (lambda t: t.replace("dataflow: ws", "dataflow: os\n  activation_nm: '9:8'"),
     r"sa.yaml: execution.activation_nm: N > M in pattern '9:8'"),
])
def test_bad_systolic_section(tmp_path, edit, message):
    from nmsim.hardware import load

    path = _spec(tmp_path)
    path.write_text(edit(path.read_text()))
    with pytest.raises(UserError, match=message):
        load(path)


def test_peak_must_match_the_array(tmp_path):
    from nmsim.execution import model_for
    from nmsim.hardware import load

    hw = load(_spec(tmp_path, peak=5.0))
    with pytest.raises(UserError, match=r"sa.yaml: matrix.bf16.dense_tflops: dense_tflops 5 differs from the systolic "
                                        r"array's 2 x 32 x 16 x 1 GHz = 1.024 TFLOPS"):
        model_for(hw)


# ---- research engines at their papers' figures ----------------------------------------------------------------
def test_research_engines_reproduce_reported_speedups():
    from nmsim.cost.engines import paper_rows

    rows = paper_rows().set_index(["engine", "pattern", "activations"])
    # VEGETA, bert-base batch 1 on its 512 MACs: 2:4 and 1:4 over its dense mode (paper 2.20/1.09, 3.74/1.09)
    assert rows.loc[("vegeta", "2:4", "dense"), "nmsim_speedup"] == pytest.approx(1.9475, abs=5e-4)
    assert rows.loc[("vegeta", "1:4", "dense"), "nmsim_speedup"] == pytest.approx(3.7007, abs=5e-4)
    # S2TA, ViT-B/16: weight DBB 4:8 alone stays under its 2x bound, so it cannot show the paper's ">2x";
    # weights and activations both 4:8 DBB do (joint bound 4x, less folds, fill and drain)
    assert rows.loc[("s2ta", "4:8", "dense"), "nmsim_speedup"] == pytest.approx(1.7861, abs=5e-4)
    joint = rows.loc[("s2ta", "4:8", "4:8")]
    assert joint["kind"] == "lower_bound" and joint["nmsim_speedup"] == pytest.approx(3.1258, abs=5e-4)
    scored = rows[rows["comparable"] == "yes"]
    assert len(scored) == 3 and (scored["reproduced"] == "yes").all()
    assert scored.loc[scored["kind"] == "ratio", "error_pct"].abs().max() <= 10.0
    # rows nmsim cannot compare carry the reason and no score
    assert rows.loc[rows["comparable"] != "yes", "error_pct"].isna().all()
    assert (rows.loc[rows["comparable"] != "yes", "reproduced"] == "not scored").all()


def test_engine_model_with_activation_dbb_prunes_forward_gemms_only():
    from nmsim.execution import ExecContext, model_for
    from nmsim.cost.engines import engine_model
    from nmsim.hardware import load

    hw = load("s2ta")
    table = _vit_tiny_table("ff=4:8")
    assert model_for(hw).activation == (1, 1)
    joint = engine_model(hw, "4:8")
    assert joint.activation == (4, 8)
    ctx = ExecContext(hw, "int8")
    a, b = model_for(hw).price(table, ctx), joint.price(table, ctx)
    fwd = np.asarray(table.pass_codes) == 0
    assert np.all(b.extra["cycles"][fwd] < a.extra["cycles"][fwd])
    assert np.all(b.extra["cycles"][~fwd] == a.extra["cycles"][~fwd])
    assert np.all(b.weight_bytes == a.weight_bytes)


def test_engines_against_gpus_equal_peak_and_absolute():
    from nmsim.cost.engines import gpu_table

    table = gpu_table(workload="vit-tiny", plan="ff=2:4", gpus=("h100-sxm5",))
    assert "equal peak" in table.attrs["what"] and "GEMM time only" in table.attrs["what"]
    by = table.set_index("hardware")
    assert (by.loc[["vegeta", "s2ta", "highlight"], "model"] == "systolic").all()
    h100 = by.loc["h100-sxm5"]
    assert h100["equal_peak_sparse_seconds"] == pytest.approx(h100["sparse_seconds"])
    assert (by["equal_peak_sparse_seconds"] <= by["sparse_seconds"] + 1e-15).all()


def test_spec_sram_and_metadata_port(tmp_path):
    from nmsim.execution import ExecContext, model_for
    from nmsim.hardware import load

    ideal = load(_spec(tmp_path))
    path = _spec(tmp_path)
    path.write_text(path.read_text().replace(
        "  clock_ghz: 1.0\n",
        "  clock_ghz: 1.0\n  sram_kib: {ifmap: 16, filter: 16, ofmap: 16}\n  metadata_bits_per_cycle: 8\n"))
    small = load(path)
    assert small.execution["sram_kib"] == {"ifmap": 16.0, "filter": 16.0, "ofmap": 16.0}
    table = _vit_tiny_table("ff=2:4")
    a = model_for(ideal).price(table, ExecContext(ideal, "bf16"))
    b = model_for(small).price(table, ExecContext(small, "bf16"))
    # re-reads and spills only add traffic; the narrow metadata port stretches sparse tile loads only
    assert np.all(b.bytes >= a.bytes) and float(np.sum(b.bytes)) > float(np.sum(a.bytes))
    sp = np.asarray(a.sparse)
    assert np.all(b.extra["cycles"][sp] > a.extra["cycles"][sp])
    assert np.all(b.extra["cycles"][~sp] == a.extra["cycles"][~sp])
    assert np.all(b.metadata_seconds[sp] > 0) and np.all(a.metadata_seconds == 0)


# ---- every table putting research engines beside GPUs says its basis ----------------------------------------------
def _cli(*argv):
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from nmsim.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def test_compare_says_times_are_absolute_when_peaks_differ():
    rc, out, _ = _cli("compare", "vit-tiny", "--hardware", "vegeta,h100-sxm5", "--patterns", "dense,2:4",
                      "--batch", "2")
    assert rc == 0
    head = " ".join(line.lstrip("# ") for line in out.splitlines() if line.startswith("#"))
    assert "times are absolute: each device at its own dense peak (vegeta bf16 2.05, h100-sxm5 bf16 989" in head
    assert "equal dense peak: nmsim validate --engines" in head
    assert max(len(line) for line in out.splitlines()) <= 100
    # one device (or equal peaks): no basis line
    rc, out, _ = _cli("compare", "vit-tiny", "--hardware", "vegeta", "--patterns", "dense,2:4", "--batch", "2")
    assert rc == 0 and "absolute" not in out


def test_validate_engines_prints_scored_rows_and_both_bases():
    rc, out, _ = _cli("validate", "--engines")
    assert rc == 0
    assert "nothing is fitted: every comparable row is scored" in out
    assert "not scored: highlight, energy-delay product" in out and "not scored: vegeta, 4:4 (dense) mode" in out
    assert "not scored: vegeta, unstructured (95 %) over RASA-SM" in out
    assert "equal peak" in out and "absolute (each device at its own peak)" in out
    assert "equal_peak_sparse_time" in out


def test_validate_systolic_prints_stored_scalesim_agreement():
    rc, out, _ = _cli("validate", "--systolic")
    assert rc == 0
    assert "cycles: 235 GEMMs (113 ws, 62 is, 60 os), worst error 0.154 %" in out
    # the summary: held-out N:M on input stationary, and a non-square array in every dataflow
    summary = {tuple(line.split()[:4]): line.split()[4:] for line in out.splitlines()
               if line.split()[:1] in (["cycles"], ["traffic"])}
    assert summary[("cycles", "held_out", "is", "128x128")] == ["2:4", "1:4", "1:8", "10", "10", "0.0435"]
    assert summary[("cycles", "held_out", "is", "32x64")] == ["1:1", "2:4", "1:4", "1:8", "7", "7", "0.1536"]
    # every GEMM with SCALE-Sim's total and incl. prefetch cycles beside nmsim's
    assert "split                 shape         MxKxN   array df  nm scalesim incl_prefetch  nmsim error_pct" in out
    assert "seen             vit-b qkv  197x768x2304 128x128 ws 1:1   62,531       266,257 62,532  0.001599" in out
    assert "held_out            vit-b proj   197x768x768 128x128 is 1:8    2,299" in out
    assert "SCALE-Sim's 'incl. prefetch' cycles run from its first DRAM read to its last DRAM write" in out
    lines = {}
    for line in out.split("SRAM/DRAM traffic")[1].splitlines():  # the summary's rows (its 'worst' block repeats
        # the keys later)
        if line.split()[:1] in (["seen"], ["held_out"]):
            lines.setdefault(line.split()[0], line.split())
    assert lines["seen"][1:6] == ["60", "360", "298", "296", "294"]
    assert lines["held_out"][1:6] == ["40", "256", "214", "213", "213"]
    assert "counted another way by SCALE-Sim by design" in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_exported_topology_sums_scalesim_total_and_incl_prefetch_cycles(tmp_path):
    from nmsim.export.scalesim import compare_topology, topology_text

    gemms = pd.DataFrame({"layer": ["ff1", "attn"], "b": [1, 3], "m": [197, 197], "k": [192, 64], "n": [768, 197],
                          "sparsity": ["2:4", "1:1"]})
    (tmp_path / "fwd.csv").write_text(topology_text(gemms))
    jobs = []

    def fake(job):  # what SCALE-Sim reports: nmsim's cycles less one, and a made-up incl. prefetch
        jobs.append(job)
        cyc = float(gemm_cycles(ArrayConfig(8, 16, "ws"), job["m"], job["k"], job["n"],
                                keep_n=int(job["sparsity"][0]), group_m=int(job["sparsity"][2]))["compute_cycles"])
        return {"total_cycles": cyc - 1, "total_cycles_incl_prefetch": 10 * cyc}

    fwd, step = compare_topology(tmp_path, fake, rows=8, cols=16)
    # ff1 2:4 (K_c 96: 12 row folds x 48 column folds x (2*8 + 16 + 197 - 2)) once, attn 3 times
    ff1 = 12 * 48 * (2 * 8 + 16 + 197 - 2)
    attn = 8 * 13 * (2 * 8 + 16 + 197 - 2)
    assert fwd["nmsim_cycles"] == ff1 + 3 * attn and fwd["scalesim_cycles"] == ff1 - 1 + 3 * (attn - 1)
    assert fwd["scalesim_incl_prefetch_cycles"] == 10 * (ff1 + 3 * attn)
    assert step["scalesim_incl_prefetch_cycles"] == fwd["scalesim_incl_prefetch_cycles"]
    assert [j["sparsity"] for j in jobs] == ["2:4", "1:1"] and "BlockSize : 4" in jobs[0]["config"]
