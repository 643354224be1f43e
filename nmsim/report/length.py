"""The report's training run length, in the units its workload is trained in.

Precedence: the user's options (``--epochs``/``--steps``/``--tokens`` with ``--dataset-size``,
``--steps-per-epoch``, ``--batch``), else the length the accuracy source states (``epochs``, ``steps`` or
``tokens`` columns: the accuracies belong to runs of that length), else the workload kind's default:

* image models: 350 epochs of ImageNet-1K (the paper's ViT-B/16 schedule) at batch 4,096: 313 steps per
  epoch (the last partial batch kept, as ``nmsim budget --dataset-size`` counts it), 109,550 steps;
* language models: 20 tokens per parameter, the compute-optimal ratio of Hoffmann et al. 2022 ("Training
  Compute-Optimal Large Language Models"), at the workload's batch x sequence length.

Every length goes through :func:`nmsim.cost.run_length.run_length`, the parser ``nmsim budget`` uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from nmsim.cost.run_length import RunLength, run_length
from nmsim.errors import UserError

IMAGENET_1K = 1_281_167       # ILSVRC-2012 training images (Russakovsky et al. 2015)
IMAGE_EPOCHS = 350            # the paper's ViT-B/16 ImageNet schedule
IMAGE_BATCH = 4096
TOKENS_PER_PARAM = 20         # Hoffmann et al. 2022


@dataclass(frozen=True)
class LengthOptions:
    """The report's run-length options as given (None: not given)."""
    epochs: float | None = None
    steps: int | None = None
    tokens: float | None = None
    dataset_size: int | None = None
    steps_per_epoch: int | None = None
    batch: int | None = None


@dataclass(frozen=True)
class ReportLength:
    length: RunLength
    unit: str      # "epochs", "steps" or "tokens": what the run length is stated in
    origin: str    # where it comes from, in words
    image: bool    # samples are images (else sequences of tokens)

    @property
    def amount(self) -> float:
        """The run length in ``unit``."""
        return {"epochs": self.length.epochs, "steps": self.length.steps, "tokens": self.length.tokens}[self.unit]

    def in_unit(self, steps: float) -> float:
        """``steps`` optimizer steps expressed in ``unit``."""
        n = self.length
        return steps * {"epochs": 1 / n.steps_per_epoch, "steps": 1, "tokens": n.batch * n.tokens_per_sample}[self.unit]

    def describe(self) -> str:
        """E.g. ``2.49B tokens = 303,767 steps at batch 8 x 1,024 tokens``, ``350 epochs x 313 steps = 109,550
        steps at batch 4,096 images``, ``100,000 steps at batch 128 x 512 tokens = 6.55B tokens``."""
        n = self.length
        at = f"at batch {n.batch:,} images" if self.image else f"at batch {n.batch:,} x {n.tokens_per_sample:,} tokens"
        if self.unit == "epochs":
            return f"{n.epochs:g} epochs x {n.steps_per_epoch:,} steps = {n.steps:,} steps {at}"
        if self.unit == "tokens":
            return f"{human(n.tokens)} tokens = {n.steps:,} steps {at}"
        return f"{n.steps:,} steps {at}" + ("" if self.image else f" = {human(n.tokens)} tokens")


