"""Atomic checkpoints and RNG states; the run-folder files (config.json, metrics.jsonl, done.json) are read and
written by the torch-free :mod:`nmsim.train.runfiles` (its names re-exported here).

Checkpoints are written like every run file (temp file, fsync, rename), hold only tensors and plain Python
values and are loaded with ``weights_only=True``.
"""
from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import torch

from nmsim.errors import UserError
from nmsim.io import write_bytes

from nmsim.train.runfiles import (CHECKPOINT, CONFIG, DONE, METRICS, ROW_NUMBERS,  # noqa: F401 (re-exported)
                                  RUNS_TABLE, SUMMARY_TABLE, atomic_write_bytes, atomic_write_json,
                                  check_run_folder, read_config, read_done, read_json, read_metrics_rows)


def rng_state(device: str | torch.device = "cpu") -> dict:
    """torch / numpy / python RNG states as tensors and plain values (loadable with weights_only=True)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    py = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": [py[0], list(py[1]), py[2]],
    }
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state`'s states. torch's setters take only CPU byte tensors (a checkpoint loaded onto
    a GPU would hand them CUDA tensors, which ``torch.set_rng_state`` and ``torch.cuda.set_rng_state`` reject)."""
    cpu = lambda t: t.detach().to("cpu", torch.uint8)  # noqa: E731
    torch.set_rng_state(cpu(state["torch"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([cpu(t) for t in state["cuda"]])


def save_checkpoint(folder: Path, payload: dict) -> None:
    """Write ``payload`` (model/optimizer state, step, RNG states, ...) atomically to ``folder/checkpoint.pt``."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    write_bytes(Path(folder) / CHECKPOINT, buf.getvalue(), "checkpoint")


def load_checkpoint(folder: Path, device: str | torch.device = "cpu") -> dict:
    """Load ``folder/checkpoint.pt``; a truncated, corrupt or foreign file raises a one-line UserError."""
    path = Path(folder) / CHECKPOINT
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to unpickle means the file is unusable
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"corrupt or unreadable checkpoint ({reason[:120]})", str(path)) from None
    needed = ("step", "model", "optimizer", "rng", "config_sha256")
    if not isinstance(payload, dict) or any(k not in payload for k in needed):
        raise UserError("not an nmsim training checkpoint (missing fields)", str(path))
    return payload
