"""Reference trainer: N:M sparse layers driven by a recipe schedule, tiny offline tasks, a resumable loop,
sweeps with local / Ray executors. Training FLOPs come from the cost model (``nmsim.train.flops``).

API (imported lazily so ``import nmsim.train`` stays cheap):

* layers: ``NMLinear``, ``NMConv2d``, ``sparsify(model, targets, direction)``, ``apply_state(model, state)``
* tasks: ``load_task(name)``, ``TASKS`` (digits, digits-hard, stdlib-chars)
* loop: ``RunConfig``, ``train_run(config, out, resume=..., device=...)``, ``read_metrics(out)``
* sweep: ``plan(...)``, ``run_sweep(configs, out, executor=..., workers=...)``, ``summarize(table)``
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "NMLinear": "layers", "NMConv2d": "layers", "sparsify": "layers", "apply_state": "layers",
    "nm_layers": "layers", "load_task": "tasks", "TASKS": "tasks", "RunConfig": "loop", "train_run": "loop",
    "read_metrics": "loop", "check_config": "loop", "plan": "sweep", "run_sweep": "sweep", "summarize": "sweep",
}
__all__ = sorted(_EXPORTS)
# the keys of tasks.TASKS, here without torch so the CLI refuses a mistyped --task before importing it
TASK_NAMES = ("digits", "digits-hard", "stdlib-chars", "pysrc-chars")


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"nmsim.train.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'nmsim.train' has no attribute {name!r}")
