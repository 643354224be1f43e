"""Shape-generic graphs vs fresh traces: every zoo workload at full depth, at least 20 random shapes each.

For each workload, graph kind (forward / decode / image) and batch region (batch 1, batch >= 2) the shape-generic
graph is fitted (timed), then evaluated at random shapes and compared with a fresh meta-device trace at each:
every op, every column (GEMM dims, element counts, bytes, FLOPs, tensor shapes) must be identical. Rows report
the shapes checked, whether all were exact, the fit time and the time to evaluate FLOPs and bytes at 1,000
shapes (pure numpy). ``python bench/run.py shapes`` (a long run: about 40 traces per workload).
"""
from __future__ import annotations

import random
import sys
import time

SHAPES_PER_MODEL = 20


def _kinds(cfg):
    if cfg.is_image:
        return ["image"]
    return ["forward", "decode"] if cfg.causal and not cfg.is_enc_dec else ["forward"]


def _shape(cfg, kind, fixed, rng):
    batch = fixed.get("batch") or rng.randint(2, 128)
    if kind == "image":
        return {"batch": batch, "image_size": rng.randint(2, 40) * cfg.patch_size}
    table = (cfg.max_positions or cfg.seq_len) if cfg.position == "learned" else 32768
    key = "past" if kind == "decode" else "seq"
    return {"batch": batch, key: rng.randint(1 if kind == "decode" else 2, table)}


def check(name: str, shapes_per_model: int = SHAPES_PER_MODEL, seed: int = 0) -> list[dict]:
    import numpy as np

    from nmsim.graph import load_workload
    from nmsim.graph.shapes import ShapeFitError, fit, frame_difference, trace_at

    cfg = load_workload(name)
    rng = random.Random(f"{name}-{seed}")
    groups = [(k, f) for k in _kinds(cfg) for f in ({}, {"batch": 1})]
    per = -(-shapes_per_model // len(groups))
    rows = []
    for kind, fixed in groups:
        start = time.perf_counter()
        try:
            sg = fit(cfg, kind, fixed, rng=random.Random(seed))
        except ShapeFitError as exc:
            rows.append({"workload": name, "kind": kind, "region": "batch=1" if fixed else "batch>=2",
                         "shapes": 0, "exact": False, "error": str(exc)[:80], "goal_met": False})
            continue
        fit_s = time.perf_counter() - start
        bad, flops = [], 0.0
        for _ in range(per):
            shape = _shape(cfg, kind, fixed, rng)
            want = trace_at(cfg, kind, shape).ops
            diff = frame_difference(sg.at(**shape).ops, want)
            if diff:
                bad.append(f"{shape}: {diff}")
            flops += float(want["fwd_flops"].sum())
        var = sg.variables[-1]
        lo = 2 if var != "past" else 1
        big = {"batch": ([1] * 1000 if fixed else list(range(2, 1002))),
               var: [lo + i % 500 for i in range(1000)] if var != "image_size" else
               [cfg.patch_size * (2 + i % 40) for i in range(1000)]}
        times = []
        for _ in range(3):  # median of 3
            start = time.perf_counter()
            cols = sg.evaluate({k: v for k, v in big.items() if k in sg.variables or k not in sg.fixed},
                               columns=("fwd_flops", "bytes_read", "bytes_written"))
            times.append(time.perf_counter() - start)
        eval_us = sorted(times)[1] * 1e6
        rows.append({"workload": name, "kind": kind, "region": "batch=1" if fixed else "batch>=2",
                     "ops": sg.n_ops, "shapes": per, "exact": not bad, "fit_seconds": round(fit_s, 1),
                     "eval_1000_shapes_ms": round(eval_us / 1e3, 2),
                     "checked_fwd_gflop": round(flops / 1e9), "error": bad[0][:80] if bad else "",
                     "goal_met": bool(not bad and np.isfinite(cols["fwd_flops"]).all())})
    return rows


def run() -> list[dict]:
    from nmsim.graph import list_workloads

    rows = []
    names = list_workloads()
    for i, name in enumerate(names):
        print(f"bench_shapes: {name} ({i + 1}/{len(names)})", file=sys.stderr, flush=True)
        rows += check(name)
    return rows


if __name__ == "__main__":
    names = sys.argv[1:]
    if names:
        for n in names:
            for r in check(n):
                print(r)
    else:
        for r in run():
            print(r)
