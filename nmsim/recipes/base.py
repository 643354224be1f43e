"""Recipe = schedule: a pure function of (step, total_steps). Shared types and the phase machinery.

Every recipe splits training into three parts (Bambhaniya et al. 2024):

* dense warm-up: steps ``[0, dense_end)``, ``dense_end = floor(d * T)``;
* the *sparse part* ``[dense_end, finetune_start)`` where the recipes differ;
* fine-tune: the last ``floor(f * T)`` steps, binary final (target) mask, STE (SR-STE keeps its own rule, as
  the paper's code does).

Granularity. With ``steps_per_epoch=None`` boundaries are computed in steps. With ``steps_per_epoch=S``
(as the public code, which switches at epoch boundaries) every boundary is computed in whole epochs and
multiplied by ``S``: ``T`` must then be a multiple of ``S``; ``dense_end = floor(d * E) * S`` with ``E = T / S``,
and interval ``i`` of ``n`` starts at ``dense_end + floor(i * L_epochs / n) * S``. Decay values D(j) are always
per step (``j`` = steps since the start of the sparse part).

No torch here: the trainer and the cost model both consume these plain objects.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping

from nmsim.errors import UserError
from nmsim.sparsity.pattern import NMPattern

PHASES = ("dense", "decay", "sparse", "finetune")
RULES = ("dense", "ste", "sr-ste")


@dataclass(frozen=True)
class RecipeState:
    """What is in force at one step.

    masks: selector -> binary N:M pattern whose mask is computed this step (None = no mask).
    decay: D, the weight on pruned weights, forward uses ``W * (m + D * (1 - m))``; 1.0 when dense,
        0.0 for binary-mask recipes, the schedule value for MDGF (even below ``zero_threshold``).
    blend: True while the forward really blends (MDGF with D >= zero_threshold): W~ is dense then.
    cost_patterns: selector -> pattern the executed GEMM can exploit (None while W~ is dense).
    """

    phase: str
    masks: Mapping[str, NMPattern | None]
    decay: float
    rule: str
    srste_lambda: float = 0.0
    cost_patterns: Mapping[str, NMPattern | None] = field(default_factory=dict)
    mask_recompute: bool = False
    blend: bool = False

    def density(self, selector: str) -> float:
        """Density of the binary mask in force for ``selector`` (1.0 without a mask)."""
        pattern = self.masks.get(selector)
        return 1.0 if pattern is None else pattern.density

    def pricing_key(self) -> tuple:
        """Everything the cost model looks at; equal keys price identically."""
        return (
            self.phase,
            tuple(sorted((k, str(v)) for k, v in self.masks.items())),
            tuple(sorted((k, str(v)) for k, v in self.cost_patterns.items())),
            self.rule,
            self.srste_lambda,
            self.mask_recompute,
            self.blend,
        )


@dataclass(frozen=True)
class Phase:
    """Steps ``[start_step, stop_step)`` over which pricing is constant; ``state`` is ``at(start_step)``."""

    start_step: int
    stop_step: int
    state: RecipeState
    label: str

    @property
    def steps(self) -> int:
        return self.stop_step - self.start_step


def as_int(value) -> int | None:
    """``value`` as an int when it is an integer (numpy ints included, bools not), else None."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return None


def _floor_frac(x: float, total: int) -> int:
    """floor(x * total) with x read as the decimal it prints as (0.29 * 100 -> 29, not 28)."""
    return math.floor(Fraction(repr(float(x))) * total)


def check_targets(targets, needed_by: str | None, where: str = "--sparsity") -> dict[str, NMPattern | None]:
    """A plan in any form (``"ff=1:16,qk=1:4"``, ``{"ff": "1:16"}``, a SparsityPlan; see
    :meth:`nmsim.sparsity.SparsityPlan.of`) -> rule key -> NMPattern (None = leave dense)."""
    from nmsim.sparsity.plan import SparsityPlan

    out = SparsityPlan.of(targets or {}, where).targets
    for key, value in out.items():
        if value is not None and not isinstance(value, NMPattern):
            raise UserError(f"{key}: recipes schedule flat N:M patterns, got {value}", where)
    if needed_by and all(v is None for v in out.values()):
        raise UserError(f"recipe {needed_by} needs at least one sparse target (e.g. ff=1:16)", where)
    return out


