"""Execution models: one pricing path (same number from every command), gpu kernels, fusion, dtypes, energy."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from nmsim.cli import main
from nmsim.cost import price, price_gemms, price_many, trace_for_mode
from nmsim.cost.training import TrainingCostModel, step_flops
from nmsim.errors import UserError
from nmsim.execution import ExecContext, Fusion, model_class, model_for
from nmsim.execution.table import gemm_table, restack
from nmsim.graph import load_workload, trace_workload
from nmsim.hardware import load
from nmsim.recipes import make_recipe
from nmsim.sparsity import NMPattern, SparsityPlan


def run(*argv, capsys):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def vitb():
    return trace_for_mode("vit-base-16", "inference")  # batch 256


@pytest.fixture(scope="module")
def vitl():
    return trace_workload(load_workload("vit-large-16"), batch=256)


# ---- one pricing path ------------------------------------------------------------------------------------------
def test_vit_b_forward_on_a100_same_number_everywhere(vitb, capsys):
    from nmsim.report.study import hardware_table
    api = price(vitb, None, "a100", "bf16").totals["seconds"]
    many = price_many(vitb, [(None, load("a100"), "bf16")]).loc[0, "seconds"]
    report = hardware_table(load_workload("vit-base-16"), ["dense"], [load("a100")], "bf16")
    rc, out, _ = run("compare", "vit-base-16", "--hardware", "a100", "--patterns", "dense", "--format", "json",
                     capsys=capsys)
    compare = json.loads(out)[0]["seconds"]
    rc2, out2, _ = run("price", "vit-base-16", "--hardware", "a100", "--format", "json", capsys=capsys)
    cli_total = [r for r in json.loads(out2) if r["role"] == "total"][0]["seconds"]
    assert rc == rc2 == 0
    for value in (many, report.loc[0, "latency_ms"] / 1e3, compare, cli_total):
        assert value == pytest.approx(api, rel=1e-9)


def test_vit_l_training_step_same_number_everywhere(vitl, capsys):
    plan = SparsityPlan.parse("ff=2:4")
    p = price(vitl, None, "a100", "bf16", "training")
    model = TrainingCostModel(vitl, plan, hardware="a100", dtype="bf16")
    dense_state = make_recipe("dense", {"ff": None}).phases(10)[0].state
    cost = model.state_cost(dense_state)
    assert cost["step_seconds"] == pytest.approx(p.totals["seconds"], rel=1e-9)
    assert cost["step_joules"] == pytest.approx(p.totals["joules"], rel=1e-9)
    # FLOPs: the trainer's hook, the budget model and price agree (matrix nominal + vector incl. AdamW)
    assert cost["step_flops"] == pytest.approx(p.totals["nominal_flops"] + p.totals["vector_flops"], rel=1e-9)
    assert step_flops(load_workload("vit-large-16"), {"ff": None}, dense_state, 256) == pytest.approx(
        cost["step_flops"], rel=1e-9)
    rc, out, _ = run("budget", "vit-large-16", "--sparsity", "ff=2:4", "--recipes", "dense", "--epochs", "1",
                     "--hardware", "a100", "--dtype", "bf16", "--format", "json", capsys=capsys)
    assert rc == 0
    assert json.loads(out)[0]["seconds"] == pytest.approx(p.totals["seconds"], rel=1e-9)
    many = price_many(vitl, [(None, load("a100"), "bf16")], "training")
    assert many.loc[0, "seconds"] == pytest.approx(p.totals["seconds"], rel=1e-9)


def test_price_many_equals_price_for_every_model(vitb):
    plans = ["dense", "ff=2:4", "ff=1:8", "all=2:4", "ff=1:16,qkv=1:4"]
    hws = [load(n) for n in ("a100", "v100", "h100", "ideal-nm", "tpu-v4")]
    configs = [(p, h, None) for h in hws for p in plans]
    many = price_many(vitb, configs)
    for i, (plan, hw, _) in enumerate(configs):
        t = price(vitb, None if plan == "dense" else plan, hw, None).totals
        for key in ("seconds", "executed_flops", "bytes", "joules", "metadata_bytes", "weight_bytes"):
            assert many.loc[i, key] == pytest.approx(t[key], rel=1e-9), (plan, hw.name, key)
        assert many.loc[i, "bound"] == t["bound"]


# ---- the interface ---------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from([None, "2:4", "1:4", "1:8", "1:16", "2:8", "8:64", "1:128"]), min_size=1,
                max_size=5))
def test_stacked_patterns_broadcast_like_single_rows(patterns):
    """A (P, rows) stacked table gives, row by row, what each single-pattern table gives (all models)."""
    graph = trace_for_mode("vit-tiny", "training", batch=4)
    mops = graph.matrix_ops
    base = gemm_table(graph, None, "training")
    known = list(base.patterns)
    pats = [None if p is None else NMPattern.parse(p) for p in patterns]
    for hw_name in ("a100", "v100", "ideal-nm"):
        hw = load(hw_name)
        ctx = ExecContext(hw, "fp16", fusion=Fusion(True, True))
        codes = []
        for p in pats:
            table = gemm_table(graph, pd.Series([p] * len(mops), index=mops.index, dtype=object), "training")
            codes.append(table.pattern)
            single = model_for(hw).price(table, ctx)
            if p is not None and p not in known:
                known.append(p)
            op_codes = np.full(len(mops), known.index(p) if p is not None else 0)
            stacked = model_for(hw).price(restack(base, op_codes[None, :].repeat(2, axis=0), known), ctx)
            assert stacked.seconds.shape == (2, len(table))
            np.testing.assert_allclose(stacked.seconds[1], single.seconds, rtol=1e-12)
            np.testing.assert_allclose(stacked.joules[1], single.joules, rtol=1e-12)
            np.testing.assert_array_equal(stacked.kernel[0], single.kernel)


def test_gemm_table_is_complete_and_frozen():
    """Every field is set at construction; nothing is attached later and replace() keeps every field."""
    graph = trace_for_mode("vit-tiny", "training", batch=4)
    mops = graph.matrix_ops
    t = gemm_table(graph, SparsityPlan.parse("ff=2:4").resolve(mops), "training", dgrad_sparse=True)
    assert set(vars(t)) == {f.name for f in dataclasses.fields(t)}
    # 26 matrix ops (patch conv, 3 layers x (q, k, v, logit, attend, o, ff1, ff2), head) x 3 passes, less the
    # patch conv's dgrad (no input gradient) and the 6 act x act matmuls' wgrad (no weight)
    assert len(t) == 3 * 26 - 1 - 6 and t.dgrad_sparse is True and [str(p) for p in t.patterns] == ["None", "2:4"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.op_pos = t.op_pos
    assert list(t.frame["pass"]) == [("fwd", "dgrad", "wgrad")[c] for c in t.pass_codes]
    assert (mops["id"].to_numpy()[t.op_pos] == np.asarray(t.frame["id"])).all()
    doubled = t.replace(b=2 * t.b)
    assert (doubled.op_pos is t.op_pos and doubled.pass_codes is t.pass_codes and doubled.dgrad_sparse is True
            and doubled.patterns == t.patterns and (doubled.b == 2 * t.b).all())
    stacked = restack(t, np.zeros((3, len(mops)), dtype=np.int64))
    assert stacked.pattern.shape == (3, len(t)) and not stacked.pattern.any() and stacked.pass_codes is t.pass_codes


def test_unknown_model_and_spec_errors(tmp_path, capsys):
    with pytest.raises(UserError, match="unknown execution model 'nope'"):
        model_class("nope")
    text = (load("a100").path and open(load("a100").path).read())
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("kind: compressed-weight", "kind: magic"))
    rc, out, err = run("hardware", "validate", str(bad), capsys=capsys)
    assert rc == 2 and err == ("nmsim: error: bad.yaml: execution.kernels.compressed-nm.kind: unknown kernel kind "
                               "'magic' (known: dense, sparse-tensor-core, compressed-weight)\n")
    bad.write_text(text.replace("model: gpu", "model: warp-drive"))
    rc, out, err = run("hardware", "validate", str(bad), capsys=capsys)
    assert rc == 2 and "execution.model: unknown execution model 'warp-drive'" in err


# ---- gpu kernels -----------------------------------------------------------------------------------------------
def _one(m, k, n):
    flops = 2.0 * m * k * n
    return pd.DataFrame([{"id": 0, "kind": "linear", "role": "ff1", "module": "ff1", "layer": 0, "gemm_b": 1,
                          "gemm_m": m, "gemm_k": k, "gemm_n": n, "has_bias": False, "weight_numel": k * n,
                          "fwd_flops": flops, "dgrad_flops": flops, "wgrad_flops": flops, "vector_flops": 0.0,
                          "bwd_vector_flops": 0.0}])


def test_table19_reproduced_within_15_percent():
    """The published numbers, scored with the kernel values the specs carry (no fit: seconds, not a minute)."""
    from nmsim.cost.validate import validate
    v = validate(refit=False)
    assert (v.fits["spec_value"] == v.fits["fitted_value"]).all()
    published(v, refit=False)


@pytest.mark.validate
def test_refit_gives_the_values_the_specs_carry():
    """`make validate`: the fits, rerun, give the specs' values (3 significant digits) and the same numbers."""
    from nmsim.cost.validate import validate
    v = validate()
    assert np.allclose(v.fits["spec_value"], v.fits["fitted_value"], rtol=2e-3)
    published(v, refit=True)


