"""Tracing a Llama-2-70B-shaped training step (seq 4096, batch 1) on the meta device vs FlopCounterMode.

Each measurement runs in a fresh subprocess (so peak RSS is its own), alternating ours / FlopCounterMode,
three times each; the ratio of medians is reported. Ours = forward trace + backward from formulas + graph +
DataFrame; FlopCounterMode = a real forward + backward on meta under the mode (its own way of counting a
training step). Both build the same meta model first, outside the timed region.

Probe traces: what a first answer on a structure without a template traces, the 4-layer probe of five workloads
(Llama-2-7B, GPT-2, Phi-2, T5, BERT) at three shapes each, in a fresh process after one untimed trace each (torch
imported): CPU seconds of the 15 traces, median of 5, with the load average.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys

from rss import PEAK_RSS

CHILD = PEAK_RSS + r"""
import json, sys, time, torch
from nmsim.graph import load_workload, build_model, example_inputs, trace
from torch.utils.flop_counter import FlopCounterMode
cfg = load_workload("llama-2-70b")
with torch.device("meta"):
    model = build_model(cfg)
inputs = example_inputs(cfg, batch=1, seq=4096)
start = time.perf_counter()
if sys.argv[1] == "nmsim":
    graph = trace(model, inputs)
    flops = graph.totals()["training_matrix_flops"]
else:
    mode = FlopCounterMode(display=False)
    with mode:
        model(*inputs).float().sum().backward()
    flops = mode.get_total_flops()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "flops": flops,
                  "peak_rss_mb": peak_rss_mb()}))
"""


def _measure(which: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, which], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


PROBES = r"""
import json, statistics, sys, time
from nmsim.graph import load_workload
from nmsim.graph.api import trace_full
cfgs = [load_workload(n) for n in ("llama-2-7b", "gpt2", "phi-2", "t5-base", "bert-base")]
cfgs = [c.replace(layers=4, **({"decoder_layers": 4} if c.is_enc_dec else {})) for c in cfgs]
for c in cfgs:
    trace_full(c, 2, 64)
times = []
for _ in range(5):
    start = time.process_time()
    for c in cfgs:
        for seq in (64, 65, 66):
            trace_full(c, 2, seq)
    times.append(time.process_time() - start)
print(json.dumps({"median": statistics.median(times), "min": min(times)}))
"""


def probe_traces() -> dict:
    import os

    out = subprocess.run([sys.executable, "-c", PROBES], capture_output=True, text=True, check=True, timeout=900)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return {"measure": "15 probe traces (4 layers, 5 workloads x 3 shapes), CPU seconds (median of 5)",
            "nmsim": round(got["median"], 3), "load": round(os.getloadavg()[0], 2)}


def run(repeats: int = 3) -> list[dict]:
    results: dict[str, list[dict]] = {"nmsim": [], "FlopCounterMode": []}
    for _ in range(repeats):
        for which in results:
            results[which].append(_measure(which))
    ours = statistics.median(r["seconds"] for r in results["nmsim"])
    theirs = statistics.median(r["seconds"] for r in results["FlopCounterMode"])
    rss = max(r["peak_rss_mb"] for r in results["nmsim"])
    same = results["nmsim"][0]["flops"] == results["FlopCounterMode"][0]["flops"]
    return [
        {"measure": "llama-2-70b training-step trace, seconds (median of 3)", "nmsim": round(ours, 3),
         "FlopCounterMode": round(theirs, 3), "ratio": round(ours / theirs, 3), "goal": "ratio <= 1.3",
         "goal_met": ours / theirs <= 1.3},
        {"measure": "peak RSS of the tracing process, MB", "nmsim": round(rss, 1),
         "FlopCounterMode": round(max(r["peak_rss_mb"] for r in results["FlopCounterMode"]), 1), "ratio": None,
         "goal": "nmsim < 1024 MB", "goal_met": rss < 1024},
        {"measure": "training matrix FLOPs equal", "nmsim": results["nmsim"][0]["flops"],
         "FlopCounterMode": results["FlopCounterMode"][0]["flops"], "ratio": None, "goal": "equal",
         "goal_met": same},
        probe_traces(),
    ]
