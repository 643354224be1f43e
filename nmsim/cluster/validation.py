"""Published training runs (``nmsim/data/published_runs/training_throughput.yaml``, or a user's own runs file in
the same format: ``nmsim cluster validate --runs FILE``) against predictions.

For each run: the stated model, system, device count and layout (unstated fields are searched: the fastest
layout that fits, as the authors tuned theirs) priced under the run-loss terms (:mod:`nmsim.cluster.losses`,
default the calibrated set). A run states one measured figure: per-device TFLOP/s in its own FLOP convention, tokens
per second per device, or device-hours for a token count (a whole run: goodput applies). Each becomes a measured
step time, so the error is the time-to-train error, ``predicted / measured - 1``, and each run's published MFU is
its measured figure in nmsim's convention (model fwd+bwd FLOPs / (devices x dense peak x time)).

Every bundled run carries ``split: fit`` or ``split: score``, decided before predicting: the fit runs are NVIDIA's
own figures (Megatron-LM, NeMo, MT-NLG), the scored runs come from other organisations. :func:`fit` fits the
compute efficiency per dtype class on the fit runs (under the sourced terms); the shipped losses file carries
that fit, and :func:`validate` scores the other organisations' runs with it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nmsim.errors import UserError, field_path
from nmsim.schema.runs import BUILT_IN, MEASURES

if TYPE_CHECKING:
    import pandas as pd

RUNS_FILE = Path(__file__).resolve().parent.parent / "data" / "published_runs" / "training_throughput.yaml"


def load_runs(path=RUNS_FILE) -> list[dict]:
    """The runs of a runs file (the bundled published runs, or a user's own with ``cluster validate --runs``):
    read as spec files are (size, encoding, duplicate keys, alias bombs, depth) and every field checked by the
    shared schema checks (:mod:`nmsim.schema.runs`), so a mistake is one line naming the file, the run and the
    field before anything is priced. Each run gains ``_where`` (``file: runs[i]``) for errors found while pricing
    it, and ``_at`` (the file and the run's path) for its model's fields."""
    from nmsim.io.spec_reader import SpecReader, read_document
    from nmsim.schema.runs import RUN, RUNS_FILE as FILE
    doc, file = read_document(path, "runs file")
    reader = SpecReader(file)
    doc = FILE.check(reader, doc, (), None)
    base = doc.get("defaults", {})
    runs, ids = [], {}
    for i, r in enumerate(doc["runs"]):
        run = {**RUN.check(reader, {**BUILT_IN, **base, **r}, ("runs", i), None),
               "_where": field_path(file, "runs", i), "_at": (file, ("runs", i))}
        if run["id"] in ids:
            raise reader.fail(f"duplicate id {run['id']!r} (also runs[{ids[run['id']]}])", "runs", i, "id")
        ids[run["id"]] = i
        _check_placement(run, run["_where"])
        runs.append(run)
    return runs


def _check_placement(run: dict, where: str) -> None:
    """The model, the system and the stated layout, as ``cluster plan`` checks its flags."""
    model_config(run)   # the model's own fields, with the workload checks
    from nmsim.cluster.system import load_system
    try:
        system = load_system(run["system"])
    except UserError as exc:
        raise UserError(f"{exc.where}: {exc.message}", f"{where}.system") from None
    if run["devices"] % system.devices_per_node:
        raise UserError(f"{run['devices']:,} devices are not whole {system.name} nodes of {system.devices_per_node}",
                        f"{where}.devices")
    from nmsim.cluster.layout_space import check_restrictions
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
    file, path = run.get("_at", (run["id"], ()))
    return ModelConfig.from_dict(data, file, path + ("model",))


def convention_flops(run: dict, cfg, nominal_flops_step: float) -> float:
    """FLOPs of one step in the run's convention (see the data file)."""
    if run["convention"] == "graph-mfu":
        return nominal_flops_step
    b, s, l, h, v = run["global_batch"], run["seq"], cfg.layers, cfg.d_model, cfg.vocab
    factor = 96 if run["convention"] == "megatron-hfu" else 72
    return factor * b * s * l * h * h * (1 + s / (6 * h) + v / (16 * l * h))


def measured_step(run: dict, cfg, nominal_flops_step: float) -> float:
    """The run's measured seconds per step (a whole-run average for device-hours: goodput losses included)."""
    tokens_step = run["global_batch"] * run["seq"]
    if "measured_tflops" in run:
        return convention_flops(run, cfg, nominal_flops_step) / (run["measured_tflops"] * 1e12 * run["devices"])
    if "tokens_per_device_second" in run:
        return tokens_step / (run["tokens_per_device_second"] * run["devices"])
    return run["device_hours"] * 3600 / run["devices"] * tokens_step / run["tokens"]


def predict(run: dict, losses=None) -> dict:
    from nmsim.cluster.losses import load_losses
    from nmsim.cluster.plan import layout_label, search
    from nmsim.cluster.system import load_system
    cfg = model_config(run)
    lo = load_losses(losses)
    system = load_system(run["system"])
    if run["devices"] % system.devices_per_node:
        raise UserError(f"{run['devices']} devices is not whole {system.name} nodes", run["id"])
    system = system.with_nodes(run["devices"] // system.devices_per_node)
    restrict = {k: run[k] for k in ("tp", "pp", "mb", "sp") if k in run}
    restrict["zero"] = (run["zero"],) if "zero" in run else (0, 1)   # unstated: Megatron's DP or distributed optimizer
    if "v" in run:
        restrict["interleave"] = (run["v"],)
    if "recompute" in run:
        restrict["recompute"] = (run["recompute"],)
    res = search(cfg, system, run["global_batch"], run["seq"], dtype=run["dtype"], flash=run["flash"],
                 dropout=run["dropout"], losses=lo, **restrict)
    best = res.best
    whole_run = "device_hours" in run
    goodput = lo.goodput if whole_run else 1.0
    predicted = float(best["step_seconds"]) / goodput
    measured = measured_step(run, cfg, best["nominal_flops_step"])
    peak = system.device_spec().dense_tflops(run["dtype"]) * 1e12 * system.devices
    parts = float(best["compute"] + best["bubble"])
    return {"id": run["id"], "org": run.get("org", ""), "split": run.get("split", "score"),
            "devices": system.devices, "layout": layout_label(best), "fits": bool(best["fits"]),
            "measure": next(k for k in MEASURES if k in run), "convention": run.get("convention", ""),
            "predicted_seconds": predicted, "measured_seconds": measured,
            "predicted_mfu": float(best["nominal_flops_step"]) / (predicted * peak),
            "published_mfu": float(best["nominal_flops_step"]) / (measured * peak),
            "goodput": goodput, "compute_seconds": parts / goodput,
            "compute_efficiency": float(res.run.compute_efficiency),
            "recompute": best["recompute"], "source": run["source"], "assumed": run.get("assumed", "")}


def _mape(errors) -> float:
    return float(errors.abs().mean()) if len(errors) else float("nan")


def validate(runs=None, *, losses=None, progress=None) -> tuple[pd.DataFrame, dict]:
    """One row per run (:func:`predict`) with ``error`` = predicted / measured step time - 1 (the time-to-train
    error), and a summary: MAPE overall, per split, and per organisation of the scored runs."""
    import pandas as pd   # here, not at the top: a bad runs file or --only fails before numpy/pandas load
    runs = load_runs() if runs is None else runs
    rows = []
    for i, run in enumerate(runs):
        if progress:
            progress(i, len(runs), run["id"])
        try:
            rows.append({**predict(run, losses), "group": f"{_device(run)} {run['dtype']}"})
        except UserError as exc:   # what only the search finds (a combination of stated fields): name the run
            field = FLAG_FIELDS.get(exc.where)
            where = run.get("_where", run["id"])
            raise UserError(exc.message, f"{where}.{field}" if field else f"{where}: {exc.where}") from None
    df = pd.DataFrame(rows)
    df["error"] = df["predicted_seconds"] / df["measured_seconds"] - 1
    scored = df[df["split"] == "score"]
    summary = {"rows": len(df), "mape": _mape(df["error"]),
               "splits": {s: _mape(d["error"]) for s, d in df.groupby("split", sort=False)},
               "counts": {s: len(d) for s, d in df.groupby("split", sort=False)},
               "orgs": {o: (_mape(d["error"]), len(d)) for o, d in scored.groupby("org", sort=False)},
               "groups": {g: _mape(d["error"]) for g, d in df.groupby("group", sort=False)}}
    return df, summary


def residuals(runs=None, losses=None) -> pd.DataFrame:
    """Per run: id, org, source, split, predicted and measured step seconds, error (time-to-train) and MFUs."""
    df, _ = validate(runs, losses=losses)
    return df[["id", "org", "source", "split", "predicted_seconds", "measured_seconds", "error", "predicted_mfu",
               "published_mfu"]]


def fit(runs=None, progress=None) -> tuple[dict, pd.DataFrame]:
    """Compute efficiency per device (and ``default``: over every fit run) fitted by least squares on the fit runs'
    step times with every other term at its sourced value: measured = rest + compute / efficiency (layouts as
    searched under the sourced terms). Returns the efficiencies and the rows priced under the sourced terms."""
    from nmsim.cluster.losses import load_losses
    runs = load_runs() if runs is None else runs
    if not any(r.get("split") == "fit" for r in runs):
        raise UserError("no run has split: fit (mark the runs to fit on)", "--fit")
    sourced = load_losses("sourced")
    df, _ = validate(runs, losses=sourced, progress=progress)
    fits = df[df["split"] == "fit"]
    eff = {}
    for name, f in [("default", fits), *fits.groupby(fits["group"].str.split(" ").str[0], sort=False)]:
        x, rest = f["compute_seconds"], f["predicted_seconds"] - f["compute_seconds"]
        eff[name] = float((x * x).sum() / (x * (f["measured_seconds"] - rest)).sum())
    return eff, df


def _device(run: dict) -> str:
    from nmsim.cluster.system import load_system
    return load_system(run["system"]).device
