"""Training runs: ``budget`` (their cost), ``schedule`` (a recipe's phases), ``train`` and ``sweep`` (the reference
trainer) and the ``evidence`` protocol. Each takes the command's parsed options and returns its result before
rendering (``echo`` receives the lines the command prints as it goes)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nmsim.errors import UserError

#: budget's options, passed on to :func:`nmsim.cost.budget.budget_table`
BUDGET_OPTIONS = ("recipes", "patterns", "epochs", "dataset_size", "steps_per_epoch", "steps", "samples", "tokens",
                  "batch", "dense_frac", "finetune_frac", "beta", "k", "hardware", "dtype", "weight_dtype", "kernel",
                  "unfused", "transposable", "optimizer", "budget", "paper_convention", "seq", "price_per_hour",
                  "recompute", "precision")


def _nothing(available, keys=()) -> None:
    return None


def budget_run(args, columns_known: Callable | None = None):
    """``nmsim budget``: :class:`nmsim.cost.budget.BudgetRun` (``table``, ``skipped``, ``workload``, ``model``,
    ``length``)."""
    from nmsim.recipes import parse_recipe_list
    from nmsim.sparsity.plan import SparsityPlan

    parse_recipe_list(args.recipes)   # the option texts first: a typo fails before pandas is imported
    SparsityPlan.parse(args.sparsity)
    from nmsim.graph import load_workload
    load_workload(args.workload)   # and workload, hardware and DEVICE=USD typos
    from nmsim.hardware import load
    priced = [load(args.hardware).name] if args.hardware else []
    from nmsim.hardware.prices import parse_overrides
    parse_overrides(args.price_per_hour, priced)
    from nmsim.bands import with_band_columns
    from nmsim.columns import budget_columns
    table = budget_columns(bool(args.hardware))
    (columns_known or _nothing)(with_band_columns(table) if args.hardware else table)   # before pandas
    options = {name: getattr(args, name) for name in BUDGET_OPTIONS}
    from nmsim.cost.budget_options import check_budget
    check_budget(args.workload, args.sparsity, **{k: v for k, v in options.items() if k not in _PRICING_ONLY})
    from nmsim.cost.budget import budget_table   # pandas: after every option is checked
    return budget_table(args.workload, args.sparsity, **options)


#: budget's options that only the pricing reads (nothing to check before it)
_PRICING_ONLY = ("unfused", "paper_convention", "recompute", "precision")


def parse_boundaries(text: str | None) -> list | None:
    """``"0:ff=4:8;0.5:ff=2:8,qk=1:4"`` -> [(0, {...}), (0.5, {...})]: a position with a '.' is a fraction of the
    sparse part, else a step (epoch with epoch granularity) offset from its start."""
    from nmsim.sparsity.plan import SparsityPlan

    if not text:
        return None
    out = []
    for entry in text.split(";"):
        pos, sep, rules = entry.strip().partition(":")
        try:
            value = float(pos) if "." in pos else int(pos)
        except ValueError:
            raise UserError(f"expected POSITION:selector=N:M[,...] entries separated by ';', got {entry!r}",
                            "--boundaries") from None
        if not sep:
            raise UserError(f"expected POSITION:selector=N:M[,...], got {entry!r}", "--boundaries")
        out.append((value, SparsityPlan.parse(rules, "--boundaries").targets))
    return out


@dataclass
class Schedule:
    """``nmsim schedule``: the recipe's phases (``table``: one row per phase), over ``steps`` steps."""
    table: Any
    recipe: Any
    steps: int