def published(v, refit: bool) -> None:
    """What README "How accurate is it" and the bundled bands report, from a validation of the bundled rows."""
    groups = v.groups.set_index("group")
    assert groups.loc["paper-table19-v100", "mape_pct"] == pytest.approx(6.07, abs=0.01)
    assert groups.loc["paper-table19-a100", "mape_pct"] == pytest.approx(3.95, abs=0.01)
    assert len(v.fits) == 17 and (v.fits["rows"] > 0).all()
    # H100 has its own cuBLAS / cuSPARSELt values
    fits = v.fits.drop_duplicates("fit").set_index("fit")["fitted_value"]
    joint = v.fits.set_index(["fit", "field"])["fitted_value"]
    assert fits["h100-cublas"] == pytest.approx(0.797, abs=1e-3)   # stream-K, as every sm90 cuBLAS
    assert fits["h100-cusparselt"] == pytest.approx(0.525, abs=1e-3)
    # the H100 PCIe's own (SlideSparse's Llama-3.2-1B bf16 shapes): 350 W, its 2:4 kernel at 0.73x the dense level
    assert fits["h100pcie-cublas"] == pytest.approx(0.648, abs=1e-3)
    assert fits["h100pcie-cusparselt"] == pytest.approx(0.476, abs=1e-3)
    # NM-SpMM (fp32 software N:M) against cuBLAS SGEMM on the A100: its level per executed FLOP against dense
    assert fits["a100-nm-spmm"] == pytest.approx(1.0, abs=1e-3)   # its bound, with its L2 gather priced
    assert fits["a100-cublas-sgemm"] == pytest.approx(0.963, abs=1e-3)   # with its tile shapes to pick from
    # nmSPARSE: efficiency and the resident warps its math needs, fitted jointly (its occupancy from its code)
    assert joint["a100-nmsparse", "efficiency"] == pytest.approx(0.835, abs=2e-3)
    assert joint["a100-nmsparse", "occupancy.latency_warps"] == pytest.approx(19.4, abs=0.05)
    # end-to-end fits: the step's GPU gap per kernel and tinygemm's HBM share at batch-1 decode, jointly on gpt-fast's
    # Llama-2-7B bf16 and int4 steps; then eager host dispatch per counted kernel (blog: eager 25.5 vs CUDA graphs
    # 107.0 tok/s); the other decode rows stay scored
    assert joint["a100-decode-step", "kernel_gap_us"] == pytest.approx(3.43, abs=0.01)
    assert joint["a100-decode-step", "bandwidth_efficiency"] == pytest.approx(0.590, abs=1e-3)
    assert fits["a100-host-op"] == pytest.approx(112.3, abs=0.1)
    # the H100's fp8 GEMM level, on TensorRT-LLM's six Llama-2-7B fp8 runs reserved for it
    assert fits["h100-cublas-fp8"] == pytest.approx(0.574, abs=1e-3)
    e2e = v.rows[v.rows["level"] == "end-to-end"]
    assert sorted(e2e.loc[e2e["use"] == "fitted", "id"]) == ["gptfast-llama2-7b-bf16", "gptfast-llama2-7b-graphs-vs-eager",
                                                              "gptfast-llama2-7b-int4"] + [
        f"trtllm-llama2-7b-h100-{r}" for r in ("b120-128-2048", "b56-2048-2048", "b84-2048-128", "b896-128-128",
                                               "ttft-128", "ttft-2048")]
    # scored rows (never fitted): the numbers README "How accurate is it" reports
    rows = v.rows.set_index("id")
    assert rows.loc["cls203-2:4-speedup", "predicted"] == pytest.approx(1.277, abs=0.005)  # measured 1.21 (H100)
    assert rows.loc["llama3-8b-int4", "predicted"] == pytest.approx(5.558e-3, rel=5e-3)     # tinygemm pinned
    # Sparse-Marlin's gain over tinygemm, torchao Llama-3-8B on the A100: 1.19x predicted, 1.25x measured (was 2.16x)
    assert rows.loc["llama3-8b-int4-2:4-vs-int4", "predicted"] == pytest.approx(1.194, abs=0.005)
    # on the H100 (torchao): Sparse-Marlin's bandwidth per SM stays the A100's (one block per SM), tinygemm keeps
    # its share of HBM: 1.02x predicted, 0.99x measured (1.17x when tinygemm was carried per SM as Marlin)
    assert rows.loc["ao-llama3-8b-int4-2:4-vs-int4-h100", "predicted"] == pytest.approx(1.022, abs=0.005)
    assert rows.loc["llama31-8b-int4-h100", "error_pct"] == pytest.approx(4.1, abs=0.1)
    # torchao's eager (no torch.compile) steps: the first held-out test of the fitted host dispatch
    assert groups.loc["torchao-decode-eager-a100", "mape_pct"] == pytest.approx(8.6, abs=0.1)
    use = groups.reset_index().set_index("use")
    assert use.loc["scored"].query("group == 'all scored rows'")["rows"].item() == 381
    assert use.loc["scored"].query("group == 'all scored rows'")["mape_pct"].item() == pytest.approx(9.81, abs=0.1)
    assert use.loc["all", "mape_pct"] == pytest.approx(9.37, abs=0.1)
    # held out per level: kernels meet the 10 % goal (the RTX 4090 rows: a GPU generation no fit saw); the BERT
    # SQuAD training steps priced as their program ran them (eager, unfused, dropout; element-wise kernels at the
    # GPU's measured STREAM share, the eager score scale and mask, bias-gradient reductions) at 12.9 %, was 21.6 %
    # (the H100s still up to 26 % fast, docs/training-steps.md)
    level = groups.loc[["scored kernel rows", "scored end-to-end rows", "scored inference-step rows",
                        "scored training-step rows"]]
    assert list(level["rows"]) == [288, 93, 81, 12]
    assert level["mape_pct"].tolist() == pytest.approx([9.21, 11.67, 11.48, 12.94], abs=0.02)
    # the inference steps by what they time: TensorRT-LLM's prefill (1st token) and generation runs (prefill plus
    # batched decode steps; 16.0 % and 17.3 % before the fp8 level), and the batch-1 decode steps of gpt-fast/torchao
    kinds = groups.loc[["scored prefill rows", "scored batch-1 decode rows", "scored batched decode rows"]]
    assert list(kinds["rows"]) == [20, 17, 42]
    assert kinds["mape_pct"].round(1).tolist() == [11.5, 5.4, 13.8]
    scored_train = v.groups.query("use == 'scored'").set_index("group").loc[["lambda-bert-squad-train",
                                                                           "dle-bert-squad-train"]]
    assert scored_train["mape_pct"].round(1).tolist() == [12.4, 15.6]   # by source (was 20.5, 27.2)
    # the bundled 80 % bands are what these scored rows give (`nmsim validate --write-bands` rewrites them)
    from nmsim.bands import table
    from nmsim.bands.build import levels
    from nmsim.cost.validate import gpu_residuals
    got, bundled = levels(gpu_residuals(v)), {k: e for k, e in table().items() if k != "cluster run"}
    assert got.keys() == bundled.keys()
    for k, e in bundled.items():   # exact after the refit; the specs' 3-digit values move a bound by < 0.1 %
        assert got[k] == e if refit else got[k] == {**e, **{f: pytest.approx(e[f], rel=1e-3) for f in ("lo", "hi")}}
    scored = groups.reset_index().query("use == 'scored'").set_index("group")
    # the L2 limiter (A100 and RTX 4090 L2 bandwidths sourced; NM-SpMM's own tiles and index sharing), nmSPARSE's
    # occupancy and cuBLAS SGEMM's level on an Ada SM (sourced on a GA102, not fitted)
    assert scored.loc["nm-spmm-a100", "mape_pct"] == pytest.approx(4.6, abs=0.1)
    assert scored.loc["nm-spmm-rtx4090", "mape_pct"] == pytest.approx(7.0, abs=0.1)
    assert scored.loc["nmsparse-a100", "mape_pct"] == pytest.approx(10.0, abs=0.1)
    assert scored.loc["nmsparse-rtx4090", "mape_pct"] == pytest.approx(6.6, abs=0.1)
    # SlideSparse's cuSPARSELt 2:4 against cuBLASLt ran on an H100 PCIe: on its own fitted level, per-call floors
    # and stream-K cuBLAS (no wave quantization) the bf16 square gains are 0.86-1.47x predicted against 0.75-1.59x
    # measured (27 % on the SXM5 fit, now 7.9 %)
    sq = v.rows.set_index("id").filter(like="slidesparse-h100-bf16", axis=0)
    assert sq["predicted"].tolist() == pytest.approx([0.860, 1.072, 1.452, 1.465, 1.467], abs=2e-3)
    assert sq["error_pct"].abs().mean() == pytest.approx(7.9, abs=0.1)
    assert scored.loc["slidesparse-h100pcie-bf16", "mape_pct"] == pytest.approx(16.0, abs=0.1)   # Qwen2.5-7B
    assert scored.loc["slidesparse-h100pcie-fp8", "mape_pct"] == pytest.approx(14.6, abs=0.1)
    assert scored.loc["slidesparse-h100pcie-int8", "mape_pct"] == pytest.approx(17.1, abs=0.1)
    # the RTX 4090, a generation no fit saw, per pattern: the software N:M kernels (NM-SpMM, nmSPARSE) stay within
    # 5-8 % as sparsity grows (the L2 limiter); its cuSPARSELt 2:4 and cuBLAS rows carry the A100's fits: the A100's
    # 2:4 level is its shared-memory operand feed's limit (0.853), and both kernels' issue time per FLOP is a quarter
    # of the math at this SM's FP32-accumulate rate (0.946 / 0.944 of the peak): 2:4 at 7.5 % (15.6 % with the feed
    # alone, 31.5 % before, 70.5 % before cuSPARSELt's split-K and partials kept in L2), dense 9.0 % (15.5 %)
    held = scored.filter(like="held-out rtx-4090 kernel rows", axis=0)
    assert [g.rsplit(", ", 1)[1] for g in held.index] == ["dense", "16:32", "2:4", "12:32", "8:32", "4:32"]
    assert held["rows"].tolist() == [20, 24, 13, 24, 24, 24]
    assert held["mape_pct"].round(1).tolist() == [9.0, 4.9, 7.5, 6.1, 5.8, 8.0]


