"""``cluster plan|budget|validate|systems``: parallel layouts, run budgets and published-run validation on
multi-device systems (:mod:`nmsim.cluster`), from the command's parsed options."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from nmsim.errors import UserError


def _nothing(available, keys=()) -> None:
    return None


def _shown(progress: bool) -> dict:
    """The progress bar's keywords: as the terminal allows, or none."""
    return {} if progress else {"mode": False}


@dataclass
class ClusterRun:
    """What every cluster command prices: the model, the system, the global batch and the run's tokens."""
    config: Any
    system: Any
    seq: int
    batch: int
    tokens: float | None
    kwargs: dict
    prices: dict


def cluster_run(args) -> ClusterRun:
    """The workload, system, batch and run length of ``args``, checked before any pricing."""
    from nmsim.cluster.system import load_system
    from nmsim.graph import resolve_workload
    cfg = resolve_workload(args.workload, args.hf_config, seq_len=args.seq)
    if getattr(args, "sparsity", None):
        from nmsim.sparsity.plan import SparsityPlan
        SparsityPlan.parse(args.sparsity).check_depth(cfg)   # a layer past the model: before any pricing
    system = load_system(args.system, args.nodes)
    from nmsim.cluster.limits import check_factors, check_global_batch, check_sequence_model, steps_for
    check_sequence_model(cfg)
    check_factors(args.grad_bytes, 1.0 if args.compute_efficiency is None else args.compute_efficiency)
    from nmsim.cluster.losses import load_losses
    losses = load_losses(args.losses)   # a bad preset or file fails before any pricing
    seq = cfg.seq_len
    batch = args.global_batch if args.global_batch is not None else max(1, round(4 * 2 ** 20 / seq))
    check_global_batch(batch)
    tokens, flag = args.tokens, "--tokens"
    if args.dataset_tokens is not None or args.epochs is not None:
        if args.tokens is not None:
            raise UserError("give --tokens or --dataset-tokens with --epochs, not both", "--tokens")
        if args.dataset_tokens is None or args.epochs is None:
            raise UserError("--dataset-tokens and --epochs go together", "--epochs")
        for name, value in (("--dataset-tokens", args.dataset_tokens), ("--epochs", args.epochs)):
            if not math.isfinite(value) or value <= 0:
                raise UserError(f"must be a positive number, got {value!r}", name)
        tokens, flag = args.dataset_tokens * args.epochs, "--dataset-tokens x --epochs"
    if tokens is not None:
        steps_for(tokens, batch, seq, flag)   # a bad or absurd token count fails before any pricing
    trans = {"auto": None, "yes": True, "no": False}[args.transposable]
    kw = dict(dtype=args.dtype, transposable=trans, flash=args.flash, dropout=args.dropout,
              grad_bytes=args.grad_bytes, plan=args.sparsity, compute_efficiency=args.compute_efficiency,
              losses=losses)
    from nmsim.hardware import load
    from nmsim.hardware.prices import parse_overrides
    prices = parse_overrides(args.price_per_hour, [load(system.device).name])   # a bad DEVICE=USD too
    return ClusterRun(cfg, system, seq, batch, tokens, kw, prices)


@dataclass
class Plan:
    """``cluster plan``: the search (:class:`nmsim.cluster.plan.PlanResult`; with tokens, each layout's run cost
    joined to its table) and ``rows``, the ``top`` layouts as raw numbers."""
    run: ClusterRun
    result: Any
    rows: Any


def cluster_plan(args, columns_known: Callable | None = None) -> Plan:
    run = cluster_run(args)   # workload and system typos: before pandas
    cfg, system, batch = run.config, run.system, run.batch
    restrict = {k: getattr(args, k) for k in ("tp", "pp", "mb") if getattr(args, k) is not None}
    if args.zero is not None:
        restrict["zero"] = (args.zero,)
    if args.top < 1:
        raise UserError(f"must be a positive integer, got {args.top}", "--top")
    if args.recompute:
        restrict["recompute"] = (args.recompute,)
    from nmsim.cluster.layout_space import layout_rows, make_recipes, plan_columns
    layout_rows(cfg, system.devices, system.devices_per_node, batch, **restrict)   # before numpy and pandas too
    (columns_known or _nothing)(plan_columns())   # a typo fails before the search
    recipes = make_recipes(args.recipe, args.sparsity, args.dense_frac, args.finetune_frac)
    from nmsim.cluster.plan import search, steps_for
    from nmsim.cluster.text import plan_rows
    recipe = recipes.get(args.recipe.strip().lower())
    steps = steps_for(run.tokens, batch, run.seq) if run.tokens else 1000
    res = search(cfg, system, batch, run.seq, recipe=recipe, steps=steps, rank=args.rank, **run.kwargs, **restrict)
    if run.tokens:   # the whole run: days, device-hours and dollars per layout
        from nmsim.cluster.plan import run_cost
        res.table = res.table.join(run_cost(res, run.prices))
    return Plan(run, res, plan_rows(res, args.top))


