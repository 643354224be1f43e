"""Reading reference-trainer sweeps (``nmsim sweep`` output) into frames for the report.

A sweep folder holds run folders ``<task>/<recipe>/<pattern>/seed<S>`` with ``config.json`` and
``metrics.jsonl`` (one row per evaluation: step, epoch, train_flops, accuracy, loss, ...).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nmsim.errors import UserError

CURVE_COLUMNS = ["task", "recipe", "pattern", "seed", "step", "epoch", "train_flops", "accuracy", "loss", "phase",
                 "folder"]


def _pattern_label(config: dict) -> str:
    """The run's plan in its text form (``ff=1:8,qk=1:4``; ``dense`` for the dense recipe)."""
    from nmsim.train.sweep import run_plan

    return run_plan(config.get("recipe"), config.get("sparsity") or {}).label


def load_curves(root: str | Path) -> pd.DataFrame:
    """Every evaluation row of every run under ``root`` (finished or not), tidy. UserError when ``root`` is not
    a folder or holds no runs."""
    from nmsim.train import checkpoint as ckpt

    root = Path(root)
    if not root.is_dir():
        raise UserError("no such runs folder", str(root))
    rows = []
    for cfg_path in sorted(root.rglob("config.json")):
        folder = cfg_path.parent
        metrics = folder / "metrics.jsonl"
        if not metrics.exists():
            continue
        config = ckpt.read_json(cfg_path, "run config")
        for n, row in enumerate(ckpt.read_metrics_rows(metrics), 1):
            accuracy = row.get("accuracy")
            if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1:
                raise UserError(f"row {n}: accuracy must be a number from 0 to 1, got {accuracy!r:.40}", str(metrics))
            rows.append({"task": config.get("task"), "recipe": config.get("recipe"), "pattern": _pattern_label(config),
                         "seed": config.get("seed", 0), "step": row["step"], "epoch": row.get("epoch"),
                         "train_flops": row.get("train_flops"), "accuracy": row["accuracy"], "loss": row.get("loss"),
                         "phase": row.get("phase"), "folder": str(folder)})
    if not rows:
        raise UserError("holds no runs (no */config.json with metrics.jsonl)", str(root))
    df = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    df["train_flops"] = pd.to_numeric(df["train_flops"], errors="coerce")
    return df.sort_values(["task", "recipe", "pattern", "seed", "step"], kind="stable").reset_index(drop=True)


def final_rows(curves: pd.DataFrame) -> pd.DataFrame:
    """Last evaluation of each run."""
    return curves.groupby("folder", sort=False).tail(1).reset_index(drop=True)


def seed_bands(curves: pd.DataFrame) -> pd.DataFrame:
    """Per task x recipe x pattern x evaluation step: mean training FLOPs and epoch, test accuracy in percent
    (mean, std, min, max over the seeds) and the number of seeds."""
    df = curves.assign(accuracy_pct=100 * pd.to_numeric(curves["accuracy"], errors="coerce"),
                       epoch=pd.to_numeric(curves["epoch"], errors="coerce"))
    g = df.groupby(["task", "recipe", "pattern", "step"], sort=False)
    out = g.agg(epoch=("epoch", "mean"), train_flops=("train_flops", "mean"), accuracy_pct=("accuracy_pct", "mean"),
                accuracy_pct_std=("accuracy_pct", "std"), accuracy_pct_min=("accuracy_pct", "min"),
                accuracy_pct_max=("accuracy_pct", "max"), seeds=("seed", "nunique")).reset_index()
    out["accuracy_pct_std"] = out["accuracy_pct_std"].fillna(0.0)
    return out
