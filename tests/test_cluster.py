"""Clusters: system specs, collectives, activation memory (Korthikanti et al. 2022), N:M bytes per recipe phase,
layout enumeration and pricing, budgets, CLI."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nmsim.cli import main
from nmsim.cluster import collectives as C
from nmsim.cluster.device import DeviceModel
from nmsim.cluster.layout import RunSpec, enumerate_layouts, price_layouts
from nmsim.memory import activation_bytes_per_token
from nmsim.cluster.plan import run_budget, search, steps_for
from nmsim.cluster.system import SYSTEM_DIR, list_systems, load_system
from nmsim.cluster.validation import load_runs
from nmsim.errors import UserError
from nmsim.graph import load_workload
from nmsim.graph.config import ModelConfig
from nmsim.recipes import make_recipe

GPT = ModelConfig(name="gpt-test", family="gpt2", layers=4, d_model=256, heads=8, ffn=1024, ffn_kind="gelu",
                  vocab=1000, seq_len=128, max_positions=128, causal=True)


@pytest.fixture(scope="module")
def dm():
    return DeviceModel(GPT, 128, "h100", plan="ff=2:4")


@pytest.fixture(scope="module")
def dm_ideal():
    return DeviceModel(GPT, 128, "ideal-nm", plan="ff=1:8")


# ---- systems -----------------------------------------------------------------------------------------------
def test_bundled_systems():
    assert {"dgx-a100", "dgx-h100", "tpu-v4-slice"} <= set(list_systems())
    a, h = load_system("dgx-a100"), load_system("dgx-h100", nodes=8)
    assert (a.devices_per_node, a.intra.bandwidth_gbps, a.inter.bandwidth_gbps) == (8, 300, 25)
    assert (h.devices, h.intra.bandwidth_gbps, h.inter.bandwidth_gbps, h.node_power_watts) == (64, 450, 50, 10200)
    assert load_system("tpu-v4-slice").inter.topology == "torus-3d"
    for name in list_systems():  # every number has a source
        s = load_system(name)
        for f in ("devices_per_node", "nodes", "node_power_watts", "intra_node.bandwidth_gbps",
                  "intra_node.latency_us", "inter_node.bandwidth_gbps", "inter_node.latency_us"):
            assert s.source(f), (name, f)


BAD = [
    ("nodes: 4\n", 'nodes: missing source: write {value: X, source: "..."} or add source: to the section'),
    ("nodes: {value: 0, source: x}\n", "nodes.value: must be > 0, got 0"),
    ("nodes: {value: 2.5, source: x}\n", "nodes.value: expected an integer, got 2.5"),
    ("nodes: {value: 2, source: ''}\n", "nodes.source: expected a non-empty string"),
    ("device: nosuch\n", "device: unknown device 'nosuch'"),
    ("inter_node: {fabric: ib, topology: ring, bandwidth_gbps: {value: 1, source: x}, "
     "latency_us: {value: 1, source: x}}\n", "inter_node.topology: unknown topology 'ring'"),
    ("colour: red\n", "colour: unknown key 'colour'"),
    ("intra_node: {fabric: nv, bandwidth_gbps: {value: 1, source: x}, latency_us: {value: 1, source: x}, "
     "efficiency: {value: 1.5, source: x}}\n", "intra_node.efficiency.value: must be <= 1.0, got 1.5"),
]


@pytest.mark.parametrize("patch,message", BAD)
def test_bad_system_file_one_line(tmp_path, capsys, patch, message):
    import yaml
    doc = yaml.safe_load((SYSTEM_DIR / "dgx-h100.yaml").read_text())
    doc.update(yaml.safe_load(patch))
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(doc))
    assert main(["cluster", "systems", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"bad.yaml: {message}" in err, err


def test_missing_field_and_syntax(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text("name: x\n")
    assert main(["cluster", "systems", str(f)]) == 2
    assert "s.yaml: missing required field 'description'" in capsys.readouterr().err
    f.write_text("name: [x\n")
    assert main(["cluster", "systems", str(f)]) == 2
    assert "s.yaml: YAML syntax error" in capsys.readouterr().err


# ---- collectives -------------------------------------------------------------------------------------------
def test_ring_all_reduce_inside_a_node():
    s = load_system("dgx-h100")
    n = 1e9
    bw = 450e9 * 0.8
    assert C.all_reduce(n, 8, 1, s, "ring") == pytest.approx(2 * 7 * 2e-6 + 2 * 7 / 8 * n / bw)
    assert C.all_gather(n, 8, 1, s) == pytest.approx(7 * 2e-6 + 7 / 8 * n / bw)
    assert C.all_reduce(n, 1, 1, s) == 0


def test_hierarchical_all_reduce_across_nodes():
    s = load_system("dgx-a100", nodes=4)
    n = 8e9
    intra = 2 * (7 * 2e-6 + 7 / 8 * n / (300e9 * 0.77))
    inter_ring = 2 * (3 * 5e-6 + 3 / 4 * (n / 8) / (25e9 * 0.9))
    assert C.all_reduce(n, 32, 1, s, "ring") == pytest.approx(intra + inter_ring)
    # one member per node (TP=8 inside): every byte crosses the NIC
    assert C.all_reduce(n, 4, 8, s, "ring") == pytest.approx(2 * (3 * 5e-6 + 3 / 4 * n / (25e9 * 0.9)))
    assert C.p2p(n, 8, s) == pytest.approx(5e-6 + n / (25e9 * 0.9))
    assert C.p2p(n, 1, s) == pytest.approx(2e-6 + n / (300e9 * 0.77))


@settings(max_examples=60, deadline=None)
@given(nbytes=st.floats(1, 1e11), size=st.sampled_from([2, 4, 8, 16, 64, 256]), stride=st.sampled_from([1, 2, 8, 16]))
def test_collective_invariants(nbytes, size, stride):
    s = load_system("dgx-h100", nodes=32)
    ar, ag = C.all_reduce(nbytes, size, stride, s), C.all_gather(nbytes, size, stride, s)
    assert ar >= ag > 0
    assert C.all_reduce(2 * nbytes, size, stride, s) > ar
    assert C.all_reduce(nbytes, size, stride, s, "auto") <= C.all_reduce(nbytes, size, stride, s, "ring") + 1e-15


# ---- activation memory: Korthikanti et al. 2022, Table 2 ------------------------------------------------------
@pytest.mark.parametrize("t", [1, 2, 8])
def test_korthikanti_activation_formulas(t):
    cfg = ModelConfig(name="g", family="gpt2", layers=2, d_model=1024, heads=16, ffn=4096, ffn_kind="gelu",
                      vocab=100, seq_len=2048, max_positions=2048, causal=True)
    s, h, a = 2048, 1024, 16
    per = lambda sp, rec: float(activation_bytes_per_token(cfg, s, t, sp, rec, flash=False, dropout=True)[0])
    assert per(False, 0) == pytest.approx(h * (10 + 24 / t + 5 * a * s / (h * t)))
    assert per(True, 0) == pytest.approx(h / t * (34 + 5 * a * s / h))
    assert per(True, 1) == pytest.approx(34 * h / t)
    assert per(False, 1) == pytest.approx(h * (10 + 24 / t))
    assert per(False, 2) == pytest.approx(2 * h)


def test_swiglu_gqa_flash_activations():
    cfg = load_workload("llama-3-8b")  # h 4096, 8 kv heads of 128, ffn 14336, SwiGLU
    got = float(activation_bytes_per_token(cfg, 2048, 1, False, 0, flash=True, dropout=False)[0])
    h, hkv, f, a = 4096, 1024, 14336, 32
    assert got == pytest.approx(8 * h + (2 * h + 2 * hkv) + 2 * hkv + 2 * h + 6 * f + 4 * a)


# ---- N:M bytes per recipe phase -------------------------------------------------------------------------------
def _ff_numel(dm):
    b = dm.block
    return float(b.loc[b["role"].isin(["ff1", "ff2"]), "weight_numel"].sum())


def test_weight_bytes_per_phase(dm):
    dense, pre, post = dm.weight_bytes(None)
    ff = _ff_numel(dm)
    recipe = make_recipe("sr-ste", {"ff": "2:4"}, 0.1, 0.0)
    phases = recipe.phases(100)
    assert [p.state.phase for p in phases] == ["dense", "sparse"]
    warm, _, _ = dm.weight_bytes(phases[0].state)
    sparse, _, _ = dm.weight_bytes(phases[1].state)
    assert np.allclose(warm, dense)  # dense warm-up gathers dense weights
    # 2:4 on H100: values 1/2 + 2-bit index per kept value = 9/16 of bf16
    assert np.allclose(dense - sparse, ff * 2 * (1 - 9 / 16))


def test_mdgf_moves_dense_while_decaying(dm_ideal):
    recipe = make_recipe("mdgf-exp", {"ff": "1:8"}, 0.1, 0.1)
    dense = dm_ideal.weight_bytes(None)[0]
    for ph in recipe.phases(1000):
        got = dm_ideal.weight_bytes(ph.state)[0]
        if ph.state.blend:  # W * (m + D (1 - m)) is dense: nothing compressed
            assert np.allclose(got, dense)
        if ph.state.phase == "finetune":
            ff = _ff_numel(dm_ideal)
            assert np.allclose(dense - got, ff * (2 - (2 / 8 + 3 / 64)))  # 1:8 values + 3-bit index


def test_sdgf_at_pattern_in_force(dm_ideal):
    recipe = make_recipe("sdgf-stepwise", {"ff": "1:8"}, 0.0, 0.0)
    ff = _ff_numel(dm_ideal)
    dense = dm_ideal.weight_bytes(None)[0]
    seen = {}
    for ph in recipe.phases(1000):
        p = ph.state.cost_patterns["ff"]
        per_weight = min(2.0, p.n / p.m * 2 + p.n * math.ceil(math.log2(p.m)) / p.m / 8)
        assert np.allclose(dense - dm_ideal.weight_bytes(ph.state)[0], ff * (2 - per_weight))
        seen[str(p)] = per_weight
    assert seen["7:8"] == 2.0  # 7:8 compressed would be larger than dense: moved dense


def test_gradients_stay_dense_and_zero3_gathers_compressed(dm):
    s = load_system("dgx-h100")
    run = RunSpec(GPT, 128, 64, s, flash=False)
    L = enumerate_layouts(GPT, 8, 8, 64, tp=1, zero=(3,), mb=1, recompute=("none",))
    recipe = make_recipe("sr-ste", {"ff": "2:4"})
    state = recipe.phases(10)[0].state
    dense, sparse = price_layouts(L, dm, run, None), price_layouts(L, dm, run, state)
    assert np.allclose(dense["mem_gradients"], sparse["mem_gradients"])
    lw, pre, post = dm.weight_bytes(state)
    assert np.allclose(sparse["mem_weights"], (GPT.layers * lw[0] + pre + post) / 8)
    assert (sparse["mem_weights"] < dense["mem_weights"]).all()


# ---- layouts ----------------------------------------------------------------------------------------------------
def test_enumeration_rules():
    cfg = load_workload("llama-3-8b")
    L = enumerate_layouts(cfg, 64, 8, 512)
    assert (L["tp"] * L["pp"] * L["dp"] == 64).all()
    assert (L["tp"] <= 8).all() and not ((L["zero"] == 3) & (L["pp"] > 1)).any()
    assert not ((L["zero"] > 0) & (L["dp"] == 1)).any() and not (L["sp"] & (L["tp"] == 1)).any()
    assert ((512 // L["dp"]) % L["mb"] == 0).all() and (L["m"] * L["mb"] * L["dp"] == 512).all()
    inter = L["v"] > 1
    assert ((cfg.layers % (L["pp"][inter] * L["v"][inter])) == 0).all() and (L["m"][inter] % L["pp"][inter] == 0).all()
    one = enumerate_layouts(cfg, 8, 8, 8, tp=8, pp=1, mb=1)
    assert len(one["tp"]) == 2 * 3  # dp = 1: ZeRO-0 only; SP on/off x 3 recompute modes
    with pytest.raises(UserError, match="^--pp: 2 does not divide the 1 device left by --tp 8$"):
        enumerate_layouts(cfg, 8, 8, 3, tp=8, pp=2)
    with pytest.raises(UserError, match=r"^--mb: a micro-batch of 3 sequences is larger than a replica's share of "
                                        r"the global batch \(2 of 3 at most\)$"):
        enumerate_layouts(cfg, 16, 8, 3, tp=8, pp=1, mb=3)   # 2 replicas share 3 sequences: 2 and 1
    with pytest.raises(UserError, match="^layout: no valid layout of 16 devices for llama-3-8b at global batch 3 "
                                        "with --tp 8 --pp 2 --mb 3$"):
        enumerate_layouts(cfg, 16, 8, 3, tp=8, pp=2, mb=3, interleave=(2,))   # API-only: interleave needs m % pp


def test_uneven_data_parallel_rounds_the_micro_batch_count():
    """A global batch no DP degree divides (OPT-175B: 1,024 sequences on 992 A100s, Zhang et al. 2022) runs
    ceil(batch / dp) sequences on the slowest replica: 124 replicas x 9 sequence slots."""
    cfg = load_workload("llama-3-8b")
    L = enumerate_layouts(cfg, 992, 8, 1024, tp=8, pp=1, zero=(0,), recompute=("none",), sp=False, interleave=(1,))
    assert set(L["dp"]) == {124}
    assert sorted(zip(L["mb"], L["m"])) == [(1, 9), (3, 3), (9, 1)]
    fixed = enumerate_layouts(cfg, 992, 8, 1024, tp=8, pp=1, mb=2, zero=(0,), recompute=("none",), sp=False)
    assert (list(fixed["mb"]), list(fixed["m"])) == ([2], [5])   # 10 slots for a share of 9: the count rounds up
    with pytest.raises(UserError, match="at least 992 data-parallel replicas, more than the 64 sequences"):
        enumerate_layouts(cfg, 992, 8, 64, tp=1, pp=1)


def test_fixed_tp_may_fill_whole_nodes():
    """PaLM 540B trained with TP 12 on 6,144 TPU v4 chips (Chowdhery et al. 2022, section 4): three 4-chip hosts
    per TP group. The search keeps TP inside a node; a fixed TP may span whole nodes, not straddle them."""
    palm = ModelConfig(name="palm-540b", family="llama", layers=118, d_model=18432, heads=48, kv_heads=1,
                       head_dim=256, ffn=73728, ffn_kind="swiglu", norm="layernorm", bias=False, vocab=256000,
                       seq_len=2048, position="rope", causal=True, tie_embeddings=True)
    L = enumerate_layouts(palm, 6144, 4, 2048, tp=12, pp=1, zero=(3,), recompute=("none",), sp=True)
    assert set(L["dp"]) == {512} and set(zip(L["mb"], L["m"])) == {(1, 4), (2, 2), (4, 1)}
    assert (enumerate_layouts(palm, 6144, 4, 2048)["tp"] <= 4).all()
    with pytest.raises(UserError, match="^--tp: a TP group of 6 would straddle the 4-device nodes"):
        enumerate_layouts(palm, 6144, 4, 2048, tp=6)
    with pytest.raises(UserError, match="^--tp: 5 does not divide the 48 attention heads of palm-540b$"):
        enumerate_layouts(palm, 6144, 4, 2048, tp=5)


def test_single_device_step_is_device_pricing(dm):
    """dp = tp = pp = 1, one micro-batch: step = the device's fwd + dgrad + wgrad (same number as nmsim price)."""
    from nmsim.cost.pricing import price
    from nmsim.graph import trace_workload
    s = load_system("dgx-h100").with_nodes(1)
    L = enumerate_layouts(GPT, 8, 8, 8, tp=1, pp=1, mb=1, zero=(0,), recompute=("none",))
    # one device: take the dp=8 layout's compute per micro-batch
    R = price_layouts(L, dm, RunSpec(GPT, 128, 8, s, flash=False), None)
    st_ = dm.times(1, 1, False, None)
    per_mb = st_.fwd.sum() + st_.dgrad.sum() + st_.wgrad.sum() + st_.pre_fwd + st_.pre_bwd + st_.post_fwd + st_.post_bwd
    assert R["compute"][0] == pytest.approx(per_mb)
    g = trace_workload(GPT, batch=1, seq=128)
    direct = price(g, None, "h100", "bf16", "training", **dm._price_kw).ops
    assert per_mb == pytest.approx(direct.loc[direct["pass"].isin(["fwd", "dgrad", "wgrad", "bwd"]), "seconds"].sum(),
                                   rel=1e-9)


