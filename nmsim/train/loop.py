"""The reference training loop: one run of (task, recipe, sparsity targets, seed) into one run folder.

Run folder layout::

    config.json     the resolved RunConfig (a run folder belongs to exactly one config)
    metrics.jsonl   one row per evaluation (see :func:`train_run`)
    checkpoint.pt   latest atomic checkpoint (model, AdamW, RNG states, step, running sums)
    done.json       written last: final metrics and wall time; a folder with it is finished

Determinism: the model is initialised from ``seed``; the data order of epoch ``e`` is a function of
(seed, e) only (:meth:`nmsim.train.tasks.Task.order`); the LR is a function of the step. A resumed run
therefore replays exactly the steps an uninterrupted run would have taken, and its metrics are identical
(same device, same thread count). The AdamW optimizer uses its default single-tensor (``foreach=False``)
path so numerics do not depend on how parameters are grouped.

Gradient-noise diagnostics (the paper's Fig. 3), logged at every evaluation from the step just taken:
``grad_var`` is the variance *across elements* of the gradient applied to the sparsified layers' dense
weights (SR-STE term included), pooled over all those layers (population variance); ``exp_avg_sq_norm`` is
the L2 norm of AdamW's second-moment estimate ``exp_avg_sq`` of those weights, after the step. Both are also
given per selector (``grad_var_by_selector``, ``exp_avg_sq_norm_by_selector``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nmsim.errors import UserError
from nmsim.sparsity.pattern import NMPattern
from nmsim.sparsity.plan import SparsityPlan
from nmsim.train.plans import parse_sparsity, run_plan
from nmsim.train import checkpoint as ckpt
from nmsim.train import device as dev
from nmsim.train.flops import FlopCounter
from nmsim.train.layers import apply_state, check_patterns, current_patterns, nm_layers, sparsify
from nmsim.train.config import (ARGUMENT_RANGES, RunConfig, check_arguments,  # noqa: F401 (the loop's API)
                                with_legacy_rules)
from nmsim.train.tasks import load_task



def targets_of(config: RunConfig) -> dict[str, NMPattern | None]:
    return SparsityPlan.from_mapping(config.sparsity, "--sparsity").targets


def _workload(name: str):
    from nmsim.graph.workloads import load_workload
    return load_workload(name)


def check_task_fit(model, task, workload: str) -> None:
    """Run the model on one meta batch of the task: a workload of another shape (an image model on a text
    task, a wrong image size or class count) is a UserError before any run folder exists."""
    x = task.train_x[:2].to("meta")
    try:
        with torch.no_grad():
            logits = model(x)
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = textwrap.shorten(reason, 70, placeholder=" ...")
        shape = "x".join(map(str, task.train_x.shape[1:]))
        kind = "images" if task.train_x.is_floating_point() else "token sequences"
        raise UserError(f"does not fit task {task.name!r}, whose inputs are {shape} {kind} ({reason})",
                        f"--workload {workload}") from None
    classes = int(task.train_y.max()) + 1
    want = (2, classes) if task.kind == "classify" else (2, task.train_x.shape[1])
    got = tuple(logits.shape)
    if got[:len(want)] != want or len(got) != len(want) + (task.kind == "lm") or got[-1] < classes:
        expect = f"[batch, >= {classes} classes]" if task.kind == "classify" else f"[batch, tokens, >= {classes}]"
        raise UserError(f"gives outputs of shape {list(got)} on task {task.name!r}, which needs {expect}",
                        f"--workload {workload}")


def resolve(config: RunConfig) -> RunConfig:
    """Fill task defaults and the parameters the recipe records for a trainer run (MDGF's beta by its rule,
    default ``paper-fraction``, see nmsim.recipes.decay); validate recipe and task names (UserError)."""
    from nmsim.recipes import make_recipe, recipe_class

    task = load_task(config.task)
    c = dataclasses.replace(config, sparsity=parse_sparsity(config.sparsity), recipe_params=dict(config.recipe_params))
    for name in ("epochs", "batch", "lr", "weight_decay", "warmup_frac"):
        if getattr(c, name) is None:
            setattr(c, name, task.defaults[name])
    if c.workload is None:
        c.workload = task.workload
    check_arguments(c)
    total = c.epochs * task.steps_per_epoch(c.batch)
    c.recipe_params = recipe_class(c.recipe).trainer_params(c.recipe_params, targets_of(c), c.dense_frac,
                                                            c.finetune_frac, total)
    recipe = make_recipe(c.recipe, targets_of(c), c.dense_frac, c.finetune_frac, **c.recipe_params)
    c.recipe = recipe.name
    return c


def check_config(config: RunConfig) -> RunConfig:
    """Resolve ``config`` and check that every pattern its schedule uses fits the model (meta device, cheap)."""
    from nmsim.graph.builder import build_model
    from nmsim.recipes.fitting import fitting_recipe

    c = resolve(config)
    task = load_task(c.task)
    total = c.epochs * task.steps_per_epoch(c.batch)
    with torch.device("meta"):
        model = build_model(_workload(c.workload))
    check_task_fit(model, task, c.workload)
    sparsify(model, targets_of(c), c.direction)
    recipe, note = fitting_recipe(c.recipe, targets_of(c), lambda state: check_patterns(model, state.masks.items()),
                                  total, c.dense_frac, c.finetune_frac, **c.recipe_params)
    if note:  # a default fitted to the model (SDGF-geometric's k): recorded in the run's config and said once
        key = recipe.fallback[0]
        c.recipe_params[key] = recipe.params[key]
        plan = ",".join(f"{sel}={pat}" for sel, pat in c.sparsity.items())
        if (plan, note) not in _NOTES_SAID:   # once per process: a sweep checks every seed of a plan
            _NOTES_SAID.add((plan, note))
            print(f"nmsim: note: {plan}: {note}", file=sys.stderr)
    return c


_NOTES_SAID: set[tuple[str, str]] = set()


def lr_at(step: int, total: int, config: RunConfig) -> float:
    """Linear warm-up over ``warmup_frac`` of the steps, then cosine decay to ``min_lr_frac * lr``."""
    warm = int(config.warmup_frac * total)
    if step < warm:
        return config.lr * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    floor = config.min_lr_frac * config.lr
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 and "pos" not in name.split(".")[-1] else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _diagnostics(model, optimizer) -> dict:
    by_sel_g: dict[str, list] = {}
    by_sel_v: dict[str, list] = {}
    for _, layer in nm_layers(model):
        w = layer.weight
        if w.grad is not None:
            by_sel_g.setdefault(layer.selector, []).append(w.grad.detach().reshape(-1))
        st = optimizer.state.get(w, {})
        if "exp_avg_sq" in st:
            by_sel_v.setdefault(layer.selector, []).append(st["exp_avg_sq"].reshape(-1))
    out: dict = {}
    if by_sel_g:
        allg = torch.cat([g for gs in by_sel_g.values() for g in gs])
        out["grad_var"] = float(allg.var(unbiased=False))
        out["grad_var_by_selector"] = {s: float(torch.cat(gs).var(unbiased=False)) for s, gs in sorted(by_sel_g.items())}
    if by_sel_v:
        allv = torch.cat([v for vs in by_sel_v.values() for v in vs])
        out["exp_avg_sq_norm"] = float(allv.norm())
        out["exp_avg_sq_norm_by_selector"] = {s: float(torch.cat(vs).norm()) for s, vs in sorted(by_sel_v.items())}
    return out


def _read_metrics(path: Path, upto_step: int) -> list[str]:
    return [json.dumps(row, sort_keys=True) for row in ckpt.read_metrics_rows(path)
            if row["step"] <= upto_step]


def prepare_folder(out: Path, config: RunConfig, resume: bool) -> str:
    """Check a run folder against ``config``: returns "new", "resume" or "done"; UserError when incompatible.

    Nothing in the folder is changed here.
    """
    out = Path(out)
    cfg_path = out / ckpt.CONFIG
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a folder", str(out))
    if not cfg_path.exists():
        if out.exists() and any(p.name in (ckpt.CHECKPOINT, ckpt.METRICS, ckpt.DONE) for p in out.iterdir()):
            raise UserError("holds run files but no config.json; refusing to overwrite", str(out))
        if out.exists() and any(not p.name.startswith(".") for p in out.iterdir()):
            raise UserError("exists and is not a run folder (no config.json); give a new --out, nothing was changed",
                            str(out))
        return "new"
    old = with_legacy_rules(ckpt.read_config(cfg_path))
    new = config.to_dict()
    if old != json.loads(json.dumps(new)):
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != json.loads(json.dumps(new.get(k))))
        shown = ", ".join(f"{k}: {old.get(k)!r} vs {new.get(k)!r}" for k in diff[:3])
        raise UserError(f"holds a run with a different config ({shown}); use another --out", str(cfg_path))
    if (out / ckpt.DONE).exists():
        return "done"
    if not resume:
        raise UserError("holds an unfinished run of this config; pass --resume to continue it", str(out))
    return "resume"


def train_run(config: RunConfig, out: str | Path, *, resume: bool = False, device: str = "cpu",
              progress: bool | str | None = None, stop_after: int | None = None, log=None, wait: bool = False) -> dict:
    """Train one run into folder ``out``; returns the final metrics row (plus ``wall_seconds``).

    ``resume``: continue an unfinished run of the same config from its checkpoint (a finished run is never
    retrained; its final row is returned). ``stop_after``: stop after that many steps in this call
    (testing). ``progress``: None/auto (a bar on a terminal, else periodic lines on stderr), False, or a
    :mod:`nmsim.progress` mode. Metrics rows: step, epoch, train_flops (cumulative, from the cost model; null when it is
    unavailable), train_loss (mean since the previous row), loss, accuracy (test split), lr, phase,
    patterns (selector -> pattern in force), decay (D), rule, grad_var, exp_avg_sq_norm (+ per selector).

    Every argument is checked before anything is written. The run folder is locked while it trains
    (:mod:`nmsim.train.lock`): another process on the same folder gets :class:`~nmsim.train.lock.RunBusy`
    (``wait=True``: waits for it, then finds the run finished or resumes it).
    """
    from nmsim.train.lock import run_lock

    config = check_config(config)
    out = Path(out)
    status = prepare_folder(out, config, resume)
    if status == "done":       # finished: nothing to lock, nothing written
        return {**ckpt.read_done(out)["final"], "already_finished": True}
    if status == "resume":     # damaged run files are reported before the folder is touched
        ckpt.read_metrics_rows(out / ckpt.METRICS)
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise UserError(f"unknown device {device!r} (cpu or cuda)", "--device")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise UserError("CUDA is not available on this machine", "--device")
    with run_lock(out, wait=wait):
        return _train_locked(config, out, resume, device, progress, stop_after, log)


@dataclass
class _Run:
    """One run in memory: the model, its optimizer, the FLOP counter and the position in the schedule."""
    config: RunConfig
    device: str
    task: object
    recipe: object
    model: torch.nn.Module
    forward: torch.nn.Module   # the model, or its torch.compile wrapper (same parameters)
    optimizer: torch.optim.Optimizer
    flops: FlopCounter
    spe: int             # steps per epoch
    total: int           # steps of the run
    eval_every: int
    ckpt_every: int
    step: int = 0
    loss_sum: float = 0.0   # training loss since the last evaluation row
    loss_count: int = 0
    wall_before: float = 0.0   # wall seconds of earlier invocations, up to the checkpoint this one resumed from
    started: float = 0.0       # perf_counter() when this invocation started training


def _build_run(config: RunConfig, device: str) -> _Run:
    """Seed, build and sparsify the model (every pattern the schedule will use must fit), on ``device``."""
    from nmsim.graph.builder import build_model
    from nmsim.recipes import make_recipe

    task = load_task(config.task)
    spe = task.steps_per_epoch(config.batch)
    total = config.epochs * spe
    eval_every = config.eval_every or spe
    targets = targets_of(config)
    recipe = make_recipe(config.recipe, targets, config.dense_frac, config.finetune_frac, **config.recipe_params)
    model_cfg = _workload(config.workload)

    torch.manual_seed(config.seed)
    np.random.seed(config.seed % (2**32))
    random.seed(config.seed)
    model = build_model(model_cfg)
    sparsify(model, {s: p for s, p in targets.items()}, config.direction)
    for phase in recipe.phases(total):  # before any file is written
        check_patterns(model, phase.state.masks.items())
    model.to(device)
    optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr,
                                  **dev.optimizer_options(device))
    return _Run(config, device, task, recipe, model, dev.compiled(model, config.compile), optimizer,
                FlopCounter(model_cfg, targets), spe, total, eval_every, config.checkpoint_every or eval_every)


def _restore(run: _Run, out: Path) -> None:
    """Continue ``run`` from the folder's checkpoint: weights, optimizer, RNG, step, running loss and FLOPs."""
    path = out / ckpt.CHECKPOINT
    payload = ckpt.load_checkpoint(out, "cpu")   # RNG states must stay CPU tensors; load_state_dict moves the rest
    if payload["config_sha256"] != run.config.sha256():
        raise UserError("checkpoint belongs to a different config", str(path))
    try:
        run.model.load_state_dict(payload["model"])
        run.optimizer.load_state_dict(payload["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise UserError(f"checkpoint does not match the model ({str(exc).splitlines()[0][:120]})",
                        str(path)) from None
    ckpt.set_rng_state(payload["rng"])
    run.step = int(payload["step"])
    order = payload.get("data_order", {})
    if order and (order.get("seed"), order.get("steps_per_epoch")) != (run.config.seed, run.spe):
        raise UserError("checkpoint data order does not match this run", str(path))
    run.loss_sum, run.loss_count = float(payload["loss_sum"]), int(payload["loss_count"])
    run.wall_before = float(payload.get("wall_seconds") or 0.0)   # checkpoints written before it was kept: 0
    if run.flops.total is not None:
        run.flops.total = payload.get("train_flops")


def _train_step(run: _Run) -> tuple:
    """One optimizer step: (recipe state, lr, gradient diagnostics (only on an evaluation step), evaluate?)."""
    c = run.config
    epoch, index = divmod(run.step, run.spe)
    state = run.recipe.at(run.step, run.total)
    apply_state(run.model, state)
    lr = lr_at(run.step, run.total, c)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    x, y = run.task.batch(c.seed, epoch, index, c.batch, run.device)
    with dev.autocast(c.precision, run.device):
        loss = run.task.loss(run.forward(x), y)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    loss_value = float(loss.detach())
    if not math.isfinite(loss_value):
        raise UserError(f"training diverged at step {run.step} (loss {loss_value}); lower --lr", "--lr")
    run.step += 1
    run.loss_sum, run.loss_count = run.loss_sum + loss_value, run.loss_count + 1
    run.flops.add(state, c.batch)
    evaluate = run.step % run.eval_every == 0 or run.step == run.total
    grad_diag = _diagnostics(run.model, run.optimizer) if evaluate else {}
    run.optimizer.step()
    return state, lr, grad_diag, evaluate


def _evaluation_row(run: _Run, state, lr: float, grad_diag: dict) -> dict:
    """The metrics row after an evaluation on the test split; resets the running training loss."""
    diag = _diagnostics(run.model, run.optimizer)
    with dev.autocast(run.config.precision, run.device):
        result = run.task.evaluate(run.forward, run.device)
    row = {
        "step": run.step, "epoch": run.step / run.spe, "train_flops": run.flops.total,
        "train_loss": run.loss_sum / max(1, run.loss_count), "loss": result["loss"],
        "accuracy": result["accuracy"], "lr": lr, "phase": state.phase,
        "patterns": current_patterns(run.model), "decay": state.decay, "rule": state.rule,
        "grad_var": grad_diag.get("grad_var"), "grad_var_by_selector": grad_diag.get("grad_var_by_selector"),
        "exp_avg_sq_norm": diag.get("exp_avg_sq_norm"),
        "exp_avg_sq_norm_by_selector": diag.get("exp_avg_sq_norm_by_selector"),
    }
    run.loss_sum, run.loss_count = 0.0, 0
    return row


def _save_checkpoint(run: _Run, out: Path) -> None:
    c, step = run.config, run.step
    ckpt.save_checkpoint(out, {
        "step": step, "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
        "rng": ckpt.rng_state(run.device), "config_sha256": c.sha256(),
        "loss_sum": run.loss_sum, "loss_count": run.loss_count, "train_flops": run.flops.total,
        "wall_seconds": run.wall_before + time.perf_counter() - run.started,
        # the data order is a function of (seed, epoch); position = (epoch, batch index)
        "data_order": {"seed": c.seed, "epoch": step // run.spe, "index": step % run.spe,
                       "steps_per_epoch": run.spe, "batch": c.batch},
    })


def _progress_bar(run: _Run, mode):
    """A bar on a terminal (kept after the run); in logs a line per 10 % of the run and per minute."""
    from nmsim.progress import Progress

    c = run.config
    plan = run_plan(c.recipe, c.sparsity).label
    return Progress(run.total, f"train {c.task} {c.recipe} {plan} seed {c.seed}", "step", mode=mode,
                    initial=run.step)


def _train_locked(config: RunConfig, out: Path, resume: bool, device: str, progress, stop_after, log) -> dict:
    status = prepare_folder(out, config, resume)
    if status == "done":       # another process finished it while this one waited for the lock
        return {**ckpt.read_done(out)["final"], "already_finished": True}

    torch.set_num_threads(config.threads)
    flags = dev.configure(config.precision, device)   # before the model reaches the device (cuBLAS settings)
    run = _build_run(config, device)
    if status == "resume" and (out / ckpt.CHECKPOINT).exists():
        _restore(run, out)
    rows = _read_metrics(out / ckpt.METRICS, run.step)

    out.mkdir(parents=True, exist_ok=True)
    ckpt.atomic_write_json(out / ckpt.CONFIG, config.to_dict())
    ckpt.atomic_write_bytes(out / ckpt.METRICS, "".join(r + "\n" for r in rows).encode())

    bar = _progress_bar(run, progress)
    started = run.started = time.perf_counter()
    metrics_fh = open(out / ckpt.METRICS, "a")
    last_row: dict = json.loads(rows[-1]) if rows else {}
    done_steps = 0
    try:
        run.model.train()
        while run.step < run.total:
            state, lr, grad_diag, evaluate = _train_step(run)
            running_loss = run.loss_sum / max(1, run.loss_count)
            if evaluate:
                last_row = _evaluation_row(run, state, lr, grad_diag)
                metrics_fh.write(json.dumps(last_row, sort_keys=True) + "\n")
                metrics_fh.flush()
                bar.set(accuracy=last_row["accuracy"])   # (the test loss is in metrics.jsonl)
                if log:
                    log(last_row)
            bar.update(1, loss=running_loss)
            if run.step % run.ckpt_every == 0 or run.step == run.total:
                _save_checkpoint(run, out)
            done_steps += 1
            if stop_after is not None and done_steps >= stop_after and run.step < run.total:
                return {**last_row, "stopped_at": run.step}
    finally:
        metrics_fh.close()
        bar.close(ok=sys.exc_info()[0] is None)   # an interrupted run gets no closing line
    if dev.is_cuda(device):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    final = {**last_row, "wall_seconds": run.wall_before + seconds}   # every invocation's training, resumes too
    from nmsim.train.environment import environment
    ckpt.atomic_write_json(out / ckpt.DONE, {"final": final, "flops_note": run.flops.error, "device": str(device),
                                             "environment": {**environment(device), **flags},
                                             "throughput": throughput(run, done_steps, seconds)})
    return final


def throughput(run: _Run, steps: int, seconds: float) -> dict:
    """Steps, examples and tokens per second of this call's training (evaluations and checkpoints included)."""
    per_example = int(run.task.train_x[0].numel()) if run.task.kind == "lm" else 1
    rate = (lambda n: n / seconds) if seconds > 0 else (lambda n: None)
    return {"steps": steps, "seconds": seconds, "steps_per_second": rate(steps),
            "examples_per_second": rate(steps * run.config.batch),
            "tokens_per_second": rate(steps * run.config.batch * per_example) if run.task.kind == "lm" else None}


def read_metrics(out: str | Path) -> list[dict]:
    """The metrics rows of run folder ``out`` (a last line cut by a kill is dropped; damage is a UserError)."""
    return ckpt.read_metrics_rows(Path(out) / ckpt.METRICS)
