"""Training FLOPs for the trainer's logs: the one place train asks the cost model (train holds no formulas).

:func:`step_flops` prices one optimizer step of ``cfg`` under the recipe state in force; the loop sums it into
the cumulative ``train_flops`` column. Pricing is delegated to ``nmsim.cost.training.step_flops``.
"""
from __future__ import annotations

import importlib


def _cost_fn():
    try:
        module = importlib.import_module("nmsim.cost.training")
    except ModuleNotFoundError as exc:
        if exc.name in ("nmsim.cost.training", "nmsim.cost"):
            return None
        raise
    return getattr(module, "step_flops", None)


def available() -> bool:
    """True when the cost model can price training steps."""
    return _cost_fn() is not None


def step_flops(cfg, targets, state, batch: int) -> float:
    """FLOPs of one training step (forward + backward, nominal) for ``batch`` examples.

    Raises NotImplementedError while ``nmsim.cost.training.step_flops`` does not exist.
    """
    fn = _cost_fn()
    if fn is None:
        raise NotImplementedError("training FLOPs need nmsim.cost.training.step_flops (the cost model), "
                                  "which is not available in this checkout")
    value = fn(cfg, targets, state, batch)
    if isinstance(value, dict):  # tolerate a breakdown; the total is what the log needs
        value = value.get("total_flops", value.get("flops", sum(v for v in value.values() if isinstance(v, (int, float)))))
    elif hasattr(value, "total_flops"):
        value = value.total_flops
    return float(value)


class FlopCounter:
    """Cumulative training FLOPs with per-state caching (``RecipeState.pricing_key`` + batch)."""

    def __init__(self, cfg, targets):
        self.cfg, self.targets = cfg, targets
        self.total: float | None = 0.0 if available() else None
        self._cache: dict = {}
        self.error: str | None = None if available() else "nmsim.cost.training.step_flops not available"

    def add(self, state, batch: int) -> None:
        if self.total is None:
            return
        key = (state.pricing_key() if hasattr(state, "pricing_key") else repr(state), batch)
        if key not in self._cache:
            try:
                self._cache[key] = step_flops(self.cfg, self.targets, state, batch)
            except NotImplementedError as exc:
                self.total, self.error = None, str(exc)
                return
        self.total += self._cache[key]
