"""Tiny offline tasks for the reference trainer (no downloads; fixed-seed splits).

* ``digits``: scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes) as 1-channel 8x8 images;
  the ViT uses 2x2 patches (16 tokens + CLS). Stratified 80/20 split with seed 0 (1,437 train / 360 test).
* ``digits-hard``: the same digits, made harder procedurally: each image is placed at a random offset on a
  12x12 canvas (so digits no longer align with the 3x3 patch grid), contrast-scaled by U(0.6, 1.2), 15 % of
  pixels dropped to 0, and Gaussian noise (sigma 0.15) added. The training split holds 3 noisy copies of
  every training digit, the test split one copy of every test digit (same split as ``digits``); the noise is
  drawn once with seed 0, so the data set itself is fixed.
* ``stdlib-chars``: character (byte) level language modelling on Python source: the first 600,000 bytes of
  CPython 3.11.7's standard-library ``*.py`` files (sorted by name, newline-separated), shipped in
  ``nmsim/data/corpora`` so that every Python version reads the same bytes (SHA-256 checked on load);
  split into 2,048-byte blocks, 10 % of blocks (seed 0) are the validation split. Examples are
  non-overlapping windows of ``seq_len + 1`` bytes; the metrics are next-byte loss (nats) and accuracy.
* ``pysrc-chars``: the same construction at 10x the scale, for the scaled CPU protocol: the first 6,000,000 bytes
  of every ``*.py`` file under the running interpreter's standard-library folder (recursively, sorted by relative
  path, folders ``test``/``tests``/``idle_test``/``site-packages`` skipped), read from the installed CPython
  3.11.7 (nothing downloads) and pinned by SHA-256: another Python gives a UserError, never other bytes. 1,024
  validation windows (65,536 bytes); one epoch at batch 64 is 1,277 steps, 5.23 M training tokens.

A task's training order is a pure function of (seed, epoch): :meth:`Task.order`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nmsim.errors import UserError

SPLIT_SEED = 0


@dataclass
class Task:
    name: str
    kind: str                 # "classify" | "lm"
    workload: str             # trainer-*.yaml the task trains by default
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    defaults: dict = field(default_factory=dict)  # epochs, batch, lr, weight_decay, warmup_frac
    info: dict = field(default_factory=dict)

    @property
    def train_size(self) -> int:
        return int(self.train_x.shape[0])

    def steps_per_epoch(self, batch: int) -> int:
        steps = self.train_size // batch
        if steps < 1:
            raise UserError(f"batch {batch} is larger than the {self.train_size} training examples", "--batch")
        return steps

    def order(self, seed: int, epoch: int) -> np.ndarray:
        """Permutation of the training examples for ``epoch`` (a function of (seed, epoch) only)."""
        return np.random.default_rng([int(seed), int(epoch), 0x5EED]).permutation(self.train_size)

    def batch(self, seed: int, epoch: int, index: int, batch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.from_numpy(self.order(seed, epoch)[index * batch:(index + 1) * batch])
        return self.train_x[idx].to(device), self.train_y[idx].to(device)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.kind == "lm":
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return F.cross_entropy(logits, y)

    @torch.no_grad()
    def evaluate(self, model, device, batch: int = 512) -> dict:
        """Mean loss and accuracy (top-1; next-byte for ``lm``) on the test / validation split."""
        was_training = model.training
        model.eval()
        total_loss, correct, count = 0.0, 0, 0
        for start in range(0, self.test_x.shape[0], batch):
            x = self.test_x[start:start + batch].to(device)
            y = self.test_y[start:start + batch].to(device)
            logits = model(x)
            if self.kind == "lm":
                logits, y = logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
            total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(-1) == y).sum())
            count += int(y.numel())
        model.train(was_training)
        return {"loss": total_loss / count, "accuracy": correct / count}


def _digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.2, random_state=SPLIT_SEED, stratify=y)


def _digits() -> Task:
    xtr, xte, ytr, yte = _digits_split()
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return Task("digits", "classify", "trainer-vit-digits", t(xtr)[:, None], t(ytr), t(xte)[:, None], t(yte),
                defaults=dict(epochs=30, batch=64, lr=2e-3, weight_decay=0.05, warmup_frac=0.1),
                info={"source": "sklearn.datasets.load_digits", "split": "stratified 80/20, seed 0"})


def _corrupt(x: np.ndarray, rng: np.random.Generator, canvas: int = 12) -> np.ndarray:
    n, size = x.shape[0], x.shape[-1]
    out = np.zeros((n, canvas, canvas), np.float32)
    offs = rng.integers(0, canvas - size + 1, size=(n, 2))
    scale = rng.uniform(0.6, 1.2, size=(n, 1, 1)).astype(np.float32)
    for i in range(n):
        r, c = offs[i]
        out[i, r:r + size, c:c + size] = x[i]
    out *= scale
    out[rng.random(out.shape) < 0.15] = 0.0
    out += rng.normal(0.0, 0.15, out.shape).astype(np.float32)
    return out


def _digits_hard() -> Task:
    xtr, xte, ytr, yte = _digits_split()
    rng = np.random.default_rng(SPLIT_SEED)
    copies = 3
    xtr_h = _corrupt(np.concatenate([xtr] * copies), rng)
    ytr_h = np.concatenate([ytr] * copies)
    xte_h = _corrupt(xte, rng)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return Task("digits-hard", "classify", "trainer-vit-digits-hard", t(xtr_h)[:, None], t(ytr_h),
                t(xte_h)[:, None], t(yte),
                defaults=dict(epochs=20, batch=64, lr=2e-3, weight_decay=0.05, warmup_frac=0.1),
                info={"source": "sklearn digits, shifted on a 12x12 canvas + dropout + noise (seed 0)"})


STDLIB_BYTES = 600_000
STDLIB_BLOCK = 2048


CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpora"
CORPUS_FILE = "python-3.11-stdlib.txt.gz"
CORPUS_SHA256 = "ffaab70d09426d13371a9245376d6a337b6c7e009aef772228b98e24caf9b0a5"


def stdlib_corpus(max_bytes: int = STDLIB_BYTES) -> bytes:
    """The shipped Python-source corpus (first ``max_bytes`` bytes); UserError when it is missing or altered."""
    import gzip

    path = CORPUS_DIR / CORPUS_FILE
    try:
        corpus = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"cannot read the bundled corpus: {exc}", str(path)) from None
    if hashlib.sha256(corpus).hexdigest() != CORPUS_SHA256:
        raise UserError("the bundled corpus does not match its SHA-256 (altered file?)", str(path))
    return corpus[:max_bytes]


PYSRC_BYTES = 6_000_000
PYSRC_SHA256 = "bef5374304df0dbee2df3c5a4d414f9be296c110eca18ffd0c375a749d790537"
PYSRC_SKIP = frozenset({"test", "tests", "idle_test", "site-packages", "__pycache__"})


def pysrc_corpus(max_bytes: int = PYSRC_BYTES) -> bytes:
    """The installed CPython standard library's ``*.py`` sources, newline-separated, first ``max_bytes`` bytes;
    UserError unless they are the pinned bytes (CPython 3.11.7)."""
    import os
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for folder, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in PYSRC_SKIP]
        files += [Path(folder, n).relative_to(root).as_posix() for n in names if n.endswith(".py")]
    buf = bytearray()
    for rel in sorted(files):
        if len(buf) >= max_bytes:
            break
        buf += (root / rel).read_bytes() + b"\n"
    corpus = bytes(buf[:max_bytes])
    if max_bytes == PYSRC_BYTES and hashlib.sha256(corpus).hexdigest() != PYSRC_SHA256:
        raise UserError("the installed standard library is not CPython 3.11.7's (SHA-256 of its sources differs); "
                        "task pysrc-chars needs that interpreter", f"--task pysrc-chars ({root})")
    return corpus


def _pysrc_chars() -> Task:
    task = _stdlib_chars(corpus=pysrc_corpus(), val_windows=1024)
    task.name, task.workload = "pysrc-chars", "trainer-gpt2-chars-128"
    task.defaults = dict(epochs=1, batch=64, lr=2e-3, weight_decay=0.05, warmup_frac=0.05)
    task.info["source"] = (f"CPython 3.11.7 standard-library *.py (recursive, tests skipped), first {PYSRC_BYTES} "
                           "bytes, read from the installed interpreter")
    return task


def _stdlib_chars(seq_len: int = 64, corpus: bytes | None = None, val_windows: int = 256) -> Task:
    corpus = stdlib_corpus() if corpus is None else corpus
    arr = np.frombuffer(corpus, dtype=np.uint8)
    n_blocks = len(arr) // STDLIB_BLOCK
    blocks = arr[:n_blocks * STDLIB_BLOCK].reshape(n_blocks, STDLIB_BLOCK)
    perm = np.random.default_rng(SPLIT_SEED).permutation(n_blocks)
    n_val = max(1, n_blocks // 10)
    val_ids, train_ids = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    win = seq_len + 1
    per_block = STDLIB_BLOCK // win

    def windows(ids):
        w = blocks[ids][:, :per_block * win].reshape(-1, win).astype(np.int64)
        w = torch.from_numpy(w)
        return w[:, :-1].contiguous(), w[:, 1:].contiguous()

    xtr, ytr = windows(train_ids)
    xte, yte = windows(val_ids)
    xte, yte = xte[:val_windows], yte[:val_windows]  # a fixed validation subset keeps evaluation cheap
    return Task("stdlib-chars", "lm", "trainer-gpt2-chars", xtr, ytr, xte, yte,
                defaults=dict(epochs=2, batch=32, lr=3e-3, weight_decay=0.05, warmup_frac=0.05),
                info={"source": f"CPython 3.11.7 standard-library *.py, first {len(corpus)} bytes (nmsim/data/corpora)",
                      "corpus_sha256": hashlib.sha256(corpus).hexdigest(), "seq_len": seq_len})


TASKS = {"digits": _digits, "digits-hard": _digits_hard, "stdlib-chars": _stdlib_chars, "pysrc-chars": _pysrc_chars}
_CACHE: dict[str, Task] = {}


def load_task(name: str) -> Task:
    """Build (and cache in-process) the named task; :class:`UserError` for an unknown name."""
    if name not in TASKS:
        raise UserError(f"unknown task {name!r} (one of {', '.join(TASKS)})", "--task")
    if name not in _CACHE:
        _CACHE[name] = TASKS[name]()
    return _CACHE[name]
