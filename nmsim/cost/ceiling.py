"""What caps a plan: measured end-to-end speedups beside the ceiling of their plan (Amdahl).

A plan can at best remove the time of the GEMM passes it sparsifies; the rest of the step (attention matmuls,
GEMMs it leaves dense, vector ops, the optimizer) stays. ``price_many(..., ceiling=True)`` prices that bound from
the same rows as every total (:func:`nmsim.cost.pricing.amdahl`). A measured speedup above its plan's ceiling
cannot come from the plan alone: its baseline was slower than the dense step nmsim compares against (another
kernel, framework or precision), and this module says so.
"""
from __future__ import annotations

import pandas as pd

ABOVE = ("measured above the ceiling: the speedup cannot come from the sparsified GEMMs alone, so its baseline "
         "was not the dense step nmsim compares against")


def measured_ceilings(path=None, workload: str | None = None) -> pd.DataFrame:
    """End-to-end speedups of the measurements file (default: the bundled GPU measurements; ``workload``: only its
    rows) whose baseline is dense, each with its plan's ``sparsified_share`` and ``ceiling`` priced under the
    baseline's own options (hardware, dtype, weight dtype, pinned kernel) and ``above`` (measured > ceiling)."""
    from nmsim.cost.measurements import load
    from nmsim.cost.pricing import price_many, trace_for_mode
    from nmsim.hardware import load as load_hw

    rows, _, _ = load(path)
    out = []
    for r in rows:
        if r["level"] != "end-to-end" or r["metric"] != "speedup" or "workload" not in r:
            continue
        if workload is not None and r["workload"] != workload:
            continue
        base = {**r, **(r.get("baseline") or {})}
        if base.get("plan") not in (None, "dense") or r.get("plan") in (None, "dense"):
            continue
        mode = r.get("mode", "inference")
        graph = trace_for_mode(r["workload"], mode, r.get("batch"), r.get("seq"), r.get("context"))
        t = price_many(graph, [(r["plan"], load_hw(r["hardware"]), base.get("dtype"))], mode,
                       weight_dtype=base.get("weight_dtype"), kernel=base.get("kernel"), ceiling=True).iloc[0]
        out.append({"id": r["id"], "workload": r["workload"], "mode": mode, "hardware": t["hardware"],
                    "plan": r["plan"], "baseline": ", ".join(f"{k} {v}" for k, v in (r.get("baseline") or {}).items()),
                    "measured_speedup": float(r["value"]), "sparsified_share": float(t["sparsified_share"]),
                    "ceiling": float(t["ceiling"]), "above": bool(float(r["value"]) > float(t["ceiling"]))})
    return pd.DataFrame(out, columns=["id", "workload", "mode", "hardware", "plan", "baseline", "measured_speedup",
                                      "sparsified_share", "ceiling", "above"])
