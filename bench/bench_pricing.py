"""Pricing throughput: configs priced per second by nmsim.cost.price_many after one trace (goal >= 10,000/s; every
bundled bf16 spec, i.e. the gpu kernel, roofline and systolic execution models), and ms per single price(); then
batch x sequence and batch x context shape sweeps (the same goal), and a sweep of 10⁶ configurations in a fresh
process (goals: <= 300 MB peak RSS, >= 200,000 configs/s)."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from rss import PEAK_RSS


def run() -> list[dict]:
    from nmsim.cost import price, price_many, trace_for_mode
    from nmsim.hardware import list_specs, load

    rows = []
    for workload, mode in (("vit-base-16", "inference"), ("vit-base-16", "training"), ("llama-3-8b", "decode")):
        graph = trace_for_mode(workload, mode)  # one trace (cached), not timed
        hws = [hw for hw in (load(n) for n in list_specs()) if "bf16" in hw.matrix_dense]
        pats = ["dense", "2:4", "1:4", "1:8", "1:16", "1:32", "2:8", "4:8"]
        plans = [p if p == "dense" else f"ff={p}" for p in pats] + [f"all={p}" for p in pats[1:]] \
            + [f"ff={a},qkv={b}" for a in pats[1:4] for b in pats[1:4]]
        configs = [(p, hw, "bf16") for hw in hws for p in plans]
        price_many(graph, configs, mode)  # warm: resolves plans, builds pattern tables
        reps = max(1, 20000 // len(configs))
        batch = configs * reps
        start = time.perf_counter()
        price_many(graph, batch, mode)
        secs = time.perf_counter() - start
        start = time.perf_counter()
        n_single = 20
        for plan, hw, dtype in configs[:n_single]:
            price(graph, plan, hw, dtype, mode)
        single = (time.perf_counter() - start) / n_single
        rows.append({"bench": "pricing", "workload": workload, "mode": mode, "ops": len(graph.ops),
                     "configs": len(batch), "seconds": round(secs, 4),
                     "configs_per_second": round(len(batch) / secs), "price_ms_per_config": round(single * 1e3, 2),
                     "goal_met": len(batch) / secs >= 10_000})
    # every config a distinct plan (no sharing between configs): per-layer-range patterns on ff and qkv
    graph = trace_for_mode("vit-base-16", "inference")
    hws = [hw for hw in (load(n) for n in list_specs()) if "bf16" in hw.matrix_dense]
    pats = ["2:4", "1:4", "1:8", "1:16"]
    plans = [f"ff@{lo}-{hi}={a},qkv@{lo}-{hi}={b}" for lo in range(12) for hi in range(lo, 12)
             for a in pats for b in pats]
    configs = [(p, hw, "bf16") for hw in hws for p in plans]
    start = time.perf_counter()
    price_many(graph, configs)  # includes resolving every plan once
    first = time.perf_counter() - start
    start = time.perf_counter()
    price_many(graph, configs)
    secs = time.perf_counter() - start
    rows.append({"bench": "pricing-distinct-plans", "workload": "vit-base-16", "mode": "inference",
                 "ops": len(graph.ops), "configs": len(configs), "seconds": round(secs, 4),
                 "first_call_seconds": round(first, 3), "configs_per_second": round(len(configs) / secs),
                 "goal_met": len(configs) / secs >= 10_000})
    rows += shape_sweeps()
    rows += million_sweep()
    return rows


def shape_sweeps() -> list[dict]:
    """Batch x sequence (prefill, training) and batch x KV context (decode) sweeps of Llama-3-8B: one
    price_many call over the shapes x 4 plans x a100/h100, warm (the shape-generic graphs built once, not
    timed), median of 5."""
    from nmsim.cost import price_many
    from nmsim.graph import load_workload

    cfg = load_workload("llama-3-8b")
    batches, seqs, contexts = list(range(1, 65)), [128, 256, 512, 1024, 2048, 4096], [512, 1024, 2048, 4096, 8192]
    configs = [(p, hw, "bf16") for hw in ("a100", "h100") for p in ("dense", "ff=2:4", "ff=1:8", "all=2:4")]
    rows = []
    for mode, axis, values in (("prefill", "seq", seqs), ("training", "seq", seqs), ("decode", "context", contexts)):
        shapes = {"batch": batches, axis: values}
        start = time.perf_counter()
        price_many(cfg, configs, mode, shapes=shapes)   # builds (or reads) the shape-generic graph
        first = time.perf_counter() - start
        times = []
        for _ in range(5):
            start = time.perf_counter()
            df = price_many(cfg, configs, mode, shapes=shapes)
            times.append(time.perf_counter() - start)
        rate = len(df) / statistics.median(times)
        rows.append({"bench": f"shape-sweep batch x {axis}", "workload": "llama-3-8b", "mode": mode,
                     "configs": len(df), "seconds": round(statistics.median(times), 4),
                     "first_call_seconds": round(first, 2), "configs_per_second": round(rate),
                     "load": round(os.getloadavg()[0], 1), "goal_met": rate >= 10_000})
    return rows


#: 5 accelerators (gpu kernel, roofline and systolic models) x 8 plans x batch 1-250 x seq 128-12,800: 10⁶ rows
MILLION = PEAK_RSS + r"""
import json, sys, time
start = time.perf_counter()
from nmsim.cost import price_many
hws = ["a100", "h100", "h200", "tpu-v4", "ideal-nm"]
plans = ["dense", "ff=2:4", "ff=1:4", "ff=1:8", "all=2:4", "all=1:8", "ff=2:4,qkv=1:4", "attn=2:4"]
shapes = {"batch": list(range(1, 251)), "seq": [128 * i for i in range(1, 101)]}
wall, cpu = time.perf_counter(), time.process_time()
df = price_many("llama-2-7b", [(p, h, "bf16") for h in hws for p in plans], "prefill", shapes=shapes)
print(json.dumps({"rows": len(df), "seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu,
                  "process_seconds": time.perf_counter() - start, "traced": "torch" in sys.modules,
                  "peak_rss_mb": peak_rss_mb()}))
