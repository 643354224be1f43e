"""The one memory model (nmsim.memory): Korthikanti et al. 2022's formulas on the single-device path, the same
activations from price --memory and cluster plan, precision schemes, fit verdicts on every priced row, and the
published measurements' fit/score split."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nmsim.cost import trace_for_mode
from nmsim.graph import ModelConfig, load_workload, trace_workload
from nmsim.memory import (GIB, PRECISIONS, activation_bytes_per_token, kv_cache_bytes, memory_footprint,
                          step_memory)
from nmsim.memory.layout import ALLOCATOR_OVERHEAD, RUNTIME_BYTES

GPT = ModelConfig(name="g", family="gpt2", layers=2, d_model=256, heads=8, ffn=1024, ffn_kind="gelu", vocab=100,
                  seq_len=512, max_positions=512, causal=True)


@pytest.fixture(scope="module")
def gpt_graph():
    return trace_workload(GPT, batch=2, seq=512)


@pytest.mark.parametrize("recompute,per_layer", [
    ("none", lambda s, b, h, a: s * b * h * (34 + 5 * a * s / h)),   # Korthikanti et al. 2022, Eq. 1
    ("selective", lambda s, b, h, a: 34 * s * b * h),                # Sec. 5: the attention core recomputed
    ("full", lambda s, b, h, a: 2 * s * b * h)])                     # Sec. 4.3: each layer's input only
def test_single_device_activations_are_korthikanti(gpt_graph, recompute, per_layer):
    s, b, h, a, L, V = 512, 2, 256, 8, 2, 100
    m = memory_footprint(gpt_graph, None, "a100", "bf16", "training", recompute=recompute, fusion=False,
                         dropout=True)
    live = s * b * h * (34 + 5 * a * s / h) if recompute == "full" else 0   # one layer recomputed in backward
    assert m.loc["activations", "bytes"] == pytest.approx(L * per_layer(s, b, h, a) + live + 4 * V * s * b)
    assert m.attrs["recompute"] == recompute and not m.attrs["flash"]


@pytest.mark.parametrize("t,sp,rec,expect", [   # Korthikanti et al. 2022, Table 2 (per token and layer, / h)
    (4, False, 0, 10 + 24 / 4 + 5 * 8 * 512 / (256 * 4)), (4, True, 0, (34 + 5 * 8 * 512 / 256) / 4),
    (4, True, 1, 34 / 4), (4, False, 1, 10 + 24 / 4), (4, False, 2, 2)])
def test_tensor_and_sequence_parallel_variants(t, sp, rec, expect):
    got = float(activation_bytes_per_token(GPT, 512, t, sp, rec, flash=False, dropout=True)[0])
    assert got == pytest.approx(expect * 256)


def test_fp32_activations_double_all_but_the_masks():
    bf = float(activation_bytes_per_token(GPT, 512, flash=False, dropout=True)[0])
    fp = float(activation_bytes_per_token(GPT, 512, flash=False, dropout=True, size=4.0)[0])
    masks = 2 * 256 + 8 * 512   # two 1-byte h masks, one 1-byte a*s mask
    assert fp - masks == pytest.approx(2 * (bf - masks))


def test_llama2_7b_price_and_cluster_plan_agree_near_34sbh():
    """The issue's check: Llama-2-7B, 1 x 4,096 tokens, bf16, FlashAttention, no recompute, a100."""
    from nmsim.cluster.plan import search
    g = trace_for_mode("llama-2-7b", "training", 1, 4096)
    price = memory_footprint(g, None, "a100", "bf16", "training")
    plan = search("llama-2-7b", "dgx-a100", 8, 4096, tp=1, pp=1, mb=1, zero=[0], recompute=["none"]).table.iloc[0]
    act = price.loc["activations", "bytes"]
    assert act == pytest.approx(plan["mem_activations"], rel=1e-9)
    korthikanti = 34 * 4096 * 1 * 4096 * 32
    assert abs(act / korthikanti - 1) < 0.25
    assert act / GIB == pytest.approx(16.57, abs=0.01)


def test_precision_schemes_bytes_per_parameter():
    assert {n: p.total for n, p in PRECISIONS.items()} == {"mixed": 16, "mixed-fp32-grads": 18, "amp": 18,
                                                           "fp32": 16, "bf16": 8}
    from nmsim.cli.price import PRECISION_NAMES
    assert PRECISION_NAMES == tuple(PRECISIONS)


def test_amp_keeps_fp32_weights_beside_the_16_bit_copy(gpt_graph):
    amp = memory_footprint(gpt_graph, None, "a100", "bf16", "training", precision="amp")
    mixed = memory_footprint(gpt_graph, None, "a100", "bf16", "training")
    p = mixed.loc["optimizer", "bytes"] / 12
    assert amp.loc["weights", "bytes"] == pytest.approx(6 * p) and amp.loc["gradients", "bytes"] == 4 * p
    assert amp.loc["optimizer", "bytes"] == 8 * p and mixed.loc["weights", "bytes"] == pytest.approx(2 * p)