def test_measurement_pins_a_dense_kernel():
    """torchao's int4 path runs tinygemm: pinned, it runs the int4 weight GEMMs instead of the faster Marlin."""
    graph = trace_for_mode("llama-3-8b", "decode", batch=1, context=256)
    lin = lambda p: p.ops[p.ops["kind"] == "linear"]  # noqa: E731
    fast = price(graph, None, "a100", "bf16", "decode", weight_dtype="int4")
    tiny = price(graph, None, "a100", "bf16", "decode", weight_dtype="int4", kernel="tinygemm-int4")
    assert set(lin(fast)["kernel"]) == {"marlin-int4"} and set(lin(tiny)["kernel"]) == {"tinygemm-int4"}
    # the act x act attention matmuls (bf16 x bf16) stay on cuBLAS; both int4 kernels stream their weights at
    # tinygemm's fitted 0.590 of HBM (Marlin carries it), so tinygemm differs only in its slower math
    assert set(tiny.ops.loc[tiny.ops["kind"] == "matmul", "kernel"]) == {"cublas"}
    assert (lin(tiny)["memory_seconds"].to_numpy() == lin(fast)["memory_seconds"].to_numpy()).all()
    assert (lin(tiny)["seconds"].to_numpy() >= lin(fast)["seconds"].to_numpy()).all()
    with pytest.raises(UserError, match="kernel 'tinygemm-int4' runs no GEMM of this plan at bf16 with bf16 weights"):
        price(graph, None, "a100", "bf16", "decode", kernel="tinygemm-int4")