def _check_frac(value, where: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserError(f"must be a number, got {value!r}", where) from None
    if not math.isfinite(value) or value < 0:
        raise UserError(f"must be >= 0, got {value:g}", where)
    return value


@dataclass(frozen=True)
class Param:
    """A recipe parameter: its keyword of :func:`nmsim.recipes.make_recipe` and its command-line flag
    (``--`` + the name with dashes; ``kind`` None: the API only). ``choices``: value -> words for the help, where
    ``default`` (the recipe's) or ``trainer_default`` (the trainer's, where it differs) is marked."""

    name: str
    kind: type | None
    help: str
    choices: Mapping[str, str] = field(default_factory=dict)
    default: object = None
    trainer_default: object = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


class Recipe:
    """Base schedule. Subclasses implement ``_sparse_state(step, span, total_steps)`` (the state inside the
    sparse part ``span = (dense_end, finetune_start)``) and ``_change_points(span, total_steps)`` (every step
    inside it where that state may change pricing).

    A recipe is one module in ``nmsim/recipes/catalog/``; its class says all that the rest of nmsim needs: its
    parameters and their flags, where it stands in lists and sets, its figure style, the paper's claims the
    evidence tests on it, the parameters the trainer records, and a default that may not fit a small model."""

    name = "recipe"
    params: tuple[Param, ...] = ()
    param_names: tuple[str, ...] = ()   # set from ``params``
    needs_targets = True
    style = ("tab:brown", "P")     # (matplotlib colour, marker) of the recipe in every figure
    order = 100                    # where it stands in every list of recipes (dense first)
    alone = ""                     # why it is built one at a time, never in a list or the set "all" (custom)
    sets: tuple[str, ...] = ()     # the other named sets it belongs to (nmsim.recipes.registry.RECIPE_SETS)
    claims: tuple[str, ...] = ()   # the paper's claims tested on it (nmsim.evidence.claims.CLAIMS)
    # (parameter, smaller values) tried in turn when the default does not fit the model (nmsim.recipes.fitting),
    # unless the user chose one of ``fallback_unless``
    fallback: tuple[str, tuple] | None = None
    fallback_unless: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.param_names = tuple(p.name for p in cls.params)

    @classmethod
    def trainer_params(cls, given: dict, targets, dense_frac: float, finetune_frac: float, total_steps: int) -> dict:
        """The parameters a trainer run of ``total_steps`` uses and records in its config (default: as given)."""
        return dict(given)

    @classmethod
    def legacy_params(cls, params: dict) -> dict:
        """The parameters of a run config written before the recipe's rules were recorded, with the rules it ran
        (default: as written)."""
        return params

    def __init__(self, targets, dense_frac=0.0, finetune_frac=0.0, steps_per_epoch=None, **params):
        self.targets = check_targets(targets, self.name if self.needs_targets else None)
        self.dense_frac = _check_frac(dense_frac, "--dense-frac")
        self.finetune_frac = _check_frac(finetune_frac, "--finetune-frac")
        if Fraction(repr(self.dense_frac)) + Fraction(repr(self.finetune_frac)) >= 1:
            raise UserError(
                f"dense warm-up ({self.dense_frac:g}) + fine-tune ({self.finetune_frac:g}) fractions must be < 1",
                "--finetune-frac",
            )
        if steps_per_epoch is not None and (as_int(steps_per_epoch) or 0) < 1:
            raise UserError(f"must be a positive integer, got {steps_per_epoch!r}", "--steps-per-epoch")
        self.steps_per_epoch = None if steps_per_epoch is None else int(steps_per_epoch)
        unknown = sorted(set(params) - set(self.param_names))
        if unknown:
            applies = ", ".join(self.param_names) or "none"
            raise UserError(f"{unknown[0]} does not apply to recipe {self.name} (its parameters: {applies})",
                            "--" + unknown[0].replace("_", "-"))
        self.params = dict(params)

    # --- the part structure -------------------------------------------------------------------------
    def span(self, total_steps: int) -> tuple[int, int]:
        """``(dense_end, finetune_start)`` in steps: the sparse part is ``[dense_end, finetune_start)``."""
        unit = self._unit(total_steps)
        units = total_steps // unit
        dense = _floor_frac(self.dense_frac, units)
        fine = _floor_frac(self.finetune_frac, units)
        return dense * unit, (units - fine) * unit

    def _unit(self, total_steps: int) -> int:
        if (as_int(total_steps) or 0) <= 0:
            raise UserError(f"total steps must be a positive integer, got {total_steps!r}", "--steps")
        unit = self.steps_per_epoch or 1
        if total_steps % unit:
            raise UserError(f"total steps {total_steps} is not a whole number of epochs of {unit} steps",
                            "--steps-per-epoch")
        return unit

    def interval_starts(self, count: int, total_steps: int) -> list[int]:
        """Start steps of ``count`` equal intervals of the sparse part: ``dense_end + floor(i * L / count)``."""
        unit = self._unit(total_steps)
        start, stop = self.span(total_steps)
        length = (stop - start) // unit
        return [start + (i * length // count) * unit for i in range(count)]

    # --- public API ---------------------------------------------------------------------------------
    def at(self, step: int, total_steps: int) -> RecipeState:
        """The state in force at ``step`` of a ``total_steps`` run."""
        self._unit(total_steps)
        if as_int(step) is None or not 0 <= step < total_steps:
            raise UserError(f"step must be an integer in [0, {total_steps}), got {step!r}", "step")
        step, total_steps = int(step), int(total_steps)
        start, stop = self.span(total_steps)
        if step < start:
            return self._dense_state()
        if step >= stop:
            return self._finetune_state()
        return self._sparse_state(step, (start, stop), total_steps)

    def phases(self, total_steps: int) -> list[Phase]:
        """Consecutive intervals with constant pricing, covering ``[0, total_steps)`` exactly."""
        start, stop = self.span(total_steps)
        total_steps = int(total_steps)
        cuts = {0, start, stop, total_steps}
        cuts |= set(self._change_points((start, stop), total_steps))
        cuts = sorted(c for c in cuts if 0 <= c <= total_steps)
        out: list[Phase] = []
        for a, b in zip(cuts, cuts[1:]):
            if a == b:
                continue
            state = self.at(a, total_steps)
            if out and out[-1].state.pricing_key() == state.pricing_key():
                out[-1] = Phase(out[-1].start_step, b, out[-1].state, out[-1].label)
            else:
                out.append(Phase(a, b, state, _label(state)))
        return out

    def dense_cost_steps(self, total_steps: int) -> int:
        """Steps whose GEMMs are all priced dense (no exploitable pattern for any selector)."""
        return sum(p.steps for p in self.phases(total_steps)
                   if all(v is None for v in p.state.cost_patterns.values()))

    def describe(self) -> str:
        from nmsim.sparsity.plan import SparsityPlan

        targets = str(SparsityPlan.from_mapping(self.targets)) if self.targets else "no targets"
        params = self._param_text()
        granularity = f", switching every {self.steps_per_epoch} steps (epochs)" if self.steps_per_epoch else ""
        return (f"{self.name}: {targets}; dense warm-up {self.dense_frac:g}, fine-tune {self.finetune_frac:g}"
                f"{params}{granularity}")

    def _param_text(self) -> str:
        return "".join(f", {k}={v:g}" if isinstance(v, float) else f", {k}={v}" for k, v in self.params.items())

    def __repr__(self) -> str:
        return f"<Recipe {self.describe()}>"

    # --- helpers for subclasses ---------------------------------------------------------------------
    def _dense_state(self) -> RecipeState:
        none = {k: None for k in self.targets}
        return RecipeState("dense", none, 1.0, "dense", 0.0, dict(none), False, False)

    def _binary_state(self, phase: str, patterns, rule: str = "ste", lam: float = 0.0) -> RecipeState:
        masks = {k: patterns.get(k) for k in self.targets}
        if all(v is None for v in masks.values()):
            return RecipeState(phase, masks, 1.0, "dense", 0.0, dict(masks), False, False)
        return RecipeState(phase, masks, 0.0, rule, lam, dict(masks), True, False)

    def _finetune_state(self) -> RecipeState:
        return self._binary_state("finetune", self.targets)

    def _sparse_state(self, step: int, span: tuple[int, int], total_steps: int) -> RecipeState:
        raise NotImplementedError

    def _change_points(self, span: tuple[int, int], total_steps: int) -> list[int]:
        return []


def _label(state: RecipeState) -> str:
    pats = ",".join(f"{k}={v}" for k, v in state.masks.items() if v is not None)
    text = state.phase + (f" {pats}" if pats else "")
    if state.rule == "sr-ste":
        text += " sr-ste"
    return text