def schedule_table(args, columns_known: Callable | None = None) -> Schedule:
    from nmsim.recipes import make_recipe
    from nmsim.sparsity.plan import SparsityPlan

    if args.steps is not None and args.epochs is not None:
        raise UserError("give either --steps or --epochs, not both", "--epochs")
    if args.steps is None and args.epochs is None:
        raise UserError("give the run length with --steps N or --epochs E [--steps-per-epoch S]", "--steps")
    for where, value in (("--epochs", args.epochs), ("--steps-per-epoch", args.steps_per_epoch)):
        if value is not None and value <= 0:
            raise UserError(f"must be a positive integer, got {value}", where)
    spe = args.steps_per_epoch or (1 if args.epochs is not None else None)
    total = args.steps if args.steps is not None else args.epochs * spe
    granularity = args.granularity or ("epoch" if args.epochs is not None else "step")
    if granularity == "epoch" and not spe:
        raise UserError("epoch granularity needs --steps-per-epoch", "--granularity")
    from nmsim.recipes import given_params
    params = given_params(args)
    if args.boundaries:
        params["boundaries"] = parse_boundaries(args.boundaries)
    recipe = make_recipe(args.recipe, SparsityPlan.parse(args.sparsity), args.dense_frac, args.finetune_frac,
                         steps_per_epoch=spe if granularity == "epoch" else None, **params)
    from nmsim.recipes.timeline import timeline_rows
    rows = timeline_rows(recipe, total, spe)
    (columns_known or _nothing)(list(dict.fromkeys(k for row in rows for k in row)))   # a typo, before pandas
    import pandas as pd

    return Schedule(pd.DataFrame(rows), recipe, total)


def _value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _recipe_params(args) -> dict:
    from nmsim.recipes import given_params

    params = given_params(args)
    for item in args.param or []:
        if "=" not in item:
            raise UserError(f"expected key=value, got {item!r}", "--param")
        key, value = item.split("=", 1)
        params[key.strip().replace("-", "_")] = _value(value.strip())
    return params


def _common_config(args) -> dict:
    return dict(task=args.task, epochs=args.epochs, batch=args.batch, lr=args.lr, weight_decay=args.weight_decay,
                warmup_frac=args.warmup_frac, dense_frac=args.dense_frac, finetune_frac=args.finetune_frac,
                recipe_params=_recipe_params(args), direction=args.direction, workload=args.workload,
                eval_every=args.eval_every, checkpoint_every=args.checkpoint_every, threads=args.threads)


def _check_task(task: str) -> None:
    """A mistyped ``--task`` fails before torch is imported (the same message as ``load_task``)."""
    from nmsim.train import TASK_NAMES

    if task not in TASK_NAMES:
        raise UserError(f"unknown task {task!r} (one of {', '.join(TASK_NAMES)})", "--task")


def _check_numbers(**config):
    """The numbers given, against their ranges, before torch is imported (:mod:`nmsim.train.config`)."""
    from nmsim.train.config import RunConfig, check_arguments

    cfg = RunConfig(**config)
    check_arguments(cfg, given_only=True)
    return cfg


@dataclass
class TrainedRun:
    """``nmsim train``: the run folder and its final metrics row."""
    folder: Path
    final: dict


def train_one(args) -> TrainedRun:
    from nmsim.recipes import RECIPE_NAMES
    from nmsim.train.plans import parse_sparsity

    if args.recipe.strip().lower() not in RECIPE_NAMES:   # recipe and plan before torch is imported
        raise UserError(f"unknown recipe {args.recipe.strip()!r} (valid: {', '.join(RECIPE_NAMES)})", "--recipe")
    sparsity = parse_sparsity(args.sparsity)
    _check_task(args.task)
    cfg = _check_numbers(recipe=args.recipe, sparsity=sparsity, seed=args.seed, **_common_config(args))
    from nmsim.train.loop import check_config, train_run
    from nmsim.train.sweep import run_folder

    resolved = check_config(cfg)
    out = args.out or run_folder("runs", resolved)
    final = train_run(cfg, out, resume=args.resume, device=args.device,
                      progress=None if not args.no_progress else False)
    return TrainedRun(Path(out), final)


def check_sweep(args, columns_known: Callable | None = None) -> None:
    """The sweep's options, before torch is imported and before any training (``columns_known``: with the
    summary's columns)."""
    from nmsim.recipes import parse_recipe_list
    from nmsim.sparsity.lists import parse_pattern_list

    parse_recipe_list(args.recipes)
    parse_pattern_list(args.patterns)
    _check_task(args.task)
    if columns_known and getattr(args, "columns", None):   # the summary's columns import pandas and torch
        from nmsim.train.sweep import SUMMARY_COLUMNS
        columns_known(list(SUMMARY_COLUMNS))
    _check_numbers(**_common_config(args))
    if not 1 <= args.seeds <= 1000:
        raise UserError(f"must be from 1 to 1000, got {args.seeds}", "--seeds")
    if not 1 <= args.workers <= 1024:
        raise UserError(f"must be from 1 to 1024, got {args.workers}", "--workers")
    if args.executor not in ("local", "ray"):
        raise UserError(f"unknown executor {args.executor!r} (local or ray)", "--executor")