"""
MILLION_GOALS = {"peak_rss_mb": 300, "configs_per_second": 200_000}


def million_sweep(repeats: int = 3) -> list[dict]:
    """10⁶ configurations (5 hardware x 8 plans x 25,000 prefill shapes of Llama-2-7B) in one price_many call,
    each run a fresh process with the shape-generic graph in the trace cache (one untimed run first builds it);
    medians of ``repeats`` runs, the peak RSS their largest."""
    subprocess.run([sys.executable, "-c", MILLION], check=True, capture_output=True)
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", MILLION], check=True, capture_output=True, text=True)
        runs.append({**json.loads(out.stdout.strip().splitlines()[-1]), "load": os.getloadavg()[0]})
    med = {k: statistics.median(r[k] for r in runs) for k in ("seconds", "cpu_seconds", "process_seconds", "load")}
    rss = max(r["peak_rss_mb"] for r in runs)
    rate = runs[0]["rows"] / med["seconds"]
    return [{"bench": "shape-sweep 10⁶ configs (fresh process)", "workload": "llama-2-7b", "mode": "prefill",
             "configs": runs[0]["rows"], "seconds": round(med["seconds"], 2),
             "configs_per_second": round(rate), "configs_per_cpu_second": round(runs[0]["rows"] / med["cpu_seconds"]),
             "process_seconds": round(med["process_seconds"], 2), "peak_rss_mb": round(rss),
             "load": round(med["load"], 1), "goal": "<= 300 MB, >= 200,000 configs/s",
             "note": (f"peak RSS per run {', '.join(str(round(r['peak_rss_mb'])) for r in runs)} MB"
                      + (f"; {sum(r['traced'] for r in runs)} run(s) traced (cache missed)"
                         if any(r["traced"] for r in runs) else "")),
             "goal_met": bool(rss <= MILLION_GOALS["peak_rss_mb"] and rate >= MILLION_GOALS["configs_per_second"])}]


if __name__ == "__main__":
    for row in run():
        print(row)