@pytest.mark.parametrize("mb", [2, 3])
def test_a_micro_batch_is_priced_as_price_prices_that_batch(dm, mb):
    """Same question, same number: one device's shard at micro-batch ``mb`` is the step ``nmsim price`` prices
    at batch ``mb`` (the graph at that batch: copies the trace makes only at batch > 1, reads that do not grow
    with the batch such as the position table and norm weights; scaling the batch-1 trace was 0.03 % off)."""
    from nmsim.cost.pricing import price
    from nmsim.graph import trace_workload
    t = dm.times(1, mb, False, None)
    ops = price(trace_workload(GPT, batch=mb, seq=128), None, "h100", "bf16", "training", **dm._price_kw).ops
    ops = ops[ops["pass"].isin(["fwd", "dgrad", "wgrad", "bwd"])]
    per_mb = t.fwd.sum() + t.dgrad.sum() + t.wgrad.sum() + t.pre_fwd + t.pre_bwd + t.post_fwd + t.post_bwd
    assert per_mb == pytest.approx(ops["seconds"].sum(), rel=1e-12)
    assert t.joules == pytest.approx(ops["energy_joules"].sum(), rel=1e-12)
    assert t.executed_flops == pytest.approx(ops["executed_flops"].sum(), rel=1e-12)


