"""``nmsim train`` (one run) and ``nmsim sweep`` (recipes x patterns x seeds): parsing only."""
from __future__ import annotations

from nmsim.cli.output import add_columns
from nmsim.cli.recipe_flags import add_recipe_flags
from nmsim.recipes import ALL_RECIPES


def _common(p) -> None:
    p.add_argument("--task", default="digits", help="digits | digits-hard | stdlib-chars | pysrc-chars (default digits)")
    p.add_argument("--epochs", type=int, help="epochs (default: the task's)")
    p.add_argument("--batch", type=int, help="batch size (default: the task's)")
    p.add_argument("--lr", type=float, help="peak AdamW learning rate (default: the task's)")
    p.add_argument("--weight-decay", type=float, help="AdamW weight decay (default: the task's)")
    p.add_argument("--warmup-frac", type=float, help="linear LR warm-up fraction of the steps")
    p.add_argument("--dense-frac", type=float, default=0.0, help="recipe dense warm-up fraction d")
    p.add_argument("--finetune-frac", type=float, default=0.0, help="recipe binary fine-tune fraction f")
    add_recipe_flags(p, trainer=True)
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="extra recipe parameter (repeatable)")
    p.add_argument("--direction", choices=("row", "col"), default="row", help="N:M grouping direction")
    p.add_argument("--workload", help="model YAML (default: the task's trainer-*.yaml)")
    p.add_argument("--eval-every", type=int, default=0, help="steps between evaluations (0: every epoch)")
    p.add_argument("--checkpoint-every", type=int, default=0, help="steps between checkpoints (0: every evaluation)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--device", default="cpu", help="cpu | cuda")


def register(sub) -> None:
    p = sub.add_parser("train", help="train one recipe on a tiny task with the reference trainer")
    _common(p)
    p.add_argument("--recipe", default="dense", help=", ".join(ALL_RECIPES))
    p.add_argument("--sparsity", default="ff=1:16", help="selector=N:M list, e.g. ff=1:8,qk=1:4 (default ff=1:16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run folder (default runs/<task>/<recipe>/<pattern>/seed<S>)")
    p.add_argument("--resume", action="store_true", help="continue an unfinished run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    s = sub.add_parser("sweep", help="train recipes x patterns x seeds (one folder per run, restartable)")
    _common(s)
    s.add_argument("--recipes", default="all", help="comma list or all")
    s.add_argument("--patterns", default="1:4,1:8,1:16,1:32", help="N:M list for --selector, or items like ff=1:8+qk=1:4")
    s.add_argument("--selector", default="ff", help="layers the plain patterns apply to (default ff)")
    s.add_argument("--seeds", type=int, default=3, help="number of seeds (0..S-1)")
    s.add_argument("--out", default="runs", help="root folder (default runs/)")
    s.add_argument("--executor", default="local", help="local (process pool) | ray")
    s.add_argument("--workers", type=int, default=1, help="parallel runs")
    add_columns(s, "the summary's task,recipe,pattern,runs,accuracy,loss_mean,mean_train_flops")
    s.add_argument("--skip-incompatible", action="store_true",
                   help="skip runs whose schedule uses a pattern that does not fit the model instead of failing")
    s.set_defaults(func=cmd_sweep)


def cmd_train(args) -> int:
    from nmsim.api.training import train_one
    run = train_one(args)
    print(final_line(run.folder, run.final))
    return 0


def final_line(out, final: dict) -> str:
    """``runs/...: step 5,000, accuracy 0.9812, loss 0.0714, 31.2 TFLOP, 2.5 min`` wrapped at 100 columns."""
    import textwrap

    from nmsim.units import duration, fixed, si
    parts = [f"step {final['step']:,}" if isinstance(final.get("step"), int) else None,
             *(f"{k} {fixed(final[k], 4)}" for k in ("accuracy", "loss") if isinstance(final.get(k), float)),
             f"{si(final['train_flops'], 'FLOP')} trained" if isinstance(final.get("train_flops"), (int, float))
             else None,
             f"{duration(final['wall_seconds'])} wall" if isinstance(final.get("wall_seconds"), float) else None]
    return textwrap.fill(f"{out}: " + ", ".join(p for p in parts if p), 100, subsequent_indent="    ",
                         break_on_hyphens=False)


def cmd_sweep(args) -> int:
    from nmsim.api.training import sweep_runs
    from nmsim.cli.output import columns_hook
    table = sweep_runs(args, columns_known=columns_hook(args))
    from nmsim.cli.table import render_table
    from nmsim.train.sweep import summary_view
    summary = table.attrs["summary"]   # human units (13.1 GFLOP), at most 100 columns
    print(render_table(summary_view(summary), index=False, columns=args.columns).rstrip("\n") if len(summary)
          else "(no finished runs)")
    print(f"summary: {args.out}/sweep_summary.csv\nruns:    {args.out}/sweep_runs.csv")
    return 1 if table.attrs["failures"] else 0
