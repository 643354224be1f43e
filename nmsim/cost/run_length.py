"""A training run's length in the units people state it: epochs of a dataset, steps, samples or tokens.

:func:`run_length` turns one of

* ``epochs`` with ``dataset_size`` (samples per epoch; steps per epoch = ceil(dataset_size / batch)) or
  ``steps_per_epoch`` (which then needs an explicit batch: 313 steps per epoch means batch 4096 on ImageNet-1k's
  1,281,167 images, not the workload's default batch),
* ``steps``,
* ``samples`` (images or sequences seen; steps = ceil(samples / batch)),
* ``tokens`` (steps = ceil(tokens / (batch * tokens per sample)); for image models the tokens are patches + class
  token)

into a :class:`RunLength`. Giving two lengths, or steps per epoch that disagree with the dataset size and batch, is
a :class:`~nmsim.errors.UserError` naming the option.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from nmsim.errors import UserError


@dataclass(frozen=True)
class RunLength:
    steps: int                # total optimizer steps
    steps_per_epoch: int      # recipe switch granularity (1 when the run is given in steps, samples or tokens)
    epochs: float             # steps / steps_per_epoch
    batch: int                # samples per step
    tokens_per_sample: int    # sequence length (image models: patches + class token)
    dataset_size: int | None = None

    @property
    def samples(self) -> int:
        return self.steps * self.batch

    @property
    def tokens(self) -> int:
        return self.samples * self.tokens_per_sample

    def describe(self) -> str:
        """E.g. ``350 epochs x 313 steps (1,281,167/epoch) = 109,550 steps; 448.7M samples, 88.4G tokens``."""
        if self.steps_per_epoch > 1 or self.dataset_size:
            size = f" ({self.dataset_size:,}/epoch)" if self.dataset_size else ""
            head = f"{self.epochs:g} epochs x {self.steps_per_epoch:,} steps{size} = "
        else:
            head = ""
        return f"{head}{self.steps:,} steps; {_si(self.samples)} samples, {_si(self.tokens)} tokens"


def _si(v: float) -> str:
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= scale:
            return f"{v / scale:.4g}{prefix}"
    return f"{v:g}"


def _positive(value, where: str, integer: bool = True):
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"expected a number, got {value!r}", where) from None
    if not math.isfinite(number) or number <= 0:
        shown = f"{value:g}" if isinstance(value, float) else value
        raise UserError(f"must be a positive {'integer' if integer else 'number'}, got {shown}", where)
    if integer and number != int(number):
        raise UserError(f"must be a whole number, got {value}", where)
    return int(number) if integer else number


def run_length(*, batch: int, tokens_per_sample: int, epochs=None, steps_per_epoch=None, dataset_size=None,
               steps=None, samples=None, tokens=None, batch_given: bool = True) -> RunLength:
    """Resolve the run length; ``batch_given`` says whether the user chose ``batch`` (else the workload's)."""
    batch = _positive(batch, "--batch")
    epochs = _positive(epochs, "--epochs", integer=False)
    steps_per_epoch = _positive(steps_per_epoch, "--steps-per-epoch")
    dataset_size = _positive(dataset_size, "--dataset-size")
    steps, samples, tokens = (_positive(steps, "--steps"), _positive(samples, "--samples"),
                              _positive(tokens, "--tokens", integer=False))
    given = _given_once(epochs=epochs, steps=steps, samples=samples, tokens=tokens)
    if epochs is None and (steps_per_epoch or dataset_size):
        opt = "--steps-per-epoch" if steps_per_epoch else "--dataset-size"
        raise UserError(f"{opt} goes with --epochs, not {given}", opt)
    if epochs is not None:
        spe = _steps_per_epoch(batch, steps_per_epoch, dataset_size, batch_given)
        total = int(round(epochs * spe))
        if total < 1:
            raise UserError(f"{epochs:g} epochs is less than one step", "--epochs")
        return RunLength(total, spe, total / spe, batch, tokens_per_sample, dataset_size)
    if steps is None:
        per_step = batch * (tokens_per_sample if tokens is not None else 1)
        steps = math.ceil((tokens if tokens is not None else samples) / per_step)
    return RunLength(steps, 1, float(steps), batch, tokens_per_sample)


def _given_once(**lengths) -> str:
    """The option of the one run length given; UserError when none or several are."""
    given = [f"--{name}" for name, v in lengths.items() if v is not None]
    if len(given) != 1:
        what = "got " + " and ".join(given) if given else "got none"
        raise UserError(f"give the run length once: --epochs, --steps, --samples or --tokens ({what})",
                        given[1] if len(given) > 1 else "--epochs")
    return given[0]


def _steps_per_epoch(batch: int, steps_per_epoch: int | None, dataset_size: int | None, batch_given: bool) -> int:
    """Steps per epoch from the dataset size (which must agree with a given count) or as given (1 by default)."""
    if dataset_size is not None:
        implied = math.ceil(dataset_size / batch)
        if steps_per_epoch is not None and steps_per_epoch != implied:
            raise UserError(f"{steps_per_epoch:,} steps per epoch disagree with {dataset_size:,} samples at batch "
                            f"{batch:,} ({implied:,} steps); give one of them", "--steps-per-epoch")
        return implied
    if steps_per_epoch is not None and steps_per_epoch > 1 and not batch_given:
        raise UserError(f"steps per epoch depend on the batch: give --batch (the workload's is {batch:,}), or "
                        "--dataset-size instead", "--steps-per-epoch")
    return steps_per_epoch or 1