def test_decode_row_that_does_not_fit_is_priced_and_flagged():
    """llama-3-8b decode, batch 64 over an 8,192-token cache on an A100: 64 GiB of KV cache + 15 GiB of
    weights do not fit 74.5 GiB; compare, the shape sweep and price --memory say the same number."""
    from nmsim.cost import compare
    from nmsim.cost.shape_sweep import price_shapes
    cfg = load_workload("llama-3-8b")
    assert kv_cache_bytes(cfg, 8192, 64, "bf16") == 64 * GIB
    df = compare("llama-3-8b", "a100", "dense", mode="decode", batch=64, context=8192)
    g = trace_for_mode("llama-3-8b", "decode", 64, None, 8192)
    fp = memory_footprint(g, None, "a100", "bf16", "decode", batch=64, context=8192)
    sweep = price_shapes(cfg, [(None, "a100", "bf16")], "decode", {"batch": [1, 64], "context": [8192]})
    assert not df["fits"].iloc[0] and df["seconds"].iloc[0] > 0
    assert df["mem_gib"].iloc[0] == pytest.approx(fp.loc["total", "gib"])
    assert sweep["mem_gib"].tolist()[1] == pytest.approx(fp.loc["total", "gib"])
    assert sweep["fits"].tolist() == [True, False]
    assert fp.loc["kv_cache", "gib"] == 64 and not fp.attrs["fits"]
    assert df.attrs["memory"].loc[0, "kv_cache_gib"] == 64   # unit-named, as mem_gib


def test_flash_drops_the_scores_from_prefill():
    g = trace_for_mode("llama-2-7b", "prefill", 1, 4096)
    flash = memory_footprint(g, None, "a100", "bf16", "prefill")
    unfused = memory_footprint(g, None, "a100", "bf16", "prefill", fusion=False)
    scores = 2 * 2 * 32 * 4096 * 4096   # scores + softmax output, bf16, 32 heads
    assert unfused.loc["activations", "bytes"] - flash.loc["activations", "bytes"] == scores


def test_runtime_and_allocator_overheads(gpt_graph):
    m = memory_footprint(gpt_graph, None, "a100", "bf16", "training")
    allocated = m["bytes"].drop(["allocator", "runtime", "total"]).sum()
    assert m.loc["runtime", "bytes"] == RUNTIME_BYTES == 1343 * 2 ** 20
    assert m.loc["allocator", "bytes"] == pytest.approx(ALLOCATOR_OVERHEAD * allocated)
    tpu = memory_footprint(gpt_graph, None, "tpu-v4", "bf16", "training")
    assert tpu.loc["runtime", "bytes"] == 0


def test_carried_allocator_overhead_is_the_fit_and_scores_are_reported():
    from nmsim.memory.validate import fit_overhead, frame, validate
    df = frame()
    assert round(fit_overhead(df), 4) == ALLOCATOR_OVERHEAD
    v = validate()
    assert set(v["split"]) == {"fit", "score"} and (v["split"] == "score").sum() == 4
    assert v.attrs["mape"]["score"] == pytest.approx(v.loc[v["split"] == "score", "error_pct"].abs().mean())
    assert v.attrs["mape"]["score"] < 15


@settings(max_examples=60, deadline=None)
@given(t=st.sampled_from([1, 2, 4, 8]), seq=st.integers(16, 8192), flash=st.booleans(), dropout=st.booleans(),
       sp=st.booleans())
def test_recompute_and_parallelism_only_shrink_activations(t, seq, flash, dropout, sp):
    per = lambda tp, s, rec: float(activation_bytes_per_token(GPT, seq, tp, s, rec, flash=flash,  # noqa: E731
                                                              dropout=dropout)[0])
    assert per(t, sp, 2) <= per(t, sp, 1) <= per(t, sp, 0)
    assert per(t, True, 0) <= per(t, False, 0) <= per(1, False, 0)
    unfused = float(activation_bytes_per_token(GPT, seq, t, sp, 0, flash=False, dropout=dropout)[0])
    assert per(t, sp, 0) <= unfused


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 256), s=st.integers(1, 4096), mode=st.sampled_from(["training", "prefill", "decode"]))
def test_step_memory_grows_with_batch(b, s, mode):
    from types import SimpleNamespace
    from nmsim.cost.pricing import hardware_spec
    w = SimpleNamespace(params=1e8, total=2e8, dense_bytes=2e8, sparse_values=0.0, metadata=0.0, masked_numel=0.0)
    hw = hardware_spec("a100")
    one = step_memory(GPT, mode, b, s, s, w, hw, "bf16", flash=True)["total"]
    two = step_memory(GPT, mode, b + 1, s, s, w, hw, "bf16", flash=True)["total"]
    assert float(two) > float(one) > 2e8


