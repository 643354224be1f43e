"""``nmsim cluster plan|budget|validate|systems``: parallel layouts, run budgets and published-run validation on
multi-device systems. Argument parsing and printing only: the work is nmsim.api.clusters."""
from __future__ import annotations

import sys

from nmsim.cli.output import add_columns


def _common(p) -> None:
    p.add_argument("workload", nargs="?", help="bundled workload name or YAML path (decoder-only or encoder-only)")
    p.add_argument("--hf-config", help="a Hugging Face config.json instead of a workload (llama, mistral, gpt2, bert)")
    p.add_argument("--system", default="dgx-h100", help="bundled system (dgx-a100, dgx-h100, mi300x-platform, tpu-v4-slice) or YAML")
    p.add_argument("--nodes", type=int, default=None, help="number of nodes (default: the system file's)")
    p.add_argument("--global-batch", type=int, default=None,
                   help="sequences per optimizer step (default: 4M tokens / --seq)")
    p.add_argument("--seq", type=int, default=None, help="tokens per sequence (default: the workload's)")
    p.add_argument("--dtype", default="bf16")
    p.add_argument("--sparsity", default=None, help="N:M plan, e.g. ff=2:4 or ff=1:8,qk=1:4")
    p.add_argument("--dense-frac", type=float, default=0.0, help="recipe dense warm-up fraction d")
    p.add_argument("--finetune-frac", type=float, default=0.0, help="recipe fine-tune fraction f")
    p.add_argument("--transposable", choices=("auto", "yes", "no"), default="auto",
                   help="dgrad on the sparse weight (auto: when the mask or the device allows it)")
    p.add_argument("--no-flash", dest="flash", action="store_false",
                   help="unfused attention: softmax traffic and T x T activations (default: FlashAttention)")
    p.add_argument("--dropout", action="store_true", help="the model trains with dropout (masks kept)")
    p.add_argument("--grad-bytes", type=float, default=2.0, help="bytes per gradient element (bf16 2, fp32 4)")
    p.add_argument("--compute-efficiency", type=float, default=None,
                   help="divide device compute time by this (0-2]; default: the losses' fitted value for --dtype")
    _losses_flag(p)
    p.add_argument("--tokens", type=float, default=None, help="training tokens, e.g. 1e12")
    p.add_argument("--dataset-tokens", type=float, default=None, help="dataset size in tokens (with --epochs)")
    p.add_argument("--epochs", type=float, default=None, help="passes over --dataset-tokens")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_columns(p, "the layout text; with --columns a table of the CSV's columns")
    p.add_argument("--out", default=None, help="write to this file instead of stdout")


def _losses_flag(p) -> None:
    p.add_argument("--losses", default="calibrated", metavar="PRESET|FILE",
                   help="what real runs lose: calibrated (default, fitted on published runs), sourced (nothing "
                        "fitted), none (ideal), or a YAML file of nmsim/data/published_runs/losses.yaml's keys")


def _emit(args, text: str, frame) -> None:
    """The readable text, or with ``--columns`` those columns of the CSV frame as a table (human units)."""
    from nmsim.cli.output import emit, write_atomic
    if args.format == "table" and getattr(args, "columns", None):
        emit(frame, "table", args.out, index=False, columns=args.columns)
    elif args.format == "table":
        if args.out:
            write_atomic(args.out, text)
        else:
            sys.stdout.write(text)
    else:
        emit(frame, args.format, args.out, index=False, columns=getattr(args, "columns", None))


def _price_note(run) -> str:
    """The hourly price the dollars use, wrapped under the text."""
    from nmsim.cli.price import wrap_comment
    from nmsim.cost.economics import price_note
    from nmsim.hardware import load
    note = price_note([load(run.system.device).name], run.prices).removeprefix("# ")
    return wrap_comment(note).replace("#   ", "  ")


def cmd_plan(args) -> int:
    from nmsim.api.clusters import cluster_plan
    from nmsim.cli.output import columns_hook
    plan = cluster_plan(args, columns_hook(args))
    from nmsim.cluster.text import plan_text
    from nmsim.cost.per_token import attention_basis
    cfg = plan.run.config
    text = (plan_text(plan.result, args.top).rstrip("\n") + "\n"
            + attention_basis(cfg.causal and not cfg.is_enc_dec, plan.run.seq) + "\n")
    if plan.run.tokens:
        text = text.rstrip("\n") + "\n" + _price_note(plan.run)
    _emit(args, text, plan.rows)
    return 0