def test_compressed_weight_kernel_not_offered_below_its_measured_rows():
    """Table 19 covers large-M GEMMs only: a 1:8 decode GEMV runs dense, a 1:8 prefill GEMM on the N:M kernel (not
    on the H100: its stream-K cuBLAS and cuSPARSELt outrun the Ampere-code N:M kernel there)."""
    pats = lambda ops, p: pd.Series([p], index=ops.index, dtype=object)  # noqa: E731
    for name in ("a100", "h100", "v100"):
        dtype = "fp16"
        gemv, big = _one(1, 4096, 4096), _one(256, 4096, 4096)  # 128 rows: split-K cuBLAS wins on the v100
        assert price_gemms(gemv, pats(gemv, NMPattern(1, 8)), load(name), dtype).iloc[0]["kernel"] == "cublas"
        kernel = price_gemms(big, pats(big, NMPattern(1, 8)), load(name), dtype).iloc[0]["kernel"]
        assert kernel == ("cublas" if name == "h100" else "compressed-nm")


def test_kernel_choice_pin_and_small_m():
    hw = load("a100")
    ops = _one(4096, 4096, 4096)
    pats = lambda p: pd.Series([p], index=ops.index, dtype=object)  # noqa: E731
    fast = price_gemms(ops, pats(NMPattern(1, 8)), hw, "bf16").iloc[0]
    assert fast["kernel"] == "compressed-nm" and fast["hw_pattern"] == "1:8"
    pinned = price_gemms(ops, pats(NMPattern(1, 8)), hw, "bf16", kernel="cusparselt").iloc[0]
    assert pinned["kernel"] == "cusparselt" and pinned["hw_pattern"] == "2:4"
    assert pinned["executed_flops"] == pytest.approx(ops["fwd_flops"].iloc[0] / 2)
    with pytest.raises(UserError, match="has no kernel 'cutlass'"):
        price_gemms(ops, pats(NMPattern(2, 4)), hw, "bf16", kernel="cutlass")
    # small M belongs to the kernel: the same decode GEMV on h100 (carried kernel data) is also slower sparse
    gemv = _one(1, 4096, 4096)
    for name in ("a100", "h100"):
        d = price_gemms(gemv, pats(None), load(name), "bf16").iloc[0]
        s = price_gemms(gemv, pats(NMPattern(2, 4)), load(name), "bf16", kernel="cusparselt").iloc[0]
        assert d["seconds"] / s["seconds"] < 0.2


