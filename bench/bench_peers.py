"""nmsim side by side with llm-analysis and GenZ: shape-sweep throughput, CLI typos, and the FLOPs each counts.
Every time is a median over the same number of repetitions for each tool, the tools alternated within each round
so machine load hits them alike, and each row carries the 1-minute load average measured with it (``load``).

The first question about a model, cold and warm, against llm-analysis and GenZ: ``bench_first_call.py``.

The sweep: Llama-2-7B on an A100-SXM4-80GB, 512 tokens, batch 1...100 (one configuration per batch size) for
prefill, decode (one token over a 512-token KV cache: the context the question names, as llm-analysis's
``seq_len`` 512 + 1 generated token and GenZ's ``input_tokens`` 512) and training, warm for every tool: nmsim's
shape-generic graph and tables built first (that one-time cost is reported too), each peer's first call made
untimed. ``SWEEP_ROUNDS`` rounds, each one pass of every tool (llm-analysis, GenZ, then one nmsim
:func:`nmsim.cost.price_many` call with ``shapes={"batch": 1..100}`` per mode); medians per tool. For reference,
:func:`nmsim.cost.price` per shape on graphs answered from the shape-generic graph.

* llm-analysis 0.2.2 (``infer``/``train``, one call per batch size; training with ZeRO-3 over 8 GPUs since one
  A100 cannot hold the Adam states; configurations it refuses for memory are counted as they ran).
* GenZ (PyPI ``genz-llm`` 0.0.16: ``prefill_moddeling``/``decode_moddeling``; it has no training model).

Each peer is installed, pinned, in its own venv under ``$NMSIM_BENCH_VENVS`` (default: the nmsim cache folder's
``bench/venvs``), created on first run; a peer that cannot be installed is skipped with a message. Its API runs
in that venv through ``bench/peers_worker.py``.

CLI typos: the time nmsim takes to refuse a mistyped hardware and recipe name (median of 5, warm).

FLOPs: Llama-2-7B prefill, batch 1, 2,048 tokens, as each tool counts it, with the differences decomposed into
their known causes (each checked exactly against the numbers): llm-analysis counts the SwiGLU MLP as 16·d²
per token (two d×4d matrices) where the model has three d×11,008 ones; GenZ prices the token-embedding lookup
as a d×vocab GEMM; and all three count the full T×T attention scores (a causal kernel computes about half).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKLOAD, HARDWARE, SEQ, BATCHES = "llama-2-7b", "a100", 512, list(range(1, 101))
FLOPS_BATCH, FLOPS_SEQ = 1, 2048
PEERS = {
    "llm-analysis": {"pip": "llm-analysis==0.2.2", "module": "llm_analysis"},
    "genz": {"pip": "genz-llm==0.0.16", "module": "GenZ"},
}
SPEC = {"llm_analysis_model": "NousResearch_Llama-2-7b-hf", "llm_analysis_gpu": "a100-sxm-80gb",
        "genz_model": "meta-llama/Llama-2-7B", "genz_system": "A100_80GB_GPU", "seq": SEQ, "batches": BATCHES,
        "flops_batch": FLOPS_BATCH, "flops_seq": FLOPS_SEQ}
MODES = ("prefill", "decode", "training")
GOAL_CONFIGS_PER_S, GOAL_VS_LLM_ANALYSIS = 10_000, 3.0
GOAL_TYPO_S = 0.5
SWEEP_ROUNDS, TYPO_ROUNDS = 3, 5


def load() -> float:
    """The 1-minute load average (printed with every figure: the machine is shared)."""
    return round(os.getloadavg()[0], 1)


# ---- peers in their own venvs ----------------------------------------------------------------------------------
def venv_root() -> Path:
    env = os.environ.get("NMSIM_BENCH_VENVS")
    if env:
        return Path(env).expanduser()
    from nmsim.graph.cache import directory
    return directory() / "bench" / "venvs"


def peer_python(tool: str) -> tuple[str | None, str]:
    """The venv python of ``tool`` (created and pinned on first use), or (None, why not)."""
    from peer_venv import peer_python as in_venv

    info = PEERS[tool]
    return in_venv(venv_root() / info["pip"].replace("==", "-"), [info["pip"]], f"import {info['module']}")


def run_peer(tool: str, python: str, **spec) -> dict:
    """One run of ``peers_worker.py`` in the peer's venv: ``{"skipped": why}`` when it fails."""
    r = subprocess.run([python, str(HERE / "peers_worker.py"), tool, json.dumps({**SPEC, **spec})],
                       capture_output=True, text=True, timeout=3600)
    line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
    if r.returncode or line is None:
        why = f"skipped: {tool} failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}"
        print(f"bench_peers: {why}", file=sys.stderr)
        return {"skipped": why}
    return json.loads(line[len("RESULT "):])


