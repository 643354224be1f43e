"""Run lengths in the units people use (epochs of a dataset, steps, samples, tokens) and nmsim budget's header."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from nmsim.cli import main
from nmsim.cost.run_length import run_length
from nmsim.errors import UserError


def test_imagenet_epochs():
    length = run_length(batch=4096, tokens_per_sample=197, epochs=350, dataset_size=1_281_167)
    assert (length.steps_per_epoch, length.steps) == (313, 109_550)
    assert length.samples == 109_550 * 4096 and length.tokens == length.samples * 197
    assert length.describe() == ("350 epochs x 313 steps (1,281,167/epoch) = 109,550 steps; 448.7M samples, "
                                 "88.4G tokens")


def test_tokens_steps_samples():
    assert run_length(batch=512, tokens_per_sample=2048, tokens=1e12).steps == 953_675  # ceil(1e12 / 1,048,576)
    assert run_length(batch=8, tokens_per_sample=1, samples=100).steps == 13
    assert run_length(batch=8, tokens_per_sample=1, steps=7).steps == 7


@pytest.mark.parametrize("kw, where, text", [
    (dict(epochs=350, steps_per_epoch=313, batch_given=False), "--steps-per-epoch",
     "steps per epoch depend on the batch: give --batch (the workload's is 4,096), or --dataset-size instead"),
    (dict(epochs=350, steps_per_epoch=300, dataset_size=1_281_167), "--steps-per-epoch",
     "300 steps per epoch disagree with 1,281,167 samples at batch 4,096 (313 steps); give one of them"),
    (dict(epochs=1, tokens=1e9), "--tokens", "give the run length once: --epochs, --steps, --samples or --tokens "
     "(got --epochs and --tokens)"),
    (dict(), "--epochs", "give the run length once: --epochs, --steps, --samples or --tokens (got none)"),
    (dict(tokens=1e9, dataset_size=10), "--dataset-size", "--dataset-size goes with --epochs, not --tokens"),
    (dict(steps=2.5), "--steps", "must be a whole number, got 2.5"),
    (dict(tokens=-1), "--tokens", "must be a positive number, got -1"),
])
def test_inconsistent_lengths_are_errors(kw, where, text):
    with pytest.raises(UserError) as exc:
        run_length(batch=4096, tokens_per_sample=197, **kw)
    assert (exc.value.where, exc.value.message) == (where, text)


@given(st.integers(1, 10**7), st.integers(1, 10**5), st.integers(1, 500))
def test_epoch_steps_cover_the_dataset(size, batch, epochs):
    length = run_length(batch=batch, tokens_per_sample=1, epochs=epochs, dataset_size=size)
    assert (length.steps_per_epoch - 1) * batch < size <= length.steps_per_epoch * batch
    assert length.steps == epochs * length.steps_per_epoch


def test_budget_vit_b_imagenet_a100(capsys):
    """The README example: ViT-B/16, 350 ImageNet epochs at batch 4096 on one A100 (313 steps per epoch)."""
    args = ["budget", "vit-base-16", "--sparsity", "ff=1:16", "--recipes", "dense,sr-ste", "--epochs", "350",
            "--dataset-size", "1281167", "--batch", "4096", "--hardware", "a100"]
    assert main(args + ["--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("recipe")
    dense_step = table.loc["dense", "seconds"] / 109_550
    assert main(args[:6] + ["--steps", "1", "--batch", "4096", "--hardware", "a100", "--recipes", "dense",
                            "--format", "csv"]) == 0
    one = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("recipe")
    assert one.loc["dense", "seconds"] == pytest.approx(dense_step, rel=1e-9)
    # gpu model with per-tile K overhead (4bcab4d): 74.99 h; element-wise kernels at the A100's measured STREAM share
    assert table.loc["dense", "hours"] == pytest.approx(75.90, abs=0.01)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("# priced: vit-base-16 training step (adamw), batch 4,096 x 197 tokens, "
                                   "a100-sxm4-80gb, bf16")
    assert "75.9 h" in out and max(map(len, out.splitlines())) <= 100


def test_budget_steps_per_epoch_without_batch_is_an_error(capsys):
    assert main(["budget", "vit-base-16", "--sparsity", "ff=1:16", "--epochs", "350", "--steps-per-epoch",
                 "313"]) == 2
    assert capsys.readouterr().err.startswith("nmsim: error: --steps-per-epoch: steps per epoch depend on the batch")