def cmd_budget(args) -> int:
    from nmsim.api.clusters import cluster_budget
    from nmsim.cli.output import columns_hook
    budget = cluster_budget(args, columns_hook(args))
    from nmsim.cluster.text import budget_text
    from nmsim.cost.per_token import attention_basis
    from nmsim.units import si
    run = budget.run
    cfg, system = run.config, run.system
    described = (f"{cfg.name}, {si(run.tokens)} tokens on {system.nodes} x {system.name} ({system.devices} x "
                 f"{system.device}), global batch {run.batch} x {run.seq}, {args.dtype}, plan "
                 f"{args.sparsity or 'dense'}")
    _emit(args, budget_text(budget.table, described).rstrip("\n") + "\n" + _price_note(run)
          + attention_basis(cfg.causal and not cfg.is_enc_dec, run.seq) + "\n", budget.table)
    return 0


def cmd_validate(args) -> int:
    from nmsim.api.clusters import cluster_validate
    v = cluster_validate(args)
    from nmsim.bands.build import coverage_line
    from nmsim.cluster.text import validation_text
    _emit(args, validation_text(v.table, v.summary) + coverage_line(v.table), v.table)
    return 0


def cmd_systems(args) -> int:
    from nmsim.api.clusters import cluster_systems
    from nmsim.cli.output import columns_hook, emit
    emit(cluster_systems(args, columns_hook(args)), args.format, None, index=False, columns=args.columns)
    return 0


def register(sub) -> None:
    p = sub.add_parser("cluster", help="parallel layouts, run budgets and validation on multi-device systems")
    cs = p.add_subparsers(dest="cluster_command", metavar="SUBCOMMAND")
    pl = cs.add_parser("plan", help="rank every valid (TP, PP, DP, ZeRO, micro-batch, recompute) layout")
    _common(pl)
    pl.add_argument("--recipe", default="dense", help="recipe whose phases are priced (dense, sr-ste, mdgf-exp, ...)")
    pl.add_argument("--top", type=int, default=5)
    pl.add_argument("--rank", choices=("time", "headroom"), default="time",
                    help="order fitting layouts by step time (default) or by memory headroom")
    pl.add_argument("--tp", type=int, default=None)
    pl.add_argument("--pp", type=int, default=None)
    pl.add_argument("--zero", type=int, choices=(0, 1, 2, 3), default=None)
    pl.add_argument("--mb", type=int, default=None, help="micro-batch size")
    pl.add_argument("--recompute", choices=("none", "selective", "full"), default=None)
    from nmsim.cli.price import add_price_per_hour
    add_price_per_hour(pl)
    pl.set_defaults(func=cmd_plan)
    bu = cs.add_parser("budget", help="tokens -> steps, days, device-hours, MFU, energy per recipe")
    _common(bu)
    bu.add_argument("--recipes", default="dense", help="comma list, e.g. dense,sr-ste,mdgf-exp")
    from nmsim.cli.price import add_price_per_hour
    add_price_per_hour(bu)
    bu.set_defaults(func=cmd_budget)
    va = cs.add_parser("validate", help="predicted vs published training runs (time-to-train error, MFU)")
    va.add_argument("--fit", "--calibrate", dest="fit", action="store_true",
                    help="also fit the compute efficiency per dtype class on the fit runs (nothing else fitted)")
    _losses_flag(va)
    va.add_argument("--only", default=None, help="comma list of run ids")
    va.add_argument("--runs", default=None, metavar="FILE",
                    help="your own runs file (the format of nmsim/data/published_runs/training_throughput.yaml)")
    va.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_columns(va, "the validation text; with --columns a table of the CSV's columns")
    va.add_argument("--out", default=None)
    va.add_argument("--check-bands", action="store_true",
                    help="exit 2 when the bundled bands file's cluster-run band is not what these runs give "
                         "(make validate; `nmsim validate --write-bands` rewrites it)")
    va.set_defaults(func=cmd_validate)
    sy = cs.add_parser("systems", help="list (and validate) system specs")
    sy.add_argument("files", nargs="*", help="system YAML files to validate (default: the bundled ones)")
    sy.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_columns(sy)
    sy.set_defaults(func=cmd_systems)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