@pytest.mark.parametrize("rec", ["none", "selective", "full"])
def test_single_device_recompute_is_the_planners(dm, rec):
    """``price(recompute=)`` adds the forward work the planner adds to backward at TP1 PP1: the whole forward of
    each block (full), the attention core's (selective), nothing (none)."""
    from nmsim.cost.pricing import price
    from nmsim.graph import trace_workload
    s = load_system("dgx-h100").with_nodes(1)
    L = enumerate_layouts(GPT, 8, 8, 8, tp=1, pp=1, mb=1, zero=(0,), recompute=(rec,))
    R = price_layouts(L, dm, RunSpec(GPT, 128, 8, s, flash=False), None)
    ops = price(trace_workload(GPT, batch=1, seq=128), None, "h100", "bf16", "training", recompute=rec,
                **dm._price_kw).ops
    assert R["compute"][0] == pytest.approx(ops.loc[ops["pass"] != "step", "seconds"].sum(), rel=1e-9)
    again = ops[ops["pass"] == "recompute"]
    fwd = ops[(ops["pass"] == "fwd") & (ops["layer"] >= 0)]
    want = {"none": fwd.iloc[:0], "selective": fwd[fwd["role"].isin(["logit", "softmax", "attend"])], "full": fwd}[rec]
    assert list(again["id"]) == list(want["id"]) and list(again["seconds"]) == list(want["seconds"])
    assert (again["nominal_flops"] == 0).all()   # model FLOPs count the step's work once


