"""Pricing throughput: configs priced per second by nmsim.cost.price_many after one trace (and price_gemms)."""
from __future__ import annotations

import time


def run() -> list[dict]:
    from nmsim.cost import price, price_many, trace_for_phase
    from nmsim.hardware import list_specs, load

    rows = []
    for workload, phase in (("vit-base-16", "inference"), ("vit-base-16", "training"), ("llama-3-8b", "decode")):
        graph = trace_for_phase(workload, phase)  # one trace (cached), not timed
        hws = [hw for hw in (load(n) for n in list_specs()) if "bf16" in hw.matrix_dense]
        pats = ["dense", "2:4", "1:4", "1:8", "1:16", "1:32", "2:8", "4:8"]
        plans = [p if p == "dense" else f"ff={p}" for p in pats] + [f"all={p}" for p in pats[1:]] \
            + [f"ff={a},qkv={b}" for a in pats[1:4] for b in pats[1:4]]
        configs = [(p, hw, "bf16") for hw in hws for p in plans]
        price_many(graph, configs, phase)  # warm: resolves plans, builds pattern tables
        reps = max(1, 20000 // len(configs))
        batch = configs * reps
        start = time.perf_counter()
        price_many(graph, batch, phase)
        secs = time.perf_counter() - start
        start = time.perf_counter()
        n_single = 20
        for plan, hw, dtype in configs[:n_single]:
            price(graph, plan, hw, dtype, phase)
        single = (time.perf_counter() - start) / n_single
        rows.append({"bench": "pricing", "workload": workload, "phase": phase, "ops": len(graph.ops),
                     "configs": len(batch), "seconds": round(secs, 4),
                     "configs_per_second": round(len(batch) / secs), "price_ms_per_config": round(single * 1e3, 2)})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
