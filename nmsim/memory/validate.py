"""The memory model against published measured peaks (``nmsim validate --memory``).

Runs come from ``nmsim/data/measurements/memory.yaml`` (the fit/score split there; fields declared in
:mod:`nmsim.schema.memory`, published as ``measurements/memory.schema.json``). Predicted
allocated bytes are the footprint of :func:`nmsim.memory.step_memory` without the runtime; reserved bytes add the
caching allocator's overhead (:data:`nmsim.memory.layout.ALLOCATOR_OVERHEAD`, fitted on the ``fit`` rows only);
nvidia-smi adds the runtime (CUDA context and kernels). Scores are MAPE over the ``score`` rows.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from nmsim.schema.memory import FILE

DATA = Path(__file__).resolve().parents[1] / "data" / "measurements" / "memory.yaml"
MIB = float(2 ** 20)


def load_runs(path=DATA) -> tuple[list[dict], dict]:
    """(runs, workload configs by name) of a measurement file, every field checked (:data:`FILE`: the shared
    schema checks)."""
    from nmsim.graph import ModelConfig, load_workload
    from nmsim.io.spec_nodes import Choice
    from nmsim.io.spec_reader import SpecReader, read_document
    from nmsim.memory.precision import PRECISIONS
    doc, file = read_document(path, "memory measurements file")
    reader = SpecReader(file)
    doc = FILE.check(reader, doc, (), None)
    cfgs = {name: ModelConfig.from_dict({"name": name, **fields}, file, ("workloads", name))
            for name, fields in doc["workloads"].items()}
    for i, r in enumerate(doc["runs"]):
        if "precision" in r:
            Choice(tuple(PRECISIONS), what="precision").check(reader, r["precision"], ("runs", i, "precision"), None)
        if r["workload"] not in cfgs:
            cfgs[r["workload"]] = load_workload(r["workload"])
    return doc["runs"], cfgs


def predict_allocated(run: dict, cfg) -> dict:
    """Bytes per component of the run's step (the runtime apart)."""
    from nmsim.hardware.cached import hardware_spec
    from nmsim.memory.activations import RECOMPUTE
    from nmsim.memory.footprint import step_memory
    from nmsim.memory.weights import model_params
    params = model_params(SimpleNamespace(config=cfg, params=None))
    weights = SimpleNamespace(params=params, total=params * _size(run["dtype"]), masked_numel=0.0)
    comp = step_memory(cfg, "training", run["batch"], run["seq"], None, weights, hardware_spec(run["hardware"]),
                       run["dtype"], flash=bool(run.get("flash", False)), recompute=RECOMPUTE.index(run["recompute"]),
                       precision=run.get("precision"), dropout=bool(run.get("dropout", False)), allocator=0.0)
    return {k: float(v) for k, v in comp.items() if k not in ("total", "allocator")}


def _size(dtype: str) -> float:
    from nmsim.sparsity.metadata import dtype_bytes
    return float(dtype_bytes(dtype))


def frame(path=DATA) -> pd.DataFrame:
    """One row per run: measured and allocated/runtime bytes (before any fit)."""
    runs, cfgs = load_runs(path)
    rows = []
    for r in runs:
        comp = predict_allocated(r, cfgs[r["workload"]])
        runtime = comp.pop("runtime")
        measured = r["mib"] * MIB if "mib" in r else r["gb"] * 1e9
        rows.append({"id": r["id"], "split": r["split"], "measure": r["measure"], "measured": measured,
                     "allocated": sum(comp.values()), "runtime": runtime, "source": r.get("source", "")})
    return pd.DataFrame(rows)


def fit_overhead(df: pd.DataFrame) -> float:
    """The allocator overhead that makes the ``fit`` rows' reserved bytes right on average (least squares on
    the relative error): reserved = allocated x (1 + overhead)."""
    fit = df[(df["split"] == "fit") & (df["measure"] != "allocated")]
    if fit.empty:
        return 0.0
    reserved = fit["measured"] - np.where(fit["measure"] == "nvidia-smi", fit["runtime"], 0.0)
    return float(np.mean(reserved / fit["allocated"]) - 1.0)


def validate(path=DATA, overhead: float | None = None) -> pd.DataFrame:
    """Predicted vs measured per run with the fitted overhead (default: the one the model carries)."""
    from nmsim.memory.layout import ALLOCATOR_OVERHEAD
    df = frame(path)
    k = ALLOCATOR_OVERHEAD if overhead is None else overhead
    pred = df["allocated"] * np.where(df["measure"] == "allocated", 1.0, 1.0 + k)
    df["predicted"] = pred + np.where(df["measure"] == "nvidia-smi", df["runtime"], 0.0)
    df["error_pct"] = 100.0 * (df["predicted"] / df["measured"] - 1.0)
    df.attrs["overhead"] = k
    df.attrs["mape"] = {s: float(df.loc[df["split"] == s, "error_pct"].abs().mean()) for s in ("fit", "score")}
    return df
