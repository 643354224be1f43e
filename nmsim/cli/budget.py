"""``nmsim budget WORKLOAD --sparsity ff=1:16 --epochs 350 --dataset-size 1281167 --batch 4096`` (or --tokens 1e12).

One row per recipe x pattern: total training FLOPs over the schedule, normalised to dense and to SR-STE of the
same plan, the epochs affordable at the budget (default: what dense spends in --epochs), the phases, and with
--hardware the seconds. Logic lives in nmsim.api.training (nmsim.cost.budget).
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported when a table is built: argument checks stay fast
    import pandas as pd

def build_table(args) -> pd.DataFrame:
    """The table of :func:`nmsim.api.training.budget_run`; sets ``args.priced`` (the header) and prints skip notes."""
    from nmsim.api.training import budget_run
    from nmsim.cli.output import columns_hook
    run = budget_run(args, columns_hook(args))
    for note in run.skipped:
        print(f"nmsim: note: skipped {note}", file=sys.stderr)
    args.priced = _priced(run.workload, run.model, run.length, args) + _fit_line(run.table, run.length.batch)
    args.in_steps = run.length.steps_per_epoch == 1 and not run.length.dataset_size  # the run was not in epochs
    args.workload_name = run.workload.name
    return run.table


def _priced(cfg, model, length, args) -> str:
    """The header line: what was priced (workload, batch, sequence, dtype, mode, hardware, run length)."""
    hw = f"{model.hw.name}, {model.dtype}{', unfused' if args.unfused else ''}" if model.hw is not None else \
        "no hardware (FLOPs only)"
    from nmsim.cost.economics import parse_overrides, price_note
    from nmsim.cost.per_token import attention_basis
    from nmsim.cost.step import recompute_basis
    prices = price_note([model.hw.name], parse_overrides(args.price_per_hour)) if model.hw is not None else ""
    if model.hw is not None:
        from nmsim import bands
        prices += bands.note(bands.band("training step", model.hw))
    attention = attention_basis(cfg.causal and not cfg.is_image and not cfg.is_enc_dec, cfg.tokens)
    money = "; hours = device-hours on one device, usd = hours x its hourly price" if model.hw is not None else ""
    return (f"# priced: {cfg.name} training step ({args.optimizer}), batch {length.batch:,} x "
            f"{cfg.tokens:,} tokens, {hw}\n# run: {length.describe()}{_one_step_epochs(args)}{money}\n{prices}"
            f"# {attention}\n" + (f"# {recompute_basis(args.recompute)}\n" if model.hw is not None else ""))


def _fit_line(table, batch: int) -> str:
    """The header line when a row's step does not fit one device (the rows are priced all the same)."""
    if "fits" not in table or table["fits"].all():
        return ""
    most = table.attrs.get("max_batch")
    return (f"# memory: a step of batch {batch:,} takes {table['mem_gib'].max():,.1f} GiB of "
            f"{table.attrs['capacity_gib']:g} GiB: does NOT fit one device (fits False, priced anyway)"
            + (f"; the largest batch that fits is {most:,} (accumulate gradients for the rest)" if most else
               "; not even batch 1 fits") + "\n")


def _one_step_epochs(args) -> str:
    """--epochs alone counts one step per epoch: said where the run is stated."""
    if args.epochs is None or args.dataset_size is not None or args.steps_per_epoch is not None:
        return ""
    return f" ({args.epochs:g} epochs of one step each: give --dataset-size for epochs of data)"


TABLE_COLUMNS = ("recipe,pattern,train_flops,vs_dense,vs_srste,budget_epochs,seconds,seconds_lo,seconds_hi,hours,usd,"
                 "joules,mem_gib,fits,phases,band_level,band_rows")


def run(args) -> int:
    from nmsim.cli.output import emit
    from nmsim.cli.table import pick
    table = build_table(args)
    from nmsim.cost.budget import parse_budget
    if args.format == "table":
        table = pick(table, args.columns or ",".join(c for c in TABLE_COLUMNS.split(",") if c in table.columns))
        if args.in_steps:   # a run in steps, samples or tokens: what the budget affords is counted in steps
            table = table.rename(columns={"budget_epochs": "budget_steps"})
        head = (args.priced + f"# {args.workload_name} {args.sparsity}; "
                f"dense warm-up {args.dense_frac:g}, fine-tune {args.finetune_frac:g}; budget="
                + ("dense over the run" if args.budget == "dense" else f"{parse_budget(args.budget):.4g} FLOPs")
                + ("; paper convention" if args.paper_convention else "") + "\n")
        from nmsim.cli.price import wrap_comment
        head = wrap_comment(head)
        if args.out:
            from nmsim.cli.output import render, write_atomic
            write_atomic(args.out, head + render(table, "table", index=False))
            return 0
        sys.stdout.write(head)
    emit(table, args.format, args.out, index=False, columns=args.columns)
    return 0


def _transposable(text: str):
    from nmsim.cost.budget_options import parse_transposable  # no pandas: a typo is said at once
    return parse_transposable(text)


def register(subparsers) -> None:
    p = subparsers.add_parser("budget", help="training FLOPs of recipes x patterns and epochs affordable at a budget")
    from nmsim.cli.workload import add_workload
    add_workload(p)
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
    p.add_argument("--seq", type=int, help="tokens per sequence, text models (default: the workload's seq_len)")
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
    from nmsim.cli.price import add_memory_options
    add_memory_options(p)
    p.add_argument("--budget", default="dense", help="'dense' (dense for --epochs) or total FLOPs")
    p.add_argument("--paper-convention", action="store_true",
                   help="count only Q,K,V,O,Logit,Attend,FF1,FF2 (no class token), as the paper")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--columns",
                   help="columns to show, comma-separated, in every format (table default: " + TABLE_COLUMNS + ")")
    p.add_argument("--out", help="write to this file instead of stdout")
    from nmsim.cli.price import add_price_per_hour
    add_price_per_hour(p)
    p.set_defaults(func=run)