def test_int4_weights_with_sparse_marlin():
    graph = trace_for_mode("llama-3-8b", "decode", batch=1, context=256)
    dense = price(graph, None, "a100", "bf16", "decode")
    int4 = price(graph, None, "a100", "bf16", "decode", weight_dtype="int4")
    sparse = price(graph, "all=2:4", "a100", "bf16", "decode", weight_dtype="int4")
    lin = lambda p: p.ops[p.ops["kind"] == "linear"]  # noqa: E731
    assert set(lin(int4)["kernel"]) == {"marlin-int4"} and set(lin(sparse)["kernel"]) == {"sparse-marlin"}
    assert int4.weight_dtype == "int4"
    # weight bytes: int4 = 1/4 of bf16; 2:4 int4 = half the values + 2-bit indices per kept value = 3/8 of a byte
    w = lambda p: lin(p)["weight_bytes"].sum()  # noqa: E731
    assert w(int4) / w(dense) == pytest.approx(0.25, rel=1e-6)
    assert w(sparse) / w(int4) == pytest.approx(0.375 / 0.5, rel=1e-6)
    assert dense.totals["seconds"] > int4.totals["seconds"] > sparse.totals["seconds"]
    with pytest.raises(UserError, match="no kernel for fp8 GEMMs with int4 weights"):
        price(graph, None, "h100", "fp8", "decode", weight_dtype="int4")


