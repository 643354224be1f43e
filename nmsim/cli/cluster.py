"""``nmsim cluster plan|budget|validate|systems``: parallel layouts, run budgets and published-run validation on
multi-device systems. Logic lives in nmsim.cluster."""
from __future__ import annotations

import math
import sys

from nmsim.cli.output import add_columns
from nmsim.errors import UserError


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


def _setup(args):
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
    return cfg, system, seq, batch, tokens, kw


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


def cmd_plan(args) -> int:
    cfg, system, seq, batch, tokens, kw = _setup(args)   # workload and system typos: before pandas
    from nmsim.hardware.prices import parse_overrides
    from nmsim.hardware import load
    prices = parse_overrides(args.price_per_hour, [load(system.device).name])   # a bad DEVICE=USD too
    restrict = {k: getattr(args, k) for k in ("tp", "pp", "mb") if getattr(args, k) is not None}
    if args.zero is not None:
        restrict["zero"] = (args.zero,)
    if args.top < 1:
        raise UserError(f"must be a positive integer, got {args.top}", "--top")
    if args.recompute:
        restrict["recompute"] = (args.recompute,)
    from nmsim.cluster.layout import enumerate_layouts
    enumerate_layouts(cfg, system.devices, system.devices_per_node, batch, **restrict)   # before pandas too
    from nmsim.cluster.plan import make_recipes, search, steps_for
    from nmsim.cluster.text import PLAN_COLUMNS, plan_rows, plan_text
    if args.columns:   # a typo fails before the search (every format picks columns)
        from nmsim.cli.table import choose
        from nmsim.bands import with_band_columns
        choose(with_band_columns(PLAN_COLUMNS), args.columns)
    recipes = make_recipes(args.recipe, args.sparsity, args.dense_frac, args.finetune_frac)
    recipe = recipes.get(args.recipe.strip().lower())
    steps = steps_for(tokens, batch, seq) if tokens else 1000
    res = search(cfg, system, batch, seq, recipe=recipe, steps=steps, rank=args.rank, **kw, **restrict)
    if tokens:   # the whole run: days, device-hours and dollars per layout
        from nmsim.cluster.plan import run_cost
        from nmsim.cost.economics import price_note
        res.table = res.table.join(run_cost(res, prices))
    from nmsim.cost.per_token import attention_basis
    text = plan_text(res, args.top).rstrip("\n") + "\n" + attention_basis(cfg.causal and not cfg.is_enc_dec, seq) + "\n"
    if tokens:
        from nmsim.cli.price import wrap_comment
        from nmsim.hardware import load
        note = price_note([load(system.device).name], prices).removeprefix("# ")
        text = text.rstrip("\n") + "\n" + wrap_comment(note).replace("#   ", "  ")
    _emit(args, text, plan_rows(res, args.top))
    return 0


def cmd_budget(args) -> int:
    cfg, system, seq, batch, tokens, kw = _setup(args)   # workload and system typos: before pandas
    from nmsim.hardware.prices import parse_overrides
    from nmsim.hardware import load
    prices = parse_overrides(args.price_per_hour, [load(system.device).name])   # a bad DEVICE=USD too
    if tokens is None:
        raise UserError("give --tokens (e.g. 1e12) or --dataset-tokens with --epochs", "--tokens")
    from nmsim.cluster.layout import enumerate_layouts
    enumerate_layouts(cfg, system.devices, system.devices_per_node, batch)   # before pandas too
    from nmsim.cluster.plan import BUDGET_COLUMNS, make_recipes, run_budget
    from nmsim.cluster.text import budget_text
    if args.columns:   # a typo fails before the search (every format picks columns)
        from nmsim.cli.table import choose
        from nmsim.bands import with_band_columns
        choose(with_band_columns(BUDGET_COLUMNS), args.columns)
    recipes = make_recipes(args.recipes, args.sparsity, args.dense_frac, args.finetune_frac)
    from nmsim.cost.economics import price_note
    from nmsim.hardware import load
    from nmsim.progress import Items
    with Items("cluster budget", "recipe") as progress:   # each recipe priced on every layout
        df = run_budget(cfg, system, batch, seq, tokens, recipes, progress=progress, price_per_hour=prices, **kw)
    from nmsim.units import si
    described = (f"{cfg.name}, {si(tokens)} tokens on {system.nodes} x {system.name} ({system.devices} x "
                 f"{system.device}), global batch {batch} x {seq}, {args.dtype}, plan {args.sparsity or 'dense'}")
    from nmsim.cli.price import wrap_comment
    note = price_note([load(system.device).name], prices).removeprefix("# ")
    from nmsim.cost.per_token import attention_basis
    _emit(args, budget_text(df, described).rstrip("\n") + "\n" + wrap_comment(note).replace("#   ", "  ")
          + attention_basis(cfg.causal and not cfg.is_enc_dec, seq) + "\n", df)
    return 0


def cmd_validate(args) -> int:
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

    from nmsim.cluster.text import validation_text
    from nmsim.cluster.validation import fit, validate
    from nmsim.progress import Items
    fitted = None
    if args.fit:
        with Items("cluster validate --fit", "run") as progress:
            fitted, _ = fit(runs, progress=progress)
    with Items("cluster validate", "run") as progress:
        df, summary = validate(runs, losses=losses, progress=progress)
    summary["losses"] = losses.name
    if fitted is not None:
        summary["fitted"] = fitted
    from nmsim.bands.build import check_current, coverage_line
    if args.check_bands:   # before the output: a stale file is the one error line
        check_current(df)
    _emit(args, validation_text(df, summary) + coverage_line(df), df)
    return 0


def cmd_systems(args) -> int:
    from nmsim.cluster.system import list_systems, load_system
    names = args.files or list_systems()
    rows = []
    for n in names:   # a bad file fails before pandas is imported
        s = load_system(n)
        rows.append({"system": s.name, "device": s.device, "devices_per_node": s.devices_per_node,
                     "nodes": s.nodes, "intra_node": f"{s.intra.fabric} {s.intra.bandwidth_gbps:g} GB/s",
                     "inter_node": f"{s.inter.fabric} {s.inter.bandwidth_gbps:g} GB/s {s.inter.topology}",
                     "node_kw": s.node_power_watts / 1e3})
    import pandas as pd
    df = pd.DataFrame(rows)
    from nmsim.cli.output import emit
    emit(df, args.format, None, index=False, columns=args.columns)
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
