"""``nmsim budget WORKLOAD --sparsity ff=1:16 --epochs 350 --dataset-size 1281167 --batch 4096`` (or --tokens 1e12).

One row per recipe x pattern: total training FLOPs over the schedule, normalised to dense and to SR-STE of the
same plan, the epochs affordable at the budget (default: what dense spends in --epochs), the phases, and with
--hardware the seconds. Logic lives in nmsim.cost.training / nmsim.cost.budget.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from nmsim.errors import UserError

if TYPE_CHECKING:  # pandas is imported when a table is built: argument checks stay fast
    import pandas as pd

def _patterns(text: str | None) -> list:
    """The shared pattern list: a bare pattern retargets every rule of --sparsity, a plan item replaces it."""
    from nmsim.sparsity.lists import parse_pattern_list
    from nmsim.sparsity.pattern import NMPattern
    from nmsim.sparsity.plan import SparsityPlan
    if not text:
        return [None]
    out = []
    for item in parse_pattern_list(text):
        if item == "dense":
            raise UserError("patterns must be N:M (dense is the dense recipe)", "--patterns")
        out.append(SparsityPlan.parse(item, "--patterns") if "=" in item else NMPattern.parse(item, "--patterns"))
    return out


def _phase_text(phases: pd.DataFrame, dense_step: float, spe: int) -> str:
    unit, div = ("e", spe) if spe > 1 else ("", 1)
    parts = []
    for r in phases.itertuples():
        a, b = r.start_step / div, r.stop_step / div
        parts.append(f"{r.label} [{a:g},{b:g}){unit} x{r.step_flops / dense_step:.3f}")
    return "; ".join(parts)


def build_table(args) -> pd.DataFrame:
    from nmsim.recipes import make_recipe
    from nmsim.sparsity.plan import SparsityPlan

    from nmsim.recipes import parse_recipe_list
    recipes = parse_recipe_list(args.recipes)   # names and plans first: a typo fails before torch is imported
    base_plan = SparsityPlan.parse(args.sparsity)
    patterns = _patterns(args.patterns)
    if args.hardware:
        from nmsim.hardware import load
        load(args.hardware)
    from nmsim.cost.budget import affordable, dense_budget
    from nmsim.cost.training import TrainingCostModel, normalised, paper_graph, plan_targets, with_pattern
    from nmsim.graph import load_workload, trace_workload

    from nmsim.cost.run_length import run_length

    if args.batch is not None and args.batch <= 0:
        raise UserError(f"must be a positive integer, got {args.batch}", "--batch")
    if args.beta is not None and args.beta <= 0:
        raise UserError(f"beta must be > 0, got {args.beta:g}", "--beta")
    if base_plan.is_dense:
        raise UserError("give the sparse targets, e.g. --sparsity ff=1:16", "--sparsity")
    cfg = load_workload(args.workload)
    batch = args.batch or cfg.batch
    length = run_length(batch=batch, tokens_per_sample=cfg.tokens, epochs=args.epochs,
                        steps_per_epoch=args.steps_per_epoch, dataset_size=args.dataset_size, steps=args.steps,
                        samples=args.samples, tokens=args.tokens, batch_given=args.batch is not None)
    spe, total = length.steps_per_epoch, length.steps
    graph = paper_graph(cfg, batch) if args.paper_convention else trace_workload(cfg, batch=batch)
    rows, skipped = [], []
    many = len(recipes) * len(patterns) > 1
    for pattern in patterns:
        plan = (base_plan if pattern is None else pattern if isinstance(pattern, SparsityPlan)
                else with_pattern(base_plan, pattern))
        plan.resolve(graph.ops)  # selector and divisibility errors for the final targets
        model = TrainingCostModel(graph, plan, hardware=args.hardware, dtype=args.dtype,
                                  transposable=args.transposable, optimizer=args.optimizer,
                                  paper_convention=args.paper_convention, weight_dtype=args.weight_dtype,
                                  kernel=args.kernel, fusion=False if args.unfused else None)
        targets = plan_targets(plan)
        dense = make_recipe("dense", {k: None for k in targets}, steps_per_epoch=spe)
        dense_tot = model.totals(dense, total)
        dense_step = dense_tot["flops"] / total
        budget = dense_budget(model, length.epochs, spe) if args.budget == "dense" else _flops(args.budget)
        for name in recipes:
            if name == "dense" and pattern is not None and pattern != patterns[0]:
                continue  # dense does not depend on the pattern: one row
            params = {}
            if name.startswith("mdgf") and args.beta is not None:
                params["beta"] = args.beta
            if name == "sdgf-geometric" and args.k is not None:
                params["k"] = args.k
            try:
                recipe = make_recipe(name, targets if name != "dense" else {k: None for k in targets},
                                     args.dense_frac, args.finetune_frac, steps_per_epoch=spe, **params)
                phases = model.phases(recipe, total)
            except UserError as exc:
                if not many or exc.where != "--sparsity":  # only 'recipe cannot reach pattern' is skipped
                    raise
                skipped.append(f"{name} {pattern or plan}: {exc}")
                continue
            tot = normalised(model, recipe, total)
            fit = affordable(model, recipe, budget, spe)
            row = {"recipe": name, "pattern": "dense" if name == "dense" else str(pattern or plan),
                   "train_flops": tot["flops"], "vs_dense": tot["flops_vs_dense"],
                   "vs_srste": tot["flops_vs_srste"], "matrix_vs_dense": tot["matrix_flops_vs_dense"],
                   "matrix_vs_srste": tot["matrix_flops_vs_srste"], "budget_epochs": fit["epochs_exact"]}
            if model.hw is not None:
                row.update(seconds=tot["seconds"], hours=tot["seconds"] / 3600, seconds_vs_dense=tot["seconds_vs_dense"],
                           joules=tot["joules"])
            row["phases"] = _phase_text(phases, dense_step, spe)
            rows.append(row)
    for note in skipped:
        print(f"nmsim: note: skipped {note}", file=sys.stderr)
    if not rows:
        raise UserError("no recipe x pattern combination could be priced", "--recipes")
    import pandas as pd

    args.priced = _priced(cfg, model, length, args)
    return pd.DataFrame(rows)


def _priced(cfg, model, length, args) -> str:
    """The header line: what was priced (workload, batch, sequence, dtype, mode, hardware, run length)."""
    hw = f"{model.hw.name}, {model.dtype}{', unfused' if args.unfused else ''}" if model.hw is not None else \
        "no hardware (FLOPs only)"
    return (f"# priced: {cfg.name} training step ({args.optimizer}), batch {length.batch:,} x "
            f"{cfg.tokens:,} tokens, {hw}\n# run: {length.describe()}\n")


def _flops(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"expected 'dense' or a FLOP count like 3.5e21, got {text!r}", "--budget") from None
    if not value > 0 or value == float("inf"):
        raise UserError(f"must be a positive FLOP count, got {text!r}", "--budget")
    return value


TABLE_COLUMNS = "recipe,pattern,train_flops,vs_dense,vs_srste,budget_epochs,seconds,joules,phases"


def run(args) -> int:
    from nmsim.cli.output import emit
    from nmsim.cli.table import pick
    table = build_table(args)
    if args.format == "table":
        table = pick(table, args.columns or ",".join(c for c in TABLE_COLUMNS.split(",") if c in table.columns))
        head = (args.priced + f"# {args.workload} {args.sparsity}; "
                f"d={args.dense_frac:g} f={args.finetune_frac:g}; budget="
                + ("dense over the run" if args.budget == "dense" else f"{_flops(args.budget):.4g} FLOPs")
                + ("; paper convention" if args.paper_convention else "") + "\n")
        if args.out:
            from nmsim.cli.output import render, write_atomic
            write_atomic(args.out, head + render(table, "table", index=False))
            return 0
        sys.stdout.write(head)
    emit(table, args.format, args.out, index=False)
    return 0


def _transposable(text: str):
    value = text.strip().lower()
    if value in ("auto", ""):
        return None
    if value in ("yes", "true", "1"):
        return True
    if value in ("no", "false", "0"):
        return False
    raise UserError(f"expected auto, yes or no, got {text!r}", "--transposable")


def register(subparsers) -> None:
    p = subparsers.add_parser("budget", help="training FLOPs of recipes x patterns and epochs affordable at a budget")
    p.add_argument("workload", metavar="WORKLOAD", help="bundled workload name, YAML path or HF config.json")
    p.add_argument("--sparsity", required=True, help="plan, e.g. ff=1:16 or ff=1:8,qk=1:4")
    p.add_argument("--recipes", default="all", help="comma-separated recipes or 'all' (default)")
    p.add_argument("--patterns", help="pattern list, one row set each: N:M retargets every --sparsity rule, "
                   "ff=1:8+qk=1:4 replaces the plan (e.g. 2:4,1:16)")
    p.add_argument("--epochs", type=float, help="run length in epochs (with --dataset-size or --steps-per-epoch)")
    p.add_argument("--dataset-size", type=float,
                   help="samples per epoch, e.g. 1281167 for ImageNet-1k (steps per epoch = ceil(size / batch))")
    p.add_argument("--steps-per-epoch", type=int,
                   help="steps per epoch (needs an explicit --batch; recipes switch at epochs)")
    p.add_argument("--steps", type=float, help="run length in optimizer steps")
    p.add_argument("--samples", type=float, help="run length in samples seen (images or sequences)")
    p.add_argument("--tokens", type=float, help="run length in tokens, e.g. 1e12 (batch x sequence per step)")
    p.add_argument("--batch", type=int, help="samples per step (default: the workload's)")
    p.add_argument("--dense-frac", type=float, default=0.0, help="dense warm-up fraction d")
    p.add_argument("--finetune-frac", type=float, default=0.0, help="fine-tune fraction f")
    p.add_argument("--beta", type=float, help="MDGF decay rate (default per recipe)")
    p.add_argument("--k", type=int, help="SDGF-geometric factor (default 16)")
    p.add_argument("--hardware", help="accelerator spec (adds seconds, joules)")
    p.add_argument("--dtype", default=None, help="compute dtype (default: bf16, or fp16 where the spec lacks bf16)")
    p.add_argument("--weight-dtype", default=None, help="weight storage dtype when it differs from --dtype")
    p.add_argument("--kernel", default=None, help="pin this sparse kernel of the spec (default: fastest per GEMM)")
    p.add_argument("--unfused", action="store_true",
                   help="no FlashAttention-style attention and no fused epilogues (default: what the spec's stack fuses)")
    p.add_argument("--transposable", type=_transposable, default=None,
                   help="dgrad sparse: auto (pattern T or hardware accepts the transpose), yes, no")
    p.add_argument("--optimizer", default="adamw", help="adamw, adam, sgd-momentum, sgd")
    p.add_argument("--budget", default="dense", help="'dense' (dense for --epochs) or total FLOPs")
    p.add_argument("--paper-convention", action="store_true",
                   help="count only Q,K,V,O,Logit,Attend,FF1,FF2 (no class token), as the paper")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--columns",
                   help="table columns to show, comma-separated (default: " + TABLE_COLUMNS + ")")
    p.add_argument("--out", help="write to this file instead of stdout")
    p.set_defaults(func=run)