def test_fusion_removes_score_traffic_and_labels_bounds(vitb):
    fused = price(vitb, "ff=2:4", "h100", "bf16")
    unfused = price(vitb, "ff=2:4", "h100", "bf16", fusion=False)
    assert fused.fusion == "flash-attention+epilogue" and unfused.fusion == "unfused"
    f_ops, u_ops = fused.ops, unfused.ops
    assert f_ops.loc[f_ops["role"] == "softmax", "bytes"].sum() == 0
    assert u_ops.loc[u_ops["role"] == "softmax", "bytes"].sum() > 0
    assert fused.totals["bytes"] < unfused.totals["bytes"]
    # the case: unfused, the ViT-B 2:4 forward on h100 is labelled memory-bound; fused, compute-bound
    assert unfused.totals["bound"] == "memory" and fused.totals["bound"] == "compute"
    ff = f_ops[f_ops["role"].isin(["ff1", "ff2"])]
    assert (ff["bound"] == "compute").all()


def test_dense_energies_differ_by_device(vitb):
    joules = {n: price(vitb, None, n, "bf16").totals["joules"] for n in ("a100", "h100", "h200")}
    assert len({round(v, 6) for v in joules.values()}) == 3
    # board power x time: 400 W (A100) and 700 W (H100, H200) from the datasheets
    for name, watts in (("a100", 400), ("h100", 700), ("h200", 700)):
        p = price(vitb, None, name, "bf16")
        assert p.totals["joules"] == pytest.approx(p.totals["seconds"] * watts, rel=1e-9)


