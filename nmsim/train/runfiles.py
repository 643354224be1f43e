"""Torch-free run folders: the files of a run (config.json, metrics.jsonl, done.json), read with their checks and
written atomically.

Every file is written to a temporary name in the same folder, fsynced, then moved into place with
``os.replace``, so a run killed at any instant leaves either the old or the new file, never half of one. A
report or summary that only reads finished runs imports this module, not torch (:mod:`nmsim.train.checkpoint`
adds checkpoints and RNG states and re-exports these names).
"""
from __future__ import annotations

import json
from pathlib import Path

from nmsim.errors import UserError
from nmsim.io import load_json, read_text, write_bytes


CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
DONE = "done.json"
RUNS_TABLE, SUMMARY_TABLE = "sweep_runs.csv", "sweep_summary.csv"   # a sweep's tables, in its runs folder


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Temp file + fsync + rename (:func:`nmsim.io.write_bytes`): a failed write (full disk) leaves no temp file
    and is a one-line UserError."""
    write_bytes(path, data, "run file")


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path, what: str = "file") -> dict:
    """A run file holding a JSON object (``[]``, ``5`` or damaged JSON is a one-line UserError)."""
    return load_json(path, what, expect=dict, allow_nan=True)


# numbers an evaluation row (a metrics.jsonl line, done.json's "final") may carry: each a number or null
ROW_NUMBERS = ("epoch", "train_flops", "accuracy", "loss", "train_loss", "lr", "decay", "grad_var", "exp_avg_sq_norm",
               "wall_seconds")


def _row_problem(row) -> str | None:
    """Why an evaluation row is not one (None when it is): an object with an integer step >= 0 and numbers."""
    step = row.get("step") if isinstance(row, dict) else None
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        return "needs an object with an integer step"
    for key in ROW_NUMBERS:
        v = row.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            from nmsim.io import short_repr
            return f"{key} must be a number or null, got {short_repr(v)}"
    return None


def read_done(folder: Path) -> dict:
    """``done.json``: ``{"final": {...}, ...}`` with ``final`` an evaluation row; anything else is a UserError
    naming the file."""
    path = Path(folder) / DONE
    done = read_json(path, "done marker")
    if not isinstance(done.get("final"), dict):
        raise UserError("not an nmsim done marker (needs a 'final' object)", str(path))
    problem = _row_problem(done["final"])
    if problem:
        raise UserError(f"not an nmsim done marker (final: {problem})", str(path))
    return done


def read_config(path: Path) -> dict:
    """A run's ``config.json``: an object of :class:`~nmsim.train.loop.RunConfig` fields, each of its type (a
    field missing takes its default); UserError naming the file and field."""
    from nmsim.io.read import check_fields
    from nmsim.train.config import RunConfig

    config = read_json(Path(path), "run config")
    try:
        check_fields(config, RunConfig, str(path))
    except UserError as exc:
        if exc.message.startswith("unknown field"):
            raise UserError(f"not an nmsim run config ({exc.message})", str(path)) from None
        raise
    return config


def read_metrics_rows(path: Path) -> list[dict]:
    """Rows of ``metrics.jsonl``: each a JSON object with an integer ``step``. Only the last line may be cut
    (a kill mid-write) and is then dropped; any other damage is a UserError naming the file and line."""
    path = Path(path)
    if not path.exists():
        return []
    lines = read_text(path, "metrics file").splitlines()
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            if n == len(lines):
                continue  # the last line, cut by a kill
            raise UserError(f"line {n}: not valid JSON", str(path)) from None
        problem = _row_problem(row)
        if problem:
            raise UserError(f"line {n}: not a metrics row ({problem})", str(path))
        rows.append(row)
    return rows


def check_run_folder(folder: Path) -> None:
    """Read every bookkeeping file of a run folder that exists (config, metrics, done marker): damage is a
    UserError naming the file, found before any work."""
    folder = Path(folder)
    if (folder / CONFIG).exists():
        read_config(folder / CONFIG)
    read_metrics_rows(folder / METRICS)
    if (folder / DONE).exists():
        read_done(folder)
