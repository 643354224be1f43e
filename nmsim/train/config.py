"""A training run's configuration and its arguments' ranges, without torch: the CLI checks the numbers a user
gave before the trainer (and torch) is imported. :mod:`nmsim.train.loop` resolves the task's defaults."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field

from nmsim.errors import UserError


@dataclass
class RunConfig:
    """Everything that determines a run's numbers (the device and progress bar do not)."""

    task: str = "digits"
    recipe: str = "dense"
    sparsity: dict = field(default_factory=lambda: {"ff": "1:16"})   # the plan as {selector: "N:M"}
    epochs: int | None = None          # None: the task's default
    seed: int = 0
    batch: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    warmup_frac: float | None = None
    min_lr_frac: float = 0.0
    dense_frac: float = 0.0
    finetune_frac: float = 0.0
    recipe_params: dict = field(default_factory=dict)
    direction: str = "row"
    workload: str | None = None        # None: the task's default trainer-*.yaml
    eval_every: int = 0                # steps; 0 = once per epoch
    checkpoint_every: int = 0          # steps; 0 = at every evaluation
    threads: int = 1                   # torch intra-op threads (part of the config: it changes fp32 sums)
    precision: str = "fp32"            # fp32 | tf32 | bf16 (autocast): nmsim.train.device
    compile: bool = False              # the forward through torch.compile

    def to_dict(self) -> dict:
        """The config's fields; ``precision`` and ``compile`` only when not the default, so configs written before
        they existed read (and hash) as the same runs."""
        d = dataclasses.asdict(self)
        for name, default in LATER_FIELDS.items():
            if d[name] == default:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in with_legacy_rules(data).items() if k in known})

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


LATER_FIELDS = {"precision": "fp32", "compile": False}   # omitted from to_dict at these defaults


def with_legacy_rules(data: dict) -> dict:
    """A config as written before the recipes' rules were recorded, with the rules it ran (each recipe's
    ``legacy_params``: MDGF's beta came from the ``auto-70`` rule, SR-STE's fine-tune used plain STE)."""
    from nmsim.recipes import RECIPES

    params = data.get("recipe_params")
    cls = RECIPES.get(str(data.get("recipe", "")).strip().lower())
    if not isinstance(params, dict) or cls is None:
        return data
    legacy = cls.legacy_params(params)
    return data if legacy is params else {**data, "recipe_params": legacy}


# name -> (flag, low, high, low inclusive, high inclusive, integer): every trainer argument's physical range
ARGUMENT_RANGES = {
    "epochs": ("--epochs", 1, 100_000, True, True, True),
    "batch": ("--batch", 1, 2**20, True, True, True),
    "seed": ("--seed", 0, 2**32 - 1, True, True, True),
    "threads": ("--threads", 1, 1024, True, True, True),
    "eval_every": ("--eval-every", 0, 2**40, True, True, True),
    "checkpoint_every": ("--checkpoint-every", 0, 2**40, True, True, True),
    "lr": ("--lr", 0.0, 10.0, False, True, False),
    "weight_decay": ("--weight-decay", 0.0, 10.0, True, True, False),
    "warmup_frac": ("--warmup-frac", 0.0, 1.0, True, False, False),
    "min_lr_frac": ("min_lr_frac", 0.0, 1.0, True, True, False),
    "dense_frac": ("--dense-frac", 0.0, 1.0, True, False, False),
    "finetune_frac": ("--finetune-frac", 0.0, 1.0, True, False, False),
}


def check_arguments(c: RunConfig, given_only: bool = False) -> None:
    """Every numeric trainer argument is a finite number of the right kind inside its range (UserError);
    ``given_only``: those not None (before the task's defaults are filled in)."""
    from nmsim.io import short_repr

    for name, (flag, low, high, low_in, high_in, integer) in ARGUMENT_RANGES.items():
        value = getattr(c, name)
        if given_only and value is None:
            continue
        kind = "an integer" if integer else "a finite number"
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
            raise UserError(f"must be {kind}, got {short_repr(value)}", flag)
        if not ((low <= value if low_in else low < value) and (value <= high if high_in else value < high)):
            fmt = "{:,}" if integer else "{:g}"
            lo = ("[" if low_in else "(") + fmt.format(low)
            hi = fmt.format(high) + ("]" if high_in else ")")
            raise UserError(f"must be in {lo}, {hi}, got {fmt.format(value)}", flag)
    if c.dense_frac + c.finetune_frac >= 1:
        raise UserError(f"dense ({c.dense_frac:g}) + fine-tune ({c.finetune_frac:g}) fractions leave no sparse "
                        "training", "--finetune-frac")
    if c.precision not in ("fp32", "tf32", "bf16"):
        raise UserError(f"must be fp32, tf32 or bf16, got {short_repr(c.precision)}", "--precision")
    if not isinstance(c.compile, bool):
        raise UserError(f"must be true or false, got {short_repr(c.compile)}", "--compile")
    if c.direction not in ("row", "col"):
        raise UserError(f"must be row or col, got {short_repr(c.direction)}", "--direction")
    if not isinstance(c.recipe_params, dict):
        raise UserError(f"must be a mapping, got {short_repr(c.recipe_params)}", "recipe_params")