def test_weight_dtype_cli_and_bad_kernel(capsys):
    rc, out, err = run("price", "llama-3-8b", "--hardware", "a100", "--mode", "decode", "--context", "256",
                       "--batch", "1", "--weight-dtype", "int4", "--sparsity", "all=2:4", capsys=capsys)
    head = out.split("\n        ")[0].replace("\n#   ", " ")  # the table starts with what it priced
    assert rc == 0 and "bf16, int4 weights" in head and "sparse-marlin" in head
    rc, out, err = run("price", "vit-tiny", "--hardware", "a100", "--batch", "2", "--kernel", "nope", capsys=capsys)
    assert rc == 2 and err.startswith("nmsim: error: --kernel: a100-sxm4-80gb has no kernel 'nope' (kernels: cublas")
    rc, out, err = run("price", "vit-tiny", "--hardware", "a100", "--batch", "2", "--weight-dtype", "int3",
                       capsys=capsys)
    assert rc == 2 and err.startswith("nmsim: error: --weight-dtype: unknown dtype 'int3'")


# ---- nmsim validate ------------------------------------------------------------------------------------------
SMALL = """
fits:
  - {name: f, hardware: a100, kernel: cusparselt, field: efficiency, bounds: [0.1, 1.0]}
sources:
  tut: "PyTorch 2:4 tutorial, A100 80GB: Dense 0.870ms Sparse 0.630ms"
rows:
  - {id: s, group: g, level: kernel, fit: f, source: tut, hardware: a100, dtype: fp16,
     gemm: {m: 3072, k: 10240, n: 3072}, plan: "2:4", kernel: cusparselt, metric: seconds, value: 0.630e-3}
  - {id: d, group: g, level: kernel, source: tut, hardware: a100, dtype: fp16,
     gemm: {m: 3072, k: 10240, n: 3072}, metric: seconds, value: 0.870e-3}
"""