# ---- sweeps, alternated ----------------------------------------------------------------------------------------
def nmsim_sweep_setup() -> dict:
    """The one-time cost per mode: shape-generic graph (cache) + its tables, before the timed calls."""
    from nmsim.cost import price_many
    from nmsim.graph import cache, load_workload

    cache.set_cache_mode("build")
    cfg = load_workload(WORKLOAD)
    out = {}
    for mode in MODES:
        start = time.perf_counter()
        price_many(cfg, [(None, HARDWARE, "bf16")], mode, shapes=_shapes(mode))
        out[mode] = time.perf_counter() - start
    return out


def _shapes(mode: str) -> dict:
    return {"batch": BATCHES, ("context" if mode == "decode" else "seq"): [SEQ]}


def nmsim_sweep_once() -> dict:
    """One warm price_many call per mode: {mode: {"times": [seconds], "configs": n}}."""
    from nmsim.cost import price_many
    from nmsim.graph import load_workload

    cfg = load_workload(WORKLOAD)
    out = {}
    for mode in MODES:
        start = time.perf_counter()
        df = price_many(cfg, [(None, HARDWARE, "bf16")], mode, shapes=_shapes(mode))
        out[mode] = {"times": [time.perf_counter() - start], "configs": len(df)}
    return out


def sweeps(pythons: dict) -> tuple[dict, dict, dict]:
    """({tool: {mode: {"times": [...], "configs": n, "errors": e}} or {"skipped": why}}, nmsim's one-time seconds
    per mode, the peers' first answers (versions, FLOPs)): ``SWEEP_ROUNDS`` rounds, each one pass of every tool
    in turn; ``runs["nmsim"]["load"]``: the median load average after each round."""
    first = nmsim_sweep_setup()
    runs: dict = {"nmsim": {}, **{t: {} for t in pythons}}
    extra: dict = {}
    loads = []
    for i in range(SWEEP_ROUNDS):
        for tool, python in pythons.items():
            if "skipped" in runs[tool]:
                continue
            got = run_peer(tool, python, repeats=1, flops=i == 0)
            extra.setdefault(tool, got)
            if "skipped" in got:
                runs[tool] = got
                continue
            for mode in (m for m in MODES if m in got):   # GenZ has no training model
                d = runs[tool].setdefault(mode, {"times": [], "configs": got[mode]["configs"],
                                                 "errors": got[mode]["errors"]})
                d["times"] += got[mode]["times"]
        for mode, d in nmsim_sweep_once().items():
            runs["nmsim"].setdefault(mode, {"times": [], "configs": d["configs"]})["times"] += d["times"]
        loads.append(load())
    runs["nmsim"]["load"] = statistics.median(loads)
    return runs, first, extra


def _rate(d: dict | None) -> float | None:
    return None if not d or "times" not in d else d["configs"] / statistics.median(d["times"])


def sweep_rows(runs: dict, first: dict, extra: dict) -> list[dict]:
    rows = []
    for mode in MODES:
        n = _rate(runs["nmsim"].get(mode))
        la = _rate(runs.get("llm-analysis", {}).get(mode))
        gz = _rate(runs.get("genz", {}).get(mode))
        refused = runs.get("llm-analysis", {}).get(mode, {}).get("errors", "-")
        rows.append({"metric": f"{mode} configs/s (batch 1-100), warm", "nmsim": round(n),
                     "llm-analysis": round(la) if la else "-", "genz": round(gz, 1) if gz else "-",
                     "x_llm_analysis": round(n / la, 1) if la else "-", "x_genz": round(n / gz) if gz else "-",
                     "repeats": SWEEP_ROUNDS, "load": runs["nmsim"]["load"],
                     "note": (f"medians of {SWEEP_ROUNDS} alternated passes; nmsim's one-time graph/tables "
                              f"{first[mode]:.1f} s; llm-analysis refused {refused}"),
                     "goal_met": bool(n >= GOAL_CONFIGS_PER_S and (la is None or n >= GOAL_VS_LLM_ANALYSIS * la))})
    return rows


def nmsim_price_loop() -> dict:
    """price() per shape on graphs answered from the shape-generic graph (prefill, 10 batch sizes)."""
    from nmsim.cost import price, trace_for_mode
    from nmsim.graph import load_workload

    from nmsim.graph import shapes

    cfg = load_workload(WORKLOAD)
    shapes._AT.clear()   # graphs are materialised per shape, not reused
    start = time.perf_counter()
    for b in BATCHES[:10]:
        price(trace_for_mode(cfg, "prefill", b, SEQ), None, HARDWARE, "bf16", "prefill")
    return {"configs": 10, "seconds": time.perf_counter() - start, "load": load()}


def nmsim_flops() -> dict:
    """Prefill FLOPs (nominal, all GEMMs) at FLOPS_BATCH x FLOPS_SEQ, by part."""
    from nmsim.graph import load_workload, trace_workload

    cfg = load_workload(WORKLOAD)
    ops = trace_workload(cfg, batch=FLOPS_BATCH, seq=FLOPS_SEQ).ops
    by_role = ops.groupby("role")["fwd_flops"].sum().to_dict()
    mlp = sum(v for k, v in by_role.items() if k.startswith("ff"))
    attn_mm = by_role.get("logit", 0.0) + by_role.get("attend", 0.0)
    return {"total": float(ops["fwd_flops"].sum()), "mlp": float(mlp), "attention_scores": float(attn_mm),
            "head": float(by_role.get("head", 0.0)), "cfg": cfg}