def test_tp_and_pipeline_costs(dm):
    s = load_system("dgx-h100")
    run = RunSpec(GPT, 128, 64, s, flash=False)
    L = enumerate_layouts(GPT, 8, 8, 64, zero=(0,), mb=1, recompute=("none",), interleave=(1,), sp=False)
    R = price_layouts(L, dm, run, None)
    tp1 = (L["tp"] == 1) & (L["pp"] == 1)
    assert R["tp_comm"][tp1][0] == 0 and R["bubble"][tp1][0] == pytest.approx(0, abs=1e-12)
    pp4 = (L["tp"] == 1) & (L["pp"] == 4)
    stage = dm.times(1, 1, False)
    m = L["m"][pp4][0]
    assert m == 32
    assert R["bubble"][pp4][0] > 0 and R["pp_comm"][pp4][0] > 0
    tp8 = L["tp"] == 8
    act = 128 * GPT.d_model * 2
    assert R["tp_comm"][tp8][0] == pytest.approx(L["m"][tp8][0] * (4 * GPT.layers + 1) * C.all_reduce(act, 8, 1, s))
    assert stage.fwd.shape == (GPT.layers,)


def test_recompute_costs_time_saves_memory(dm):
    s = load_system("dgx-h100")
    L = enumerate_layouts(GPT, 8, 8, 64, tp=2, pp=1, zero=(1,), mb=4, sp=True, interleave=(1,))
    R = price_layouts(L, dm, RunSpec(GPT, 128, 64, s, flash=False), None)
    none, sel, full = (np.flatnonzero(L["recompute"] == r)[0] for r in (0, 1, 2))
    assert R["step_seconds"][none] < R["step_seconds"][sel] < R["step_seconds"][full]
    assert R["mem_activations"][none] > R["mem_activations"][sel] > R["mem_activations"][full]


def test_fit_check_says_what_overflows():
    cfg = load_workload("llama-2-7b")
    res = search(cfg, load_system("dgx-a100"), 8, 2048, tp=1, pp=1, zero=(0,), mb=1, recompute=("none",))
    row = res.table.iloc[0]
    assert not row["fits"] and row["overflow"].startswith("needs ") and "optimizer" in row["overflow"]


