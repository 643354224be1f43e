"""Reading reference-trainer sweeps (``nmsim sweep`` output) into frames for the report, the evidence protocol and
``nmsim plot``.

A sweep folder holds run folders ``<task>/<recipe>/<pattern>/seed<S>`` with ``config.json`` and
``metrics.jsonl`` (one row per evaluation: step, epoch, train_flops, accuracy, loss, ...). A runs folder may
hold several sweeps: runs are one point (seeds of one setting) only when task, run length (epochs at a batch),
training setup and recipe settings all agree, and a sparse run is set against the dense runs of the same task,
run length and setup (:data:`BASELINE`) or against none.
"""
from __future__ import annotations

import json
from pathlib import Path

from typing import TYPE_CHECKING

from nmsim.errors import UserError

if TYPE_CHECKING:   # pandas is imported on first use: a wrong folder is said before it
    import pandas as pd

CURVE_COLUMNS = ["task", "recipe", "pattern", "seed", "step", "epoch", "train_flops", "accuracy", "loss", "phase",
                 "folder", "length", "setup", "variant"]
# config keys shared by a run and its dense baseline (beside task and length), and a recipe's own settings
SETUP_KEYS = ("workload", "lr", "weight_decay", "warmup_frac", "min_lr_frac")
VARIANT_KEYS = ("dense_frac", "finetune_frac", "direction", "recipe_params")
BASELINE = ["task", "length", "setup"]                        # runs compared with one dense baseline
POINT = BASELINE + ["recipe", "pattern", "variant"]          # runs that are seeds of one point


def _length(config: dict) -> str:
    epochs, batch = config.get("epochs"), config.get("batch")
    if epochs is None or batch is None:
        return "length not recorded"
    return f"{epochs:g} epochs at batch {batch:g}" if isinstance(epochs, (int, float)) and \
        isinstance(batch, (int, float)) else f"{epochs} epochs at batch {batch}"


def _settings(config: dict, keys) -> str:
    return json.dumps({k: config.get(k) for k in keys}, sort_keys=True, default=str)


def _short(frame: pd.DataFrame, column: str, within: list[str]) -> pd.Series:
    """The settings JSON of ``column`` as ``key=value`` text of only the keys that differ between runs that agree
    on ``within`` (empty when they all agree; an empty value stays empty)."""
    import pandas as pd

    out = pd.Series("", index=frame.index, dtype=object)
    for _, rows in frame.groupby(within, sort=False, dropna=False):
        parsed = {v: json.loads(v) for v in rows[column].unique() if v}
        keys = [k for k in dict.fromkeys(k for d in parsed.values() for k in d)
                if len({json.dumps(d.get(k), sort_keys=True) for d in parsed.values()}) > 1]
        text = {v: ", ".join(f"{k}={json.dumps(d.get(k), sort_keys=True)}" for k in keys) for v, d in parsed.items()}
        out[rows.index] = rows[column].map({**text, "": ""})
    return out


def _pattern_label(config: dict) -> str:
    """The run's plan in its text form (``ff=1:8,qk=1:4``; ``dense`` for the dense recipe)."""
    from nmsim.train.plans import run_plan

    return run_plan(config.get("recipe"), config.get("sparsity") or {}).label