# ---- CLI typos ---------------------------------------------------------------------------------------------------
def _timed(cmd: list[str], env: dict) -> tuple[float, int]:
    start = time.perf_counter()
    code = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT).returncode
    return time.perf_counter() - start, code


def typo_rows() -> list[dict]:
    """nmsim's refusals of a mistyped hardware and recipe name: medians of ``TYPO_ROUNDS``, alternated, each
    run once untimed first (bytecode), with ``import pandas`` as the machine-load yardstick."""
    from cli_env import cli_env

    nmsim = [sys.executable, "-m", "nmsim"]
    cmds = {"python -c 'import pandas' (load yardstick)": [sys.executable, "-c", "import pandas"],
            "mistyped hardware name": nmsim + ["price", WORKLOAD, "--hardware", "a10O"],
            "mistyped recipe name": nmsim + ["budget", WORKLOAD, "--sparsity", "ff=2:4", "--recipes", "srste",
                                             "--epochs", "1"]}
    env = cli_env()
    for cmd in cmds.values():
        subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
    times: dict = {k: [] for k in cmds}
    for _ in range(TYPO_ROUNDS):
        for k, cmd in cmds.items():
            times[k].append(_timed(cmd, env)[0])
    now = load()
    rows = []
    for k, v in times.items():
        t = statistics.median(v)
        row = {"metric": f"CLI s: {k}", "nmsim": round(t, 2), "repeats": TYPO_ROUNDS, "load": now}
        if "mistyped" in k:
            row.update(note="exit status 2, one line", goal=f"<= {GOAL_TYPO_S} s", goal_met=bool(t <= GOAL_TYPO_S))
        rows.append(row)
    return rows


# ---- rows ------------------------------------------------------------------------------------------------------------
def run() -> list[dict]:
    pythons = {}
    for tool in PEERS:
        python, why = peer_python(tool)
        if python is None:
            print(f"bench_peers: {tool} {why}", file=sys.stderr)
        pythons[tool] = python
    runs, first, extra = sweeps({t: p for t, p in pythons.items() if p})
    rows = sweep_rows(runs, first, extra)
    loop = nmsim_price_loop()
    rows.append({"metric": "prefill configs/s, price() per shape", "nmsim": round(loop["configs"] / loop["seconds"], 1),
                 "load": loop["load"], "note": "one Pricing frame per shape, graph from the shape-generic graph"})
    rows += typo_rows()
    rows += flops_rows({t: extra.get(t, {}) for t in PEERS})
    return rows


def flops_rows(peers: dict) -> list[dict]:
    f = nmsim_flops()
    cfg = f["cfg"]
    b, s, d, L, V, ffn = FLOPS_BATCH, FLOPS_SEQ, cfg.d_model, cfg.layers, cfg.vocab, cfg.ffn
    la = peers["llm-analysis"].get("prefill_flops")
    gz = peers["genz"].get("prefill_flops")
    rows = [{"metric": f"Llama-2-7B prefill TFLOP (batch {b}, {s} tokens)", "nmsim": round(f["total"] / 1e12, 4),
             "llm-analysis": round(la / 1e12, 4) if la else "-", "genz": round(gz / 1e12, 4) if gz else "-",
             "note": "matrix FLOPs of one forward pass (2 per multiply-add)"}]
    if la:
        mlp_gap = L * (16 * b * s * d * d - f["mlp"] / L)   # llm-analysis: 16·b·s·d² per layer; model: 3 d×ffn GEMMs
        rows.append({"metric": "llm-analysis - nmsim, TFLOP", "llm-analysis": round((la - f["total"]) / 1e12, 4),
                     "note": (f"SwiGLU MLP counted as 16·b·s·d² per layer (=2 d×4d GEMMs) vs 3 GEMMs d×{ffn}: "
                              f"{mlp_gap / 1e12:+.4f}; unexplained {(la - f['total'] - mlp_gap) / 1e12:+.4f}")})
    if gz:
        emb = 2.0 * b * s * d * V
        rows.append({"metric": "genz - nmsim, TFLOP", "genz": round((gz - f["total"]) / 1e12, 4),
                     "note": (f"embedding lookup priced as a GEMM 2·b·s·d·vocab: {emb / 1e12:+.4f}; "
                              f"unexplained {(gz - f['total'] - emb) / 1e12:+.4f}")})
    rows.append({"metric": "full T×T attention scores, TFLOP", "nmsim": round(f["attention_scores"] / 1e12, 4),
                 "note": (f"QKᵀ and PV over all {s}² positions in all three tools: a causal kernel computes about "
                          f"half ({f['attention_scores'] / 2e12:.4f} TFLOP less)")})
    return rows


if __name__ == "__main__":
    import pandas as pd

    with pd.option_context("display.width", 250, "display.max_columns", None, "display.max_colwidth", 120):
        print(pd.DataFrame(run()).to_string(index=False))