def test_published_layouts_plan():
    """The two layouts issue 23 asks for, priced end to end on a small model of the same shape class: TP 12 over
    three 4-chip TPU v4 hosts (PaLM) pays inter-host all-reduces; 1,024 sequences on 992 A100s (OPT-175B) run
    ceil(1,024 / 124) = 9 sequences per replica and count 1,024 in tokens per second."""
    small = ModelConfig(name="palm-like", family="llama", layers=4, d_model=768, heads=12, kv_heads=1, head_dim=64,
                        ffn=3072, ffn_kind="swiglu", bias=False, vocab=1000, seq_len=128, position="rope", causal=True)
    tpu = load_system("tpu-v4-slice", nodes=3)
    res = search(small, tpu, 24, 128, tp=12, pp=1, zero=(0,), mb=1, recompute=("none",), sp=False)
    inside = search(small, tpu, 24, 128, tp=4, pp=1, zero=(0,), mb=1, recompute=("none",), sp=False)
    assert int(res.best["tp"]) == 12 and int(res.best["dp"]) == 1
    assert res.best["tp_comm"] > inside.best["tp_comm"]   # 3 hosts in each TP all-reduce
    opt = search(GPT, load_system("dgx-a100", nodes=124), 1024, 128, tp=8, pp=1, zero=(0,), mb=1,
                 recompute=("none",), sp=False)
    b = opt.best
    assert (int(b["dp"]), int(b["m"])) == (124, 9)
    assert b["tokens_per_second"] == pytest.approx(1024 * 128 / b["step_seconds"])


# ---- budgets ----------------------------------------------------------------------------------------------------
def test_steps_and_budget(dm):
    assert steps_for(1e12, 512, 2048) == math.ceil(1e12 / (512 * 2048))
    s = load_system("dgx-h100")
    recipes = {"dense": None, "sr-ste": make_recipe("sr-ste", {"ff": "2:4"})}
    df = run_budget(GPT, s, 64, 128, 1e9, recipes, device_model=dm, flash=False)
    d = df.set_index("recipe")
    steps = math.ceil(1e9 / (64 * 128))
    assert (d["steps"] == steps).all()
    assert (d["goodput"] == 0.9).all()   # the calibrated losses: Llama 3's >90% effective training time
    assert d.loc["dense", "days"] == pytest.approx(steps * d.loc["dense", "step_seconds"] / 0.9 / 86400)
    assert d.loc["dense", "device_hours"] == pytest.approx(d.loc["dense", "days"] * 24 * 8)
    assert d.loc["dense", "usd"] == pytest.approx(d.loc["dense", "device_hours"] * 6.88)   # the bundled H100 price
    own = run_budget(GPT, s, 64, 128, 1e9, {"dense": None}, device_model=dm, flash=False, price_per_hour="h100=2")
    assert own.loc[0, "usd"] == pytest.approx(own.loc[0, "device_hours"] * 2)
    from nmsim.cluster.plan import run_cost
    res = search(GPT, s, 64, 128, steps=steps, device_model=dm, flash=False)
    run = run_cost(res)
    assert run["days"].iloc[0] == pytest.approx(d.loc["dense", "days"])   # the plan's best layout is the budget's
    assert np.allclose(run["usd"], run["device_hours"] * 6.88) and np.allclose(run["device_hours"], run["days"] * 24 * 8)
    assert d.loc["dense", "energy_joules"] == pytest.approx(d.loc["dense", "days"] * 86400 * 10200)
    assert d.loc["dense", "iso_time_tokens"] == pytest.approx(d.loc["dense", "tokens"])
    # this 256-wide model's 2:4 GEMMs run dense on the H100 (stream-K cuBLAS outruns cuSPARSELt at their size), not
    # on the A100: there SR-STE executes fewer FLOPs, so it trains more tokens in dense's FLOPs
    assert d.loc["sr-ste", "executed_flops"] == d.loc["dense", "executed_flops"]
    a = run_budget(GPT, load_system("dgx-a100"), 64, 128, 1e9, recipes, flash=False,
                   device_model=DeviceModel(GPT, 128, "a100", plan="ff=2:4")).set_index("recipe")
    assert a.loc["sr-ste", "executed_flops"] < a.loc["dense", "executed_flops"]
    assert a.loc["sr-ste", "iso_flop_tokens"] > a.loc["sr-ste", "tokens"]