@dataclass
class Budget:
    """``cluster budget``: one row per recipe (wall-clock, device-hours, MFU, energy, dollars)."""
    run: ClusterRun
    table: Any


def cluster_budget(args, columns_known: Callable | None = None, progress: bool = True) -> Budget:
    run = cluster_run(args)   # workload and system typos: before pandas
    cfg, system = run.config, run.system
    if run.tokens is None:
        raise UserError("give --tokens (e.g. 1e12) or --dataset-tokens with --epochs", "--tokens")
    from nmsim.cluster.layout_space import BUDGET_COLUMNS, layout_rows, make_recipes
    layout_rows(cfg, system.devices, system.devices_per_node, run.batch)   # before numpy and pandas too
    from nmsim.bands import with_band_columns
    (columns_known or _nothing)(with_band_columns(BUDGET_COLUMNS))   # a typo fails before the search
    recipes = make_recipes(args.recipes, args.sparsity, args.dense_frac, args.finetune_frac)
    from nmsim.cluster.plan import run_budget
    from nmsim.progress import Items
    with Items("cluster budget", "recipe", **_shown(progress)) as bar:   # each recipe, every layout
        df = run_budget(run.config, system, run.batch, run.seq, run.tokens, recipes, progress=bar,
                        price_per_hour=run.prices, **run.kwargs)
    return Budget(run, df)


@dataclass
class Validation:
    """``cluster validate``: one row per published run (predicted against published), the summary (MAPE,
    coverage; ``fitted``: the fitted compute efficiencies with ``--fit``)."""
    table: Any
    summary: dict


def cluster_validate(args, progress: bool = True) -> Validation:
    from nmsim.cluster.losses import load_losses
    from nmsim.cluster.validation import load_runs
    if args.check_bands and (args.runs or args.only or args.losses != "calibrated"):
        raise UserError("checks the bundled runs with the default losses: leave out --runs, --only and --losses",
                        "--check-bands")
    runs = load_runs(args.runs) if args.runs else load_runs()
    losses = load_losses(args.losses)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {r["id"] for r in runs}
        if unknown:
            raise UserError(f"unknown run {sorted(unknown)[0]!r}", "--only")
        runs = [r for r in runs if r["id"] in wanted]
    from nmsim.cluster.validation import fit, validate
    from nmsim.progress import Items
    fitted = None
    if args.fit:
        with Items("cluster validate --fit", "run", **_shown(progress)) as bar:
            fitted, _ = fit(runs, progress=bar)
    with Items("cluster validate", "run", **_shown(progress)) as bar:
        df, summary = validate(runs, losses=losses, progress=bar)
    summary["losses"] = losses.name
    if fitted is not None:
        summary["fitted"] = fitted
    if args.check_bands:   # before the output: a stale file is the one error line
        from nmsim.bands.build import check_current
        check_current(df)
    return Validation(df, summary)


#: ``cluster systems``' columns
SYSTEM_COLUMNS = ("system", "device", "devices_per_node", "nodes", "intra_node", "inter_node", "node_kw")


def cluster_systems(args, columns_known: Callable | None = None):
    """``cluster systems``: one row per system file (bundled, or ``args.files``), each checked."""
    from nmsim.cluster.system import list_systems, load_system
    (columns_known or _nothing)(list(SYSTEM_COLUMNS))   # a typo fails before pandas is imported
    names = args.files or list_systems()
    rows = []
    for n in names:   # a bad file fails before pandas is imported
        s = load_system(n)
        rows.append({"system": s.name, "device": s.device, "devices_per_node": s.devices_per_node,
                     "nodes": s.nodes, "intra_node": f"{s.intra.fabric} {s.intra.bandwidth_gbps:g} GB/s",
                     "inter_node": f"{s.inter.fabric} {s.inter.bandwidth_gbps:g} GB/s {s.inter.topology}",
                     "node_kw": s.node_power_watts / 1e3})
    import pandas as pd
    return pd.DataFrame(rows, columns=list(SYSTEM_COLUMNS))