def test_report_hardware_rows_carry_the_price_memory_footprint():
    from nmsim.cost.pricing import hardware_spec
    from nmsim.report.study import hardware_table
    cfg = load_workload("vit-tiny")
    df = hardware_table(cfg, ["dense", "all=2:4"], [hardware_spec("a100")], "bf16")
    g = trace_workload(cfg, batch=cfg.batch)
    for plan, row in zip([None, "all=2:4"], df.itertuples()):
        assert row.mem_gib == memory_footprint(g, plan, "a100", "bf16", "inference").loc["total", "gib"]
        assert row.fits
    assert df["mem_gib"].iloc[1] < df["mem_gib"].iloc[0]   # 2:4 weights stored compressed


RUN = ("runs:\n  - {id: r, workload: gpt2, hardware: a100, batch: 1, seq: 64, dtype: bf16, recompute: none, "
       "measure: allocated, mib: 100, split: score}\n")


@pytest.mark.parametrize("text,expected", [
    (RUN.replace("recompute: none", "recompute: some"),
     "m.yaml: runs[0].recompute: unknown recompute mode 'some' (known: none, selective, full)"),
    (RUN.replace("split: score", "split: test"), "m.yaml: runs[0].split: unknown split 'test' (known: fit, score)"),
    (RUN.replace("batch: 1", "batch: 0"), "m.yaml: runs[0].batch: must be > 0, got 0"),
    (RUN.replace("mib: 100", "mib: -1"), "m.yaml: runs[0].mib: must be > 0, got -1"),
    (RUN.replace(", mib: 100", ""), "m.yaml: runs[0]: give the measured peak as a positive mib: or gb:"),
    (RUN.replace("workload: gpt2, ", ""), "m.yaml: runs[0]: missing required field 'workload'"),
    (RUN.replace("dtype: bf16", "dtype: bf16, precision: fp8"),
     "m.yaml: runs[0].precision: unknown precision 'fp8' (known: mixed, mixed-fp32-grads, amp, fp32, bf16)"),
    ("runs: []\n", "m.yaml: runs: give a list of measured runs")])
def test_bad_memory_measurements_are_one_line(tmp_path, monkeypatch, capsys, text, expected):
    from test_bad_input import assert_one_error, run_cli, snapshot
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(text)
    before = snapshot(tmp_path)
    code, err = run_cli(["validate", "--memory", "--measurements", "m.yaml"], capsys)
    assert_one_error(code, err, expected)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("argv,flag", [(["price", "gpt2", "--hardware", "a100", "--recompute", "most"], "--recompute"),
                                       (["compare", "gpt2", "--precision", "fp64"], "--precision"),
                                       (["budget", "gpt2", "--sparsity", "ff=2:4", "--steps", "9",
                                         "--recompute", "al"], "--recompute")])
def test_memory_flag_typos_name_the_flag(argv, flag, capsys):
    from test_bad_input import assert_one_error, run_cli
    code, err = run_cli(argv, capsys)
    assert_one_error(code, err, None)
    assert flag in err


def test_api_frames_carry_the_fit_verdict(tmp_path):
    """A 0.5B-class model fine-tuned on one 24 GB GPU: every API frame gives the same memory and verdict."""
    import nmsim
    w = tmp_path / "small.yaml"
    w.write_text("family: llama\nlayers: 4\nd_model: 896\nheads: 14\nkv_heads: 2\nffn: 4864\nffn_kind: swiglu\n"
                 "norm: rmsnorm\nbias: false\nvocab: 151936\nseq_len: 2048\nposition: rope\ncausal: true\n"
                 "tie_embeddings: true\nhead: lm\nbatch: 1\n")
    kw = {"mode": "training", "batch": 2, "seq": 2048}
    price = nmsim.price(str(w), "l4", **kw)
    compare = nmsim.compare(str(w), hardware="l4", patterns="dense", **kw)
    budget = nmsim.budget(str(w), "ff=2:4", recipes="sr-ste", tokens=1e8, batch=2, seq=2048, hardware="l4")
    mem = nmsim.price(str(w), "l4", memory=True, **kw).set_index("component")
    assert price["mem_gib"].tolist() == pytest.approx([mem.loc["total", "gib"]] * len(price)) and price["fits"].all()
    assert compare["mem_gib"].iloc[0] == pytest.approx(mem.loc["total", "gib"]) and compare["fits"].iloc[0]
    assert budget["mem_gib"].iloc[0] >= mem.loc["total", "gib"] and budget["fits"].iloc[0]


def test_moe_keeps_its_top_k_experts_activations_and_counts_every_expert_weight():
    """Mixtral-8x7B: each token's MLP activations twice (top-2), a dense model's once (experts = 0)."""
    moe = load_workload("mixtral-8x7b")
    dense = moe.replace(experts=0)
    f, size = 14336, 2
    per = lambda c: float(activation_bytes_per_token(c, 4096, flash=True, dropout=False)[0])  # noqa: E731
    assert per(moe) - per(dense) == 3 * size * f   # gate, up and their product of one more expert
    g = trace_for_mode(moe, "decode", 1, None, 4096)
    fp = memory_footprint(g, None, "h100", "bf16", "decode", context=4096)
    from nmsim.graph import parameter_counts
    assert fp.loc["weights_dense", "bytes"] == 2 * parameter_counts(moe)["total"] > 2 * 46e9