def load_curves(roots) -> pd.DataFrame:
    """Every evaluation row of every run under ``roots`` (a folder or a list of folders; finished or not), tidy;
    a run found twice counts once. UserError when a root is not a folder or none holds runs."""
    roots = [Path(r) for r in ([roots] if isinstance(roots, (str, Path)) else roots)]
    for root in roots:
        if not root.is_dir():
            raise UserError("no such runs folder", str(root))
    from nmsim.train import runfiles as ckpt   # no torch
    found = {}   # one entry per run, as first found
    for root in roots:
        for p in sorted(root.rglob("config.json")):
            found.setdefault(p.resolve(), p)
    rows = []
    for cfg_path in found.values():
        folder = cfg_path.parent
        metrics = folder / "metrics.jsonl"
        if not metrics.exists():
            continue
        config = ckpt.read_config(cfg_path)
        for n, row in enumerate(ckpt.read_metrics_rows(metrics), 1):
            accuracy = row.get("accuracy")
            if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1:
                raise UserError(f"row {n}: accuracy must be a number from 0 to 1, got {accuracy!r:.40}", str(metrics))
            rows.append({"task": config.get("task"), "recipe": config.get("recipe"), "pattern": _pattern_label(config),
                         "seed": config.get("seed", 0), "step": row["step"], "epoch": row.get("epoch"),
                         "train_flops": row.get("train_flops"), "accuracy": row["accuracy"], "loss": row.get("loss"),
                         "phase": row.get("phase"), "folder": str(folder), "length": _length(config),
                         "setup": _settings(config, SETUP_KEYS),
                         # the dense recipe has no recipe settings: its runs differ only in setup
                         "variant": "" if config.get("recipe") == "dense" else _settings(config, VARIANT_KEYS)})
    if not rows:
        raise UserError("holds no runs (no */config.json with metrics.jsonl)", ", ".join(map(str, roots)))
    import pandas as pd

    df = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    df["train_flops"] = pd.to_numeric(df["train_flops"], errors="coerce")
    # setups compared within a task; a recipe's own settings (MDGF's beta, SDGF's k, ...) within its plan
    df["setup"], df["variant"] = _short(df, "setup", ["task"]), _short(df, "variant", ["task", "recipe", "pattern"])
    return df.sort_values(["task", "length", "setup", "recipe", "pattern", "variant", "seed", "step"],
                          kind="stable").reset_index(drop=True)


def _keyed(curves: pd.DataFrame) -> pd.DataFrame:
    """``curves`` with the grouping columns filled (frames from before they existed: one length, one setup)."""
    fill = {c: "" for c in ("length", "setup", "variant") if c not in curves}
    return curves.assign(**fill) if fill else curves


def baselines(curves: pd.DataFrame) -> pd.DataFrame:
    """Per point (task x length x setup x recipe x pattern x variant): ``seeds`` and ``baseline`` (whether the
    same task, length and setup has dense runs to compare with)."""
    curves = _keyed(curves)
    has_dense = set(map(tuple, curves.loc[curves["recipe"] == "dense", BASELINE].drop_duplicates().to_numpy()))
    points = curves.groupby(POINT, sort=False).agg(seeds=("seed", "nunique")).reset_index()
    points["baseline"] = [tuple(r) in has_dense for r in points[BASELINE].to_numpy()]
    return points


def unmatched(curves: pd.DataFrame) -> pd.DataFrame:
    """Sparse points with no dense run of the same task, run length and setup: listed, never compared."""
    points = baselines(curves)
    return points[(points["recipe"] != "dense") & ~points["baseline"]].drop(columns="baseline").reset_index(drop=True)


def final_rows(curves: pd.DataFrame) -> pd.DataFrame:
    """Last evaluation of each run."""
    return curves.groupby("folder", sort=False).tail(1).reset_index(drop=True)


def seed_bands(curves: pd.DataFrame) -> pd.DataFrame:
    """Per point (task x length x setup x recipe x pattern x variant) and evaluation step: mean training FLOPs and
    epoch, test accuracy in percent (mean, std, min, max over the seeds) and the number of seeds."""
    import pandas as pd

    curves = _keyed(curves)
    df = curves.assign(accuracy_pct=100 * pd.to_numeric(curves["accuracy"], errors="coerce"),
                       epoch=pd.to_numeric(curves["epoch"], errors="coerce"))
    g = df.groupby(POINT + ["step"], sort=False)
    out = g.agg(epoch=("epoch", "mean"), train_flops=("train_flops", "mean"), accuracy_pct=("accuracy_pct", "mean"),
                accuracy_pct_std=("accuracy_pct", "std"), accuracy_pct_min=("accuracy_pct", "min"),
                accuracy_pct_max=("accuracy_pct", "max"), seeds=("seed", "nunique")).reset_index()
    out["accuracy_pct_std"] = out["accuracy_pct_std"].fillna(0.0)
    return out
