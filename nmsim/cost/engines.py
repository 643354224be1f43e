"""Research engines (VEGETA, S2TA, HighLight) against their papers' relative speedups and against GPUs.

* :func:`paper_rows`: each reported relative figure (``nmsim/data/validation/research-engines.csv``, with its
  source) beside nmsim's number for the same comparison — the engine's spec priced by its execution model
  (the systolic cycle model) with every linear weight at the pattern, over the dense run of the same array.
  Rows whose paper figure measures something nmsim does not model say so (``comparable``) and are not scored.
  A row may add the activations' density bound the engine prunes to at run time (``activations``, S2TA's DBB:
  the spec's systolic model with ``activation_nm`` set; the baseline keeps dense activations). ``kind`` says what
  the paper's figure is: ``ratio`` (scored by its error, reproduced within 10 %) or ``lower_bound`` (a "more than
  X" claim: reproduced when nmsim's figure is at least X; the error is still printed).
* :func:`gpu_table`: GEMM time of one workload on each engine and GPU, absolute and at equal dense peak: per
  GEMM, max(compute seconds × the device's dense peak / the reference GPU's, memory seconds × the device's
  bandwidth / the reference GPU's) plus any fixed per-kernel time the device's model adds — the array
  replicated to the GPU's peak at unchanged utilisation and given the GPU's memory; and the sparse-over-dense
  speedup on each device.

Both read the one GEMM table (``nmsim.execution.table.gemm_table``) and the spec's execution model; vector ops
are left out on every device (GEMM time only), which the tables say.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PAPERS = Path(__file__).resolve().parent.parent / "data" / "validation" / "research-engines.csv"
ENGINES = ("vegeta", "s2ta", "highlight")
REPRODUCED_PCT = 10.0  # a ratio row is reproduced when nmsim is within this of the paper


def basis_note(pairs) -> str:
    """One line saying that times of devices with different dense peaks are absolute (each at its own peak), for a
    table that puts them side by side; ``pairs`` are (spec, dtype), the specs that were priced (a name is loaded,
    so pass the spec of a user's file: its name is no path). Empty when the peaks are equal."""
    from nmsim.cost.pricing import hardware_spec

    peaks, arrays = {}, False
    for spec, dtype in pairs:
        hw = hardware_spec(spec)
        if dtype in hw.matrix_dense:
            peaks.setdefault(hw.name, (dtype, hw.dense_tflops(dtype)))
            arrays |= (hw.execution or {}).get("model") == "systolic"
    values = [p for _, p in peaks.values()]
    if len(values) < 2 or max(values) <= 1.01 * min(values):
        return ""
    from nmsim.units import fixed
    listed = ", ".join(f"{name} {dt} {fixed(p)}" for name, (dt, p) in peaks.items())
    return (f"# times are absolute: each device at its own dense peak ({listed} TFLOPS)"
            + ("; research engines against GPUs at equal dense peak: nmsim validate --engines" if arrays else "")
            + "\n")


def _dtype(hw) -> str:
    return "bf16" if "bf16" in hw.matrix_dense else sorted(hw.matrix_dense)[0]


def engine_model(hw, activations: str | None = None):
    """``hw``'s execution model; with ``activations`` (e.g. ``"4:8"``) its activations pruned to that bound."""
    from nmsim.execution import model_class, model_for

    if activations in (None, "", "dense"):
        return model_for(hw)
    execution = dict(hw.execution or {})
    params = {k: v for k, v in execution.items() if k not in ("model", "fusion", "source")}
    return model_class(execution.get("model", "roofline"))(hw, {**params, "activation_nm": activations})


def priced_gemms(graph, plan, hw, mode: str = "inference", dtype: str | None = None, model=None):
    """The execution model's answer (``Priced``) for one step of ``graph`` under ``plan`` on ``hw``."""
    from nmsim.execution import ExecContext, model_for
    from nmsim.execution.table import gemm_table
    from nmsim.sparsity.plan import SparsityPlan

    plan = SparsityPlan.parse(plan) if isinstance(plan, str) else plan
    patterns = None if plan is None or plan.is_dense else plan.resolve(graph.ops)
    table = gemm_table(graph, patterns, mode)
    return (model or model_for(hw)).price(table, ExecContext(hw, dtype or _dtype(hw)))


def gemm_seconds(graph, plan, hw, mode: str = "inference", dtype: str | None = None,
                 model=None) -> tuple[float, float]:
    """(GEMM seconds, compute cycles or NaN) of one step of ``graph`` under ``plan`` on ``hw``'s execution model."""
    priced = priced_gemms(graph, plan, hw, mode, dtype, model)
    cycles = priced.extra.get("cycles")
    return float(np.sum(priced.seconds)), float(np.sum(cycles)) if cycles is not None else float("nan")


def _trace(workload: str, mode: str, batch: int | None = None):
    from nmsim.cost.pricing import trace_for_mode

    return trace_for_mode(workload, mode, batch)


def paper_rows(batch: int = 1) -> pd.DataFrame:
    """Paper figure vs nmsim for every row of the research-engine validation file (inference, ``batch``)."""
    from nmsim.hardware import load

    papers = pd.read_csv(PAPERS)
    out = []
    for r in papers.itertuples(index=False):
        hw = load(r.engine)
        graph = _trace(r.workload, "inference", batch)
        dense = gemm_seconds(graph, None, hw)[1]
        plan = None if r.pattern == "dense" else f"all={r.pattern}"
        acts = str(r.activations)
        sparse = gemm_seconds(graph, plan, hw, model=engine_model(hw, acts))[1]
        nm = dense / sparse
        scored = str(r.comparable) == "yes"
        err = 100.0 * (nm - r.paper_speedup) / r.paper_speedup if scored else float("nan")
        if not scored:
            reproduced = "not scored"
        elif r.kind == "lower_bound":
            reproduced = "yes" if nm >= r.paper_speedup else "no"
        else:
            reproduced = "yes" if abs(err) <= REPRODUCED_PCT else "no"
        out.append({"engine": r.engine, "claim": r.claim, "pattern": r.pattern, "activations": acts,
                    "baseline": r.baseline, "workload": f"{r.workload} inference batch {batch}",
                    "kind": r.kind, "paper_speedup": float(r.paper_speedup), "nmsim_speedup": nm, "error_pct": err,
                    "reproduced": reproduced, "comparable": r.comparable, "source": r.source})
    return pd.DataFrame(out)


def gpu_table(workload: str = "vit-base-16", plan: str = "ff=2:4", mode: str = "inference", batch: int = 1,
              engines=ENGINES, gpus=("a100-sxm4-80gb", "h100-sxm5"), reference: str = "h100-sxm5") -> pd.DataFrame:
    """GEMM seconds per device, absolute (``dense_seconds``, ``sparse_seconds``: each device at its own peak) and at
    the reference GPU's dense peak (``equal_peak_sparse_seconds``); sparse-over-dense speedup.

    ``plan`` is applied on every device as its hardware executes it (patterns a device cannot run fall back to
    dense there: S2TA runs 4:8, so a 2:4 plan runs as 4:8 on it)."""
    from nmsim.hardware import load

    graph = _trace(workload, mode, batch)
    ref = load(reference)
    ref_peak = ref.dense_tflops(_dtype(ref))
    ref_bw = ref.main_memory.bandwidth_gbps * 1e9
    rows = []
    for name in (*engines, *gpus):
        hw = load(name)
        dtype = _dtype(hw)
        peak = hw.dense_tflops(dtype)
        dense = priced_gemms(graph, None, hw, mode)
        sparse = priced_gemms(graph, plan, hw, mode)
        # fixed per-kernel costs a model adds on top of its ceilings (launch latency) stay as they are
        ceiling = np.maximum(np.maximum(sparse.compute_seconds, sparse.memory_seconds), sparse.metadata_seconds)
        fixed = np.maximum(sparse.seconds - ceiling, 0.0)
        bw = hw.main_memory.bandwidth_gbps * 1e9
        at_peak = np.maximum(sparse.compute_seconds * peak / ref_peak, sparse.memory_seconds * bw / ref_bw) + fixed
        model = (hw.execution or {}).get("model", "roofline")
        rows.append({"hardware": hw.name, "model": model, "dtype": dtype, "dense_peak_tflop_per_s": peak,
                     "dense_seconds": float(np.sum(dense.seconds)), "sparse_seconds": float(np.sum(sparse.seconds)),
                     "speedup": float(np.sum(dense.seconds) / np.sum(sparse.seconds)),
                     "equal_peak_sparse_seconds": float(np.sum(at_peak))})
    out = pd.DataFrame(rows)
    out.attrs["what"] = (f"{workload} {mode} batch {batch}, plan {plan}; GEMM time only; equal_peak = compute scaled "
                         f"to {ref.name}'s dense {_dtype(ref)} peak {ref_peak:g} TFLOPS with its memory bandwidth "
                         f"{ref_bw / 1e9:g} GB/s (equal peak)")
    return out


if __name__ == "__main__":
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 40):
        print(paper_rows().drop(columns=["source"]).to_string(index=False))
        table = gpu_table()
        print("\n" + table.attrs["what"])
        print(table.to_string(index=False))