# ---- CLI ----------------------------------------------------------------------------------------------------------
def test_plan_cli_fits_100_columns(capsys):
    assert main(["cluster", "plan", "gpt2", "--system", "dgx-h100", "--global-batch", "64", "--seq", "256",
                 "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("priced: gpt2 on 1 x dgx-h100 (8 x h100-sxm5), global batch 64 x 256 tokens, bf16")
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "best: " in out and "step time" in out and "memory" in out


@pytest.mark.parametrize("argv,message", [
    (["--nodes", "0"], "--nodes: must be a positive integer, got 0"),
    (["--system", "nosuch"], "nosuch: unknown system"),
    (["--global-batch", "3", "--tp", "8", "--pp", "2"], "--tp: 8 does not divide the 12 attention heads of gpt2"),
    (["--global-batch", "3", "--tp", "4", "--pp", "4"], "--pp: 4 does not divide the 2 devices left by --tp 4"),
    (["--global-batch", "0"], "--global-batch: must be a positive integer, got 0"),
    (["--recipe", "sr-ste"], "--sparsity: recipe sr-ste needs sparse targets"),
    (["--recipe", "bogus", "--sparsity", "ff=2:4"], "--recipes: unknown recipe 'bogus'"),
    (["--tokens", "-1"], "--tokens: must be a positive number"),
    (["--grad-bytes", "0"], "--grad-bytes: must be in (0, 8] bytes per gradient element (fp64 is 8), got 0.0"),
    (["--compute-efficiency", "0"], "--compute-efficiency: must be in (0, 2], got 0.0"),
    (["--top", "0"], "--top: must be a positive integer, got 0"),
    (["--dtype", "fp64"], "no matrix peak for dtype"),
    (["--epochs", "2"], "--epochs: --dataset-tokens and --epochs go together"),
])
def test_plan_cli_bad_input(capsys, argv, message):
    assert main(["cluster", "plan", "gpt2", "--seq", "256", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_published_runs_data():
    """Issue 23: >= 40 runs from >= 10 sources, each with one measured figure and a recorded split; the scored
    runs come from other organisations than the fitted ones."""
    runs = load_runs()
    assert len(runs) == 52
    assert len({r["source"].split(",")[0].split(" docs")[0] for r in runs}) >= 10
    for r in runs:
        assert r["source"] and r["devices"] > 0 and r["org"] and r["split"] in ("fit", "score")
        assert sum(k in r for k in ("measured_tflops", "tokens_per_device_second", "device_hours")) == 1
    fit_orgs = {r["org"] for r in runs if r["split"] == "fit"}
    score_orgs = {r["org"] for r in runs if r["split"] == "score"}
    assert fit_orgs == {"NVIDIA"} and score_orgs == {"Meta", "MosaicML", "BigScience", "Google"}
    assert sum(r["split"] == "score" for r in runs) == 32


def test_measured_step_from_each_figure():
    """Each measured figure becomes seconds per step: LLaMA-65B's 380 tokens/s/GPU on 2048 GPUs at 2048 x 2048
    tokens per step; Llama 2 70B's 1,720,320 GPU-hours for 2T tokens at 1024 x 4096 on 1,024 GPUs; MT-NLG's
    126 TFLOP/s (HFU) reproduces its stated 60.1 s iteration."""
    from nmsim.cluster.validation import measured_step, model_config
    runs = {r["id"]: r for r in load_runs()}
    r = runs["llama1-65b"]
    assert measured_step(r, model_config(r), 0.0) == pytest.approx(2048 * 2048 / (380 * 2048))
    r = runs["llama2-70b-run"]
    assert measured_step(r, model_config(r), 0.0) == pytest.approx(1720320 * 3600 / 1024 * 1024 * 4096 / 2e12)
    r = runs["mtnlg-530b-2240"]
    assert measured_step(r, model_config(r), 0.0) == pytest.approx(60.1, rel=0.005)


def test_losses_presets_and_file(tmp_path):
    from nmsim.cluster.losses import NONE, load_losses
    cal, src = load_losses(), load_losses("sourced")
    assert cal.name == "calibrated" and cal.goodput == 0.9 and cal.attention_efficiency == 0.72
    assert cal.efficiency("a100-sxm4-80gb") == 0.941 and cal.efficiency("h100-sxm5") == 0.735
    assert cal.efficiency("tpu-v4") == 0.94   # no fit run on it: the fit over every fit run
    assert src.efficiency("h100-sxm5") == 1.0 and src.goodput == 0.9 and load_losses("none") is NONE
    f = tmp_path / "mine.yaml"
    f.write_text("goodput: {value: 0.75, source: our cluster log}\n"
                 "compute_efficiency: {h100: {value: 0.5, source: ours}}\n")   # an alias names the spec
    mine = load_losses(str(f))
    assert mine.goodput == 0.75 and mine.efficiency("h100-sxm5") == 0.5 and mine.efficiency("a100-sxm4-80gb") == 0.941
    assert mine.vector_efficiency == cal.vector_efficiency


def test_losses_in_the_step(dm):
    """Each loss term moves its own column: kernel efficiencies the compute, overlap the DP exposure, data
    loading and checkpoints their own parts; the ideal set changes nothing."""
    from dataclasses import replace
    from nmsim.cluster.losses import NONE, stream_share
    s = load_system("dgx-h100")
    L = enumerate_layouts(GPT, 8, 8, 64, tp=1, pp=1, zero=(3,), mb=1, recompute=("none",))
    ideal = price_layouts(L, dm, RunSpec(GPT, 128, 64, s, flash=False), None)
    slow = replace(NONE, attention_efficiency=0.5, vector_efficiency=0.5)
    R = price_layouts(L, dm, RunSpec(GPT, 128, 64, s, flash=False, losses=slow), None)
    st_ = dm.times(1, 1, False)
    # vector efficiency is a share of the datasheet bandwidth: the device already prices the STREAM share (0.876)
    kv = stream_share(dm.hw) / 0.5 - 1
    assert stream_share(dm.hw) == 0.876
    extra = (st_.core_fwd + st_.core_bwd + kv * (st_.vector_fwd + st_.vector_bwd)).sum() * int(L["m"][0])
    assert R["compute"][0] == pytest.approx(ideal["compute"][0] + extra)
    R = price_layouts(L, dm, RunSpec(GPT, 128, 64, s, flash=False, losses=replace(NONE, zero3_overlap=0.0)), None)
    assert R["dp_exposed"][0] > ideal["dp_exposed"][0]
    lo = replace(NONE, data_loading_fraction=0.1, checkpoint_interval_steps=100, checkpoint_write_gbps_per_node=2.0)
    R = price_layouts(L, dm, RunSpec(GPT, 128, 64, s, flash=False, losses=lo), None)
    busy = R["step_seconds"][0] - R["data_loading"][0] - R["checkpoint"][0]
    assert busy == pytest.approx(ideal["step_seconds"][0])
    assert R["data_loading"][0] == pytest.approx(busy / 9)
    assert R["checkpoint"][0] == pytest.approx(dm.params * 14 / (1 * 2e9) / 100)
    assert ideal["data_loading"][0] == 0 and ideal["checkpoint"][0] == 0


def test_static_recipe_rule(dm):
    recipe = make_recipe("static", {"ff": "2:4"}, 0.5, 0.0)
    phases = recipe.phases(10)
    dense = dm.weight_bytes(None)[0]
    assert np.allclose(dm.weight_bytes(phases[0].state)[0], dense)
    assert (dm.weight_bytes(phases[1].state)[0] < dense).all()


def test_compute_efficiency_knob(dm):
    s = load_system("dgx-h100")
    L = enumerate_layouts(GPT, 8, 8, 64, tp=1, pp=1, zero=(0,), mb=8, recompute=("none",))
    a = price_layouts(L, dm, RunSpec(GPT, 128, 64, s, flash=False), None)
    b = price_layouts(L, dm, RunSpec(GPT, 128, 64, s, flash=False, compute_efficiency=0.5), None)
    assert b["compute"][0] == pytest.approx(2 * a["compute"][0])
    with pytest.raises(UserError, match="--compute-efficiency"):
        search(GPT, s, 64, 128, device_model=dm, compute_efficiency=2.5)


def test_report_frames(dm):
    from nmsim.cluster.report import cluster_frames
    frames = cluster_frames(GPT, "dgx-h100", 1, 1e8, global_batch=64, seq=128, top=3)
    assert list(frames["cluster_budget"]["recipe"]) == ["dense", "sr-ste"]
    assert len(frames["cluster_layouts"]) == 3 and frames["cluster_layouts"]["fits"].all()


@settings(max_examples=25, deadline=None)
@given(mb=st.sampled_from([1, 2, 4]), rec=st.sampled_from(["none", "selective", "full"]),
       tp=st.sampled_from([1, 2, 4]))
def test_zero_stages_only_shrink_memory(dm, mb, rec, tp):
    s = load_system("dgx-h100")
    L = enumerate_layouts(GPT, 8, 8, 64, tp=tp, pp=1, mb=mb, recompute=(rec,), sp=tp > 1, interleave=(1,))
    R = price_layouts(L, dm, RunSpec(GPT, 128, 64, s, flash=True), None)
    order = np.argsort(L["zero"])
    assert list(L["zero"][order]) == [0, 1, 2, 3]
    totals = R["mem_total"][order]
    assert (np.diff(totals) < 0).all()
    assert np.allclose(R["mem_activations"], R["mem_activations"][0])  # ZeRO does not touch activations


def test_budget_cli(capsys):
    argv = ["cluster", "budget", "gpt2", "--seq", "256", "--global-batch", "64", "--recipes", "dense,sr-ste",
            "--sparsity", "ff=2:4"]
    assert main(argv) == 2
    assert "--tokens: give --tokens" in capsys.readouterr().err
    assert main(argv + ["--dataset-tokens", "1e8", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("priced: gpt2, 200 M tokens on 1 x dgx-h100")
    assert max(len(line) for line in out.splitlines()) <= 100
    steps = math.ceil(2e8 / (64 * 256))
    assert f"{steps:,} steps of" in out and "sr-ste" in out
    assert main(argv + ["--tokens", "1e8", "--format", "csv"]) == 0
    import io
    import pandas as pd
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(df["recipe"]) == ["dense", "sr-ste"] and (df["steps"] == math.ceil(1e8 / (64 * 256))).all()


def test_rank_by_headroom(dm):
    s = load_system("dgx-h100")
    by_time = search(GPT, s, 64, 128, device_model=dm, flash=False).table
    by_room = search(GPT, s, 64, 128, device_model=dm, flash=False, rank="headroom").table
    assert by_time["step_seconds"].iloc[0] == by_time.loc[by_time["fits"], "step_seconds"].min()
    assert by_room["headroom_bytes"].iloc[0] == by_room.loc[by_room["fits"], "headroom_bytes"].max()
    with pytest.raises(UserError, match="--rank"):
        search(GPT, s, 64, 128, device_model=dm, rank="cost")


def test_hf_config_cli(capsys):
    from pathlib import Path
    hf = Path(__file__).parent / "data" / "hf" / "llama-2-7b.json"
    assert main(["cluster", "plan", "--hf-config", str(hf), "--seq", "2048", "--global-batch", "16",
                 "--system", "dgx-a100", "--zero", "3", "--mb", "1", "--recompute", "none", "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert "global batch 16 x 2048 tokens" in out and "ZeRO-3 mb 1 recompute none" in out


@settings(max_examples=40, deadline=None)
@given(att=st.floats(0.1, 1.0), vec=st.floats(0.1, 1.0), opt=st.floats(0.1, 1.0), dpo=st.floats(0.0, 1.0),
       z3o=st.floats(0.0, 1.0), half=st.floats(0.0, 1e9), load=st.floats(0.0, 0.5))
def test_losses_never_speed_a_step_up(dm, att, vec, opt, dpo, z3o, half, load):
    """Any loss terms in their ranges leave every layout's step, compute and communication at least the ideal
    model's (the ideal set is the floor)."""
    from dataclasses import replace
    from nmsim.cluster.losses import NONE
    s = load_system("dgx-h100", nodes=2)
    L = enumerate_layouts(GPT, 16, 8, 64, mb=1, recompute=("none", "full"), interleave=(1,))
    ideal = price_layouts(L, dm, RunSpec(GPT, 128, 64, s, flash=False), None)
    lo = replace(NONE, attention_efficiency=att, vector_efficiency=vec, optimizer_efficiency=opt, dp_overlap=dpo,
                 zero3_overlap=z3o, collective_half_bytes_intra=half, collective_half_bytes_inter=half,
                 data_loading_fraction=load)
    R = price_layouts(L, dm, RunSpec(GPT, 128, 64, s, flash=False, losses=lo), None)
    for k in ("step_seconds", "compute", "tp_comm", "pp_comm", "dp_exposed", "optimizer"):
        assert (R[k] >= ideal[k] * (1 - 1e-12)).all(), k


def test_user_runs_file_each_measure(tmp_path):
    """`cluster validate --runs FILE`: a run stated as tokens/s per device and the same run as device-hours for a
    token count price the same layout; the whole-run one divides by goodput; unstated split is `score`."""
    from nmsim.cluster.validation import validate
    f = tmp_path / "mine.yaml"
    f.write_text("defaults: {seq: 128, vocab: 1000, system: dgx-h100, flash: true, dropout: false, tp: 1, pp: 1,"
                 " zero: 1, mb: 8, recompute: none, model: {layers: 2, d_model: 128, heads: 4}, devices: 8,"
                 " global_batch: 64, org: us, source: our cluster}\n"
                 "runs:\n  - {id: steady, tokens_per_device_second: 100000}\n"
                 "  - {id: whole, device_hours: 100, tokens: 2.88e+10}\n")
    df, summary = validate(load_runs(f))
    a, b = df.set_index("id").loc["steady"], df.set_index("id").loc["whole"]
    assert a["measured_seconds"] == pytest.approx(64 * 128 / (100000 * 8))
    assert b["measured_seconds"] == pytest.approx(100 * 3600 / 8 * 64 * 128 / 2.88e10)
    assert b["predicted_seconds"] == pytest.approx(a["predicted_seconds"] / 0.9)
    assert list(df["split"]) == ["score", "score"] and summary["orgs"]["us"][1] == 2
    assert summary["mape"] == pytest.approx(df["error"].abs().mean())


def test_fit_is_least_squares_on_fit_rows(monkeypatch):
    """fit(): per device, 1/efficiency minimises sum (measured - rest - compute/eff)^2 over the fit rows only;
    `default` pools every fit row; scored rows never enter."""
    import pandas as pd
    from nmsim.cluster import validation as V
    rows = pd.DataFrame({"split": ["fit", "fit", "fit", "score"],
                         "group": ["a100-sxm4-80gb bf16", "a100-sxm4-80gb bf16", "h100-sxm5 fp8", "h100-sxm5 bf16"],
                         "compute_seconds": [1.0, 2.0, 1.0, 5.0], "predicted_seconds": [1.5, 2.5, 1.2, 9.0],
                         "measured_seconds": [1.7, 3.1, 2.2, 1.0]})
    monkeypatch.setattr(V, "validate", lambda runs, losses=None, progress=None: (rows, {}))
    eff, _ = V.fit([{"split": "fit"}])
    x, y = np.array([1.0, 2.0]), np.array([1.2, 2.6])             # measured - rest
    assert eff["a100-sxm4-80gb"] == pytest.approx((x @ x) / (x @ y))
    assert eff["h100-sxm5"] == pytest.approx(1.0 / 2.0)             # 2.2 - 0.2 = 2.0 s for 1 s of compute
    xa, ya = np.array([1.0, 2.0, 1.0]), np.array([1.2, 2.6, 2.0])
    assert eff["default"] == pytest.approx((xa @ xa) / (xa @ ya))


def test_plan_csv_columns_say_their_si_units():
    """Every CSV/JSON column of ``cluster plan`` names its SI unit as the other commands' do: the step-time parts
    in seconds, the memory components in bytes (they were bare ``compute``, ``mem_total``)."""
    import nmsim
    from nmsim.cluster.text import plan_columns

    plan = nmsim.cluster_plan("gpt2", system="dgx-a100", nodes=1, global_batch=16, top=2)
    parts = ("compute", "bubble", "tp_comm", "pp_comm", "dp_exposed", "optimizer", "recipe_vector", "data_loading",
             "checkpoint")
    memory = ("weights", "gradients", "optimizer", "masks", "activations", "buffers", "allocator", "runtime", "total")
    assert list(plan.columns) == plan_columns() == [
        "tp", "pp", "dp", "zero", "mb", "m", "recompute", "sp", "v", "step_seconds", "step_seconds_lo",
        "step_seconds_hi", *(f"{p}_seconds" for p in parts), "mfu", "mfu_lo", "mfu_hi", "tokens_per_second",
        "tokens_per_second_lo", "tokens_per_second_hi", *(f"mem_{m}_bytes" for m in memory), "headroom_bytes",
        "fits", "overflow", "days", "days_lo", "days_hi", "device_hours", "device_hours_lo", "device_hours_hi", "usd",
        "usd_lo", "usd_hi", "band_level", "band_rows"]
    best = plan.iloc[0]
    assert best["step_seconds"] == pytest.approx(sum(best[f"{p}_seconds"] for p in parts), rel=1e-9)
    assert best["mem_total_bytes"] == pytest.approx(sum(best[f"mem_{m}_bytes"] for m in memory[:-1]), rel=1e-9)
    rows = nmsim.validate(memory=True).rows   # validate --memory: peak memory in bytes
    assert list(rows.columns) == ["id", "split", "measure", "measured_bytes", "allocated_bytes", "runtime_bytes",
                                  "source", "predicted_bytes", "error_pct"]