def sweep_runs(args, echo=print, columns_known: Callable | None = None):
    """``nmsim sweep``: the per-run table (``attrs``: ``summary``, ``failures``), also in ``<out>/sweep_runs.csv``."""
    check_sweep(args, columns_known)
    from nmsim.recipes import parse_recipe_list
    from nmsim.train.sweep import parse_patterns, plan, run_sweep
    common = _common_config(args)
    task = common.pop("task")
    configs = plan(task, parse_recipe_list(args.recipes), parse_patterns(args.patterns, args.selector.lower()),
                   list(range(args.seeds)), **common)
    return run_sweep(configs, args.out, executor=args.executor, workers=args.workers, device=args.device,
                     skip_incompatible=args.skip_incompatible, echo=echo)


def evidence_run(args, command: str = "nmsim evidence run", echo=print) -> Path:
    """``nmsim evidence run``: the protocol run (or resumed) into ``args.out``, then summarized; its folder."""
    from nmsim.evidence.protocol import run_protocol

    return run_protocol(evidence_protocol(args), args.out, workers=args.workers, device=args.device,
                        executor=args.executor, command=command, echo=echo)


def evidence_protocol(args):
    """The protocol ``evidence run`` / ``price`` ask for: the device's defaults (the GPU protocol on CUDA) under
    the options given."""
    from nmsim.evidence.protocol import Protocol
    from nmsim.recipes import parse_recipe_list

    patterns = tuple(x.strip() for x in args.patterns.split(",") if x.strip()) if args.patterns else None
    return Protocol.preset(args.device, task=args.task, recipes=tuple(parse_recipe_list(args.recipes)),
                           patterns=patterns, seeds=args.seeds, epochs=args.epochs, batch=args.batch, lr=args.lr,
                           dense_frac=args.dense_frac, finetune_frac=args.finetune_frac, eval_every=args.eval_every,
                           metric=args.metric, level=args.level, beta_rule=args.beta_rule,
                           srste_finetune_rule=args.finetune_rule, workload=args.workload, precision=args.precision,
                           compile=args.compile)


def evidence_price(args):
    """``nmsim evidence price``: (per recipe x pattern table, header text) of the protocol on ``args.hardware``."""
    from nmsim.evidence.pricing import price_protocol

    return price_protocol(evidence_protocol(args), args.hardware)


def evidence_check(args, echo=print) -> dict:
    """``nmsim evidence check``: the protocol's runs retrained under other ATen CPU capabilities, compared
    (:func:`nmsim.evidence.regen.compare`)."""
    from nmsim.evidence.protocol import load_protocol
    from nmsim.evidence.regen import compare, parse_capabilities, parse_seeds

    caps = parse_capabilities(args.capabilities)
    proto, _ = load_protocol(args.folder)
    seeds = parse_seeds(args.seeds, proto.seeds)
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()] if args.recipes else \
        ["dense", proto.reference]
    return compare(args.folder, caps, recipes, seeds, echo=echo)


def evidence_summary(folder, echo=print, source=None) -> dict:
    """``nmsim evidence summarize``: the summaries of a protocol folder rewritten (after copying the finished
    seeds of protocol folder ``source`` into it, :mod:`nmsim.evidence.collect`); the tables by name."""
    from nmsim.evidence.files import read_timing
    from nmsim.evidence.protocol import TIMING_FILE, load_protocol
    where = folder if source is None else source
    load_protocol(where)   # not a protocol folder, or damaged bookkeeping: one line before the summary's
    read_timing(Path(where) / TIMING_FILE)   # imports (torch, matplotlib)
    if source is not None:
        from nmsim.evidence.collect import collect
        collect(source, folder, echo=echo)
    from nmsim.evidence.summary import summarize

    return summarize(folder, echo=echo)
