"""Published training throughputs (``nmsim/data/published_runs/training_throughput.yaml``) against predictions.

For each run: the stated model, system, device count and layout (unstated fields are searched: the fastest
layout that fits, as the authors tuned theirs), predicted step time -> per-device TFLOP/s in the paper's own
FLOP convention, compared with the measured value. Nothing is fitted on the scored rows. With
``calibrate=True`` one scalar per (device, dtype) group — a compute efficiency,
``time = (compute + bubble) / efficiency + the rest``, the same knob as ``--compute-efficiency`` — is fitted by
least squares on the group's *fit* rows (every other row of the group, in file order) and scored on the
remaining rows; both MAPEs are printed. (The layouts are not re-searched under the
calibrated efficiency.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from nmsim.errors import UserError

RUNS_FILE = Path(__file__).resolve().parent.parent / "data" / "published_runs" / "training_throughput.yaml"
CONVENTIONS = ("megatron-hfu", "megatron-mfu", "graph-mfu")
RUN_KEYS = {"id", "model", "devices", "tp", "pp", "global_batch", "recompute", "sp", "measured_tflops", "convention",
            "source", "assumed", "seq", "vocab", "system", "dtype", "flash", "dropout", "zero", "mb", "v"}


def load_runs(path=RUNS_FILE) -> list[dict]:
    doc = yaml.safe_load(Path(path).read_text())
    base = doc.get("defaults", {})
    runs = []
    for i, r in enumerate(doc["runs"]):
        unknown = set(r) - RUN_KEYS
        if unknown:
            raise UserError(f"unknown key {sorted(unknown)[0]!r}", f"{Path(path).name}: runs[{i}]")
        for key in ("id", "model", "devices", "measured_tflops", "convention", "source", "global_batch"):
            if key not in r:
                raise UserError(f"missing required field {key!r}", f"{Path(path).name}: runs[{i}]")
        if r["convention"] not in CONVENTIONS:
            raise UserError(f"unknown convention {r['convention']!r} (known: {', '.join(CONVENTIONS)})",
                            f"{Path(path).name}: runs[{i}].convention")
        runs.append({**base, **r})
    return runs


def model_config(run: dict):
    from nmsim.graph.config import ModelConfig
    m = dict(run["model"])
    h = m["d_model"]
    data = {"name": run["id"], "family": "gpt2", "ffn": 4 * h, "ffn_kind": "gelu", "norm": "layernorm",
            "position": "learned", "causal": True, "vocab": run["vocab"], "seq_len": run["seq"],
            "max_positions": run["seq"], "head": "lm", "batch": 1, **m}
    if data.get("position") == "rope":
        data.pop("max_positions")
    return ModelConfig.from_dict(data, source=f"{run['id']}")


def convention_flops(run: dict, cfg, nominal_flops_step: float) -> float:
    """FLOPs of one step in the run's convention (see the data file)."""
    if run["convention"] == "graph-mfu":
        return nominal_flops_step
    b, s, l, h, v = run["global_batch"], run["seq"], cfg.layers, cfg.d_model, cfg.vocab
    factor = 96 if run["convention"] == "megatron-hfu" else 72
    return factor * b * s * l * h * h * (1 + s / (6 * h) + v / (16 * l * h))


def predict(run: dict) -> dict:
    from nmsim.cluster.plan import layout_label, search
    from nmsim.cluster.system import load_system
    cfg = model_config(run)
    system = load_system(run["system"])
    if run["devices"] % system.devices_per_node:
        raise UserError(f"{run['devices']} devices is not whole {system.name} nodes", run["id"])
    system = system.with_nodes(run["devices"] // system.devices_per_node)
    restrict = {k: run[k] for k in ("tp", "pp", "zero", "mb", "sp") if k in run}
    if "v" in run:
        restrict["interleave"] = (run["v"],)
    if "recompute" in run:
        restrict["recompute"] = (run["recompute"],)
    if "zero" not in run:
        restrict["zero"] = (0, 1)  # Megatron: plain DP or its distributed optimizer
    res = search(cfg, system, run["global_batch"], run["seq"], dtype=run["dtype"], flash=run["flash"],
                 dropout=run["dropout"], **restrict)
    best = res.best
    conv = convention_flops(run, cfg, best["nominal_flops_step"])
    predicted = conv / (best["step_seconds"] * system.devices) / 1e12
    return {"id": run["id"], "devices": system.devices, "layout": layout_label(best), "fits": bool(best["fits"]),
            "convention": run["convention"], "measured_tflops": float(run["measured_tflops"]),
            "predicted_tflops": predicted, "step_seconds": best["step_seconds"],
            "compute_seconds": best["compute"] + best["bubble"],
            "conv_flops": conv, "recompute": best["recompute"], "source": run["source"],
            "assumed": run.get("assumed", "")}


def validate(runs=None, *, calibrate: bool = False, progress=None) -> tuple[pd.DataFrame, dict]:
    """Table of predicted vs measured per-device TFLOP/s and a summary (MAPE overall and per device/dtype group;
    with ``calibrate``, one compute efficiency per group fitted on every other row of the group)."""
    runs = load_runs() if runs is None else runs
    rows = []
    for i, run in enumerate(runs):
        if progress:
            progress(i, len(runs), run["id"])
        rows.append({**predict(run), "group": f"{_device(run)} {run['dtype']}"})
    df = pd.DataFrame(rows)
    df["error"] = df["predicted_tflops"] / df["measured_tflops"] - 1
    summary = {"rows": len(df), "mape": float(df["error"].abs().mean()),
               "groups": {g: float(d["error"].abs().mean()) for g, d in df.groupby("group", sort=False)}}
    if calibrate:
        # measured step = rest + compute / eff  ->  1/eff by least squares on each group's fit rows
        measured_step = df["conv_flops"] / (df["measured_tflops"] * 1e12 * df["devices"])
        rest = df["step_seconds"] - df["compute_seconds"]  # compute = device compute + bubble (--compute-efficiency)
        fit = (df.groupby("group", sort=False).cumcount() % 2 == 0).to_numpy()
        inv = pd.Series(1.0, index=df.index)
        eff = {}
        for g, idx in df.groupby("group", sort=False).groups.items():
            f = [i for i in idx if fit[i]]
            x, y = df.loc[f, "compute_seconds"], (measured_step - rest).loc[f]
            inv.loc[idx] = float((x * y).sum() / (x * x).sum())
            eff[g] = 1 / float(inv.loc[idx[0]])
        df["calibrated_tflops"] = df["conv_flops"] / ((rest + df["compute_seconds"] * inv) * df["devices"]) / 1e12
        df["calibrated_error"] = df["calibrated_tflops"] / df["measured_tflops"] - 1
        df["role"] = np.where(fit, "fit", "score")
        summary.update({"efficiency": eff, "mape_fit": float(df.loc[fit, "calibrated_error"].abs().mean()),
                        "mape_scored": float(df.loc[~fit, "calibrated_error"].abs().mean()),
                        "mape_scored_uncalibrated": float(df.loc[~fit, "error"].abs().mean())})
    return df, summary


def _device(run: dict) -> str:
    from nmsim.cluster.system import load_system
    return load_system(run["system"]).device