def test_validate_cli_fits_and_scores(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text(SMALL)
    rc, out, err = run("validate", "--measurements", str(path), capsys=capsys)
    # 0.5696 / 0.853: the A100's 2:4 operand feed now holds it to 0.853 of the peak, outside its efficiency
    assert rc == 0 and "fitted f: cusparselt.efficiency = 0.6678 on 1 rows" in err
    assert "MAPE per group" in out and "all scored rows" in out
    # fitted and scored rows are printed apart, then MAPE per group, per use and overall
    assert out.index("fitted rows (each used by") < out.index("scored rows (never used by a fit):")
    assert "fitted parameters: 1 " in out and "  all rows" in out
    rc, out, err = run("validate", "--measurements", str(path), "--format", "json", capsys=capsys)
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["s"]["use"] == "fitted" and rows["d"]["use"] == "scored"
    assert rows["s"]["predicted"] == pytest.approx(0.630e-3, rel=1e-4)
    assert abs(rows["d"]["error_pct"]) < 1  # cuBLAS efficiency was fitted on this row in the bundled file


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace("level: kernel, fit: f", "level: kernel, cuda_graphs: 0, fit: f"),
     "m.yaml: rows[0].cuda_graphs: expected true or false, got 0"),
    (lambda t: t.replace("source: tut, hardware: a100, dtype: fp16,\n     gemm: {m: 3072, k: 10240, n: 3072}, metric",
                         "source: blog, hardware: a100, dtype: fp16,\n     gemm: {m: 3072, k: 10240, n: 3072}, metric"),
     "m.yaml: rows[1].source: unknown source 'blog' (sources: tut)"),
    (lambda t: t.replace("value: 0.870e-3", "value: -1"),
     "m.yaml: rows[1].value: must be > 0, got -1"),
    (lambda t: t.replace("fits:", "fitz:"), "m.yaml: fitz: unknown key 'fitz' (did you mean 'fits'? allowed: fits, rows, sources)"),
])
def test_validate_bad_measurements(tmp_path, capsys, edit, message):
    path = tmp_path / "m.yaml"
    path.write_text(edit(SMALL))
    rc, out, err = run("validate", "--measurements", str(path), capsys=capsys)
    assert (rc, out) == (2, "") and err == f"nmsim: error: {message}\n"


def test_by_kernel_sums_to_totals(vitb):
    p = price(vitb, "ff=1:8,qkv=2:4", "a100", "bf16")
    by = p.by("kernel").set_index("kernel")
    assert set(by.index) == {"cublas", "cusparselt", "compressed-nm", "vector"}
    assert by["seconds"].sum() == pytest.approx(p.totals["seconds"], rel=1e-12)
    assert by.loc["cusparselt", "executed_flops"] == pytest.approx(by.loc["cusparselt", "nominal_flops"] / 2)


def test_held_out_by_pattern_skips_fitted_devices_and_orders_by_density():
    """Held-out groups: scored kernel rows of devices with no fitted row, one per pattern, dense first then falling
    density (ties by name); end-to-end rows and devices a fit saw are left out."""
    from nmsim.cost.validate import held_out_by_pattern
    rows = [{"plan": None}, {"plan": "4:32"}, {"plan": "16:32"}, {"plan": "2:4"}, {"plan": "4:32"},
            {"plan": "8:32"}, {"plan": "2:4"}, {"plan": None}]
    df = pd.DataFrame({"hardware": ["new", "new", "new", "new", "new", "new", "seen", "new"],
                       "use": ["scored"] * 6 + ["fitted", "scored"],
                       "level": ["kernel"] * 7 + ["end-to-end"]})
    out = held_out_by_pattern(df, rows)
    assert [(hw, p, list(sel.index)) for hw, p, sel in out] == [
        ("new", "dense", [0]), ("new", "16:32", [2]), ("new", "2:4", [3]), ("new", "8:32", [5]),
        ("new", "4:32", [1, 4])]