def human(value: float) -> str:
    """``2.49B``, ``300B``, ``1.2T``: token counts as people write them."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:g}"


def _stated(acc: pd.DataFrame | None) -> dict:
    """The run length the accuracy source states (first non-empty of epochs, steps, tokens) and its batch."""
    out = {}
    if acc is None:
        return out
    for col in ("epochs", "steps", "tokens"):
        if col in acc:
            values = pd.to_numeric(acc[col], errors="coerce").dropna().unique()
            if len(values) > 1:
                raise UserError(f"the rows state different run lengths ({col} {', '.join(f'{v:g}' for v in values)});"
                                " give one run length per accuracy file", f"accuracy {col}")
            if len(values):
                out[col] = float(values[0])
                break
    if "batch" in acc:
        batch = pd.to_numeric(acc["batch"], errors="coerce").dropna()
        if len(batch):
            out["batch"] = int(batch.iloc[0])
    return out


def report_length(cfg, acc: pd.DataFrame | None, opts: LengthOptions, source: str = "the accuracy source",
                  params: int | None = None) -> ReportLength:
    """The run length the report prices (see the module docstring). ``params``: the workload's parameter count
    (for the language-model default; counted when not given)."""
    given = {k: v for k, v in (("epochs", opts.epochs), ("steps", opts.steps), ("tokens", opts.tokens))
             if v is not None}
    image = bool(cfg.is_image)
    tps = int(cfg.tokens)
    if len(given) > 1:
        run_length(batch=int(cfg.batch), tokens_per_sample=tps, **given)   # raises: give the run length once
    lengths, origin = (given, "as given") if given else _unstated_length(cfg, acc, source, params)
    unit = next(iter(lengths))
    batch, batch_given = _batch(opts, acc, bool(given), unit)
    spe, size = opts.steps_per_epoch, opts.dataset_size
    if spe is not None and spe > 0 and opts.batch is None and unit == "epochs":
        raise UserError("steps per epoch depend on the batch: give --batch too, or --dataset-size instead",
                        "--steps-per-epoch")
    if unit == "epochs" and spe is None and size is None:
        batch, size, note = _imagenet_epochs(image, batch)
        batch_given, origin = True, origin + note
    if batch is None:
        batch = IMAGE_BATCH if image else int(cfg.batch)
    length = run_length(batch=batch, tokens_per_sample=tps, steps_per_epoch=spe, dataset_size=size,
                        batch_given=batch_given or unit != "epochs", **lengths)
    return ReportLength(length, unit, origin, image)


def _unstated_length(cfg, acc: pd.DataFrame | None, source: str, params: int | None) -> tuple[dict, str]:
    """(lengths, origin) when the user gave none: the accuracy source's, else the workload kind's default."""
    lengths = {k: v for k, v in _stated(acc).items() if k != "batch"}
    if lengths:
        return lengths, f"the run length of {source}"
    if cfg.is_image:
        return {"epochs": IMAGE_EPOCHS}, (f"default for image models: {IMAGE_EPOCHS} epochs, the paper's ViT-B/16 "
                                          "schedule")
    if params is None:
        from nmsim.graph import parameter_counts
        params = int(parameter_counts(cfg)["total"])
    return ({"tokens": float(TOKENS_PER_PARAM * params)},
            f"default for language models: {TOKENS_PER_PARAM} tokens per parameter x {human(params)} parameters, "
            "the compute-optimal ratio of Hoffmann et al. 2022")


def _batch(opts: LengthOptions, acc: pd.DataFrame | None, given: bool, unit: str) -> tuple:
    """(batch or None, whether the user gave it); the accuracy source's batch for its own run length."""
    batch, batch_given = opts.batch, opts.batch is not None
    if batch_given and not (math.isfinite(batch) and batch >= 1 and batch == int(batch)):
        raise UserError(f"must be a positive integer, got {batch:g}", "--batch")
    if batch is None and not given and unit != "epochs":
        batch = _stated(acc).get("batch")
    return batch, batch_given


def _imagenet_epochs(image: bool, batch) -> tuple[int, int, str]:
    """(batch, dataset size, origin note) of an epoch of ImageNet-1K: an image model's epoch by default."""
    if not image:
        raise UserError("an epoch of a text dataset has no default size: give --dataset-size (sequences per "
                        "epoch) or --steps-per-epoch with --batch, or the run in --tokens or --steps",
                        "--dataset-size")
    batch = IMAGE_BATCH if batch is None else int(batch)
    return (batch, IMAGENET_1K,   # steps per epoch = ceil(images / batch), as nmsim budget counts them
            f"; an epoch is ImageNet-1K's {IMAGENET_1K:,} images")
