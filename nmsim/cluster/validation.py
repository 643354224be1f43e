"""Published training throughputs (``nmsim/data/published_runs/training_throughput.yaml``, or a user's own runs
file in the same format: ``nmsim cluster validate --runs FILE``) against predictions.

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
from typing import TYPE_CHECKING

from nmsim.cluster.limits import MAX_DEVICES, MAX_GLOBAL_BATCH
from nmsim.errors import UserError
from nmsim.io.read import short_repr

if TYPE_CHECKING:
    import pandas as pd

RECOMPUTE_MODES = ("none", "selective", "full")

RUNS_FILE = Path(__file__).resolve().parent.parent / "data" / "published_runs" / "training_throughput.yaml"
CONVENTIONS = ("megatron-hfu", "megatron-mfu", "graph-mfu")
REQUIRED = ("id", "model", "devices", "measured_tflops", "convention", "source", "global_batch")
RUN_KEYS = {*REQUIRED, "tp", "pp", "recompute", "sp", "assumed", "seq", "vocab", "system", "dtype", "flash",
            "dropout", "zero", "mb", "v"}
BUILT_IN = {"seq": 2048, "vocab": 51200, "system": "dgx-a100", "dtype": "bf16", "flash": False, "dropout": True}
MAX_TFLOPS = 1e5   # per device (a sanity limit: 50 x the 1,979 dense FP8 TFLOP/s of an H100 SXM)


def load_runs(path=RUNS_FILE) -> list[dict]:
    """The runs of a runs file (the bundled published runs, or a user's own with ``cluster validate --runs``):
    read as spec files are (size, encoding, duplicate keys, alias bombs, depth) and every field checked, so a
    mistake is one line naming the file, the run and the field before anything is priced. Each run gains
    ``_where`` (``file: runs[i]``) for errors found while pricing it."""
    from nmsim.hardware.loader import read_document
    doc, file = read_document(path, "runs file")
    if not isinstance(doc, dict) or set(doc) - {"defaults", "runs"}:
        raise UserError("expected a mapping with runs (and optional defaults)", file)
    base = doc.get("defaults", {})
    if not isinstance(base, dict):
        raise UserError("expected a mapping of run fields", f"{file}: defaults")
    runs, ids = [], {}
    if not isinstance(doc.get("runs"), list) or not doc["runs"]:
        raise UserError("expected a non-empty list of runs", f"{file}: runs")
    for i, r in enumerate(doc["runs"]):
        where = f"{file}: runs[{i}]"
        if not isinstance(r, dict):
            raise UserError(f"expected a mapping of run fields, got {short_repr(r)}", where)
        run = {**BUILT_IN, **base, **r, "_where": where}
        _check_run(run, where)
        if run["id"] in ids:
            raise UserError(f"duplicate id {run['id']!r} (also runs[{ids[run['id']]}])", f"{where}.id")
        ids[run["id"]] = i
        runs.append(run)
    return runs


def _check_run(run: dict, where: str) -> None:
    unknown = sorted(map(str, set(run) - RUN_KEYS - {"_where"}))
    if unknown:
        raise UserError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(RUN_KEYS))})", where)
    for key in REQUIRED:
        if key not in run:
            raise UserError(f"missing required field {key!r}", where)
    for key in ("id", "source", "system", "dtype") + (("assumed",) if "assumed" in run else ()):
        if not isinstance(run[key], str) or not run[key].strip():
            raise UserError(f"expected a non-empty string, got {short_repr(run[key])}", f"{where}.{key}")
    limits = {"devices": MAX_DEVICES, "global_batch": MAX_GLOBAL_BATCH, "seq": MAX_GLOBAL_BATCH, "tp": MAX_DEVICES,
              "pp": MAX_DEVICES, "mb": MAX_GLOBAL_BATCH, "v": 64, "vocab": 2**24}
    for key, most in limits.items():
        value = run.get(key)
        if key in run and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most):
            raise UserError(f"must be an integer from 1 to {most:,}, got {short_repr(value)}", f"{where}.{key}")
    if "zero" in run and (isinstance(run["zero"], bool) or run["zero"] not in (0, 1, 2, 3)):
        raise UserError(f"must be 0, 1, 2 or 3, got {short_repr(run['zero'])}", f"{where}.zero")
    if "recompute" in run and run["recompute"] not in RECOMPUTE_MODES:
        raise UserError(f"must be one of {', '.join(RECOMPUTE_MODES)}, got {short_repr(run['recompute'])}",
                        f"{where}.recompute")
    for key in ("sp", "flash", "dropout"):
        if key in run and not isinstance(run[key], bool):
            raise UserError(f"expected true or false, got {short_repr(run[key])}", f"{where}.{key}")
    value = run["measured_tflops"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TFLOPS:
        raise UserError(f"must be a number in (0, {MAX_TFLOPS:,.0f}] TFLOP/s per device, got {short_repr(value)}",
                        f"{where}.measured_tflops")
    if run["convention"] not in CONVENTIONS:
        raise UserError(f"unknown convention {short_repr(run['convention'])} (known: {', '.join(CONVENTIONS)})",
                        f"{where}.convention")
    if not isinstance(run["model"], dict):
        raise UserError(f"expected a mapping of workload fields, got {short_repr(run['model'])}", f"{where}.model")
    if "d_model" not in run["model"]:
        raise UserError("missing required field 'd_model'", f"{where}.model")
    model_config(run)   # the model's own fields, with the workload checks
    from nmsim.cluster.system import load_system
    try:
        system = load_system(run["system"])
    except UserError as exc:
        raise UserError(f"{exc.where}: {exc.message}", f"{where}.system") from None
    if run["devices"] % system.devices_per_node:
        raise UserError(f"{run['devices']:,} devices are not whole {system.name} nodes of {system.devices_per_node}",
                        f"{where}.devices")
    from nmsim.cluster.layout import check_restrictions
    try:
        system.device_spec().dense_tflops(run["dtype"])
    except UserError as exc:
        raise UserError(exc.message, f"{where}.dtype") from None
    try:   # the stated layout fields, as cluster plan checks its flags
        check_restrictions(model_config(run), run["devices"], system.devices_per_node, run["global_batch"],
                           **{k: run[k] for k in ("tp", "pp", "mb") if k in run},
                           zero=(run["zero"],) if "zero" in run else None)
    except UserError as exc:
        field = FLAG_FIELDS.get(exc.where)
        raise UserError(exc.message, f"{where}.{field}" if field else f"{where}: {exc.where}") from None


# the cluster search names plan's flags; a runs file names its fields
FLAG_FIELDS = {"--tp": "tp", "--pp": "pp", "--mb": "mb", "--zero": "zero", "--global-batch": "global_batch",
               "--nodes": "devices", "--seq": "seq", "--dtype": "dtype"}


def model_config(run: dict):
    from nmsim.graph.config import ModelConfig
    m = dict(run["model"])
    h = m["d_model"]
    data = {"name": run["id"], "family": "gpt2", **({"ffn": 4 * h} if type(h) is int else {}), "ffn_kind": "gelu", "norm": "layernorm",
            "position": "learned", "causal": True, "vocab": run["vocab"], "seq_len": run["seq"],
            "max_positions": run["seq"], "head": "lm", "batch": 1, **m}
    if data.get("position") == "rope":
        data.pop("max_positions")
    return ModelConfig.from_dict(data, source=f"{run.get('_where', run['id'])}.model")


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
    import numpy as np   # here, not at the top: a bad runs file or --only fails before numpy/pandas load
    import pandas as pd
    runs = load_runs() if runs is None else runs
    rows = []
    for i, run in enumerate(runs):
        if progress:
            progress(i, len(runs), run["id"])
        try:
            predicted = predict(run)
        except UserError as exc:   # what only the search finds (a combination of stated fields): name the run
            field = FLAG_FIELDS.get(exc.where)
            where = run.get("_where", run["id"])
            raise UserError(exc.message, f"{where}.{field}" if field else f"{where}: {exc.where}") from None
        rows.append({**predicted, "group": f"{_device(run)} {run['dtype']}"})
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
