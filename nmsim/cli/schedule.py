"""``nmsim schedule RECIPE --sparsity ff=1:16 --epochs 350 --steps-per-epoch 313``: print a recipe's phases."""
from __future__ import annotations

from nmsim.recipes import RECIPE_NAMES


def run(args) -> int:
    from nmsim.api.training import schedule_table
    from nmsim.cli.output import columns_hook
    schedule = schedule_table(args, columns_hook(args))
    if args.format != "table":
        from nmsim.cli.output import render
        print(render(schedule.table, args.format, False, args.columns), end="")
    else:
        import textwrap
        from nmsim.cli.table import render_table
        table = render_table(schedule.table, index=False, columns=args.columns)   # a bad --columns: before output
        print(textwrap.fill(f"# {schedule.recipe.describe()}; {schedule.steps:,} steps", 100,
                            subsequent_indent="#   "))
        print(table, end="")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("schedule", help="print a recipe's phase timeline (patterns, D, gradient rule)")
    p.add_argument("recipe", metavar="RECIPE", help=f"one of: {', '.join(RECIPE_NAMES)}")
    p.add_argument("--sparsity", help="final patterns, selector=N:M[,selector=N:M] (e.g. ff=1:8,qk=1:4)")
    p.add_argument("--steps", type=int, help="total training steps")
    p.add_argument("--epochs", type=int, help="total epochs (with --steps-per-epoch; switches at epochs)")
    p.add_argument("--steps-per-epoch", type=int, help="steps per epoch (default 1 with --epochs)")
    p.add_argument("--granularity", choices=("step", "epoch"), help="where boundaries snap (default: epoch "
                   "with --epochs, else step)")
    p.add_argument("--dense-frac", type=float, default=0.0, help="dense warm-up fraction d")
    p.add_argument("--finetune-frac", type=float, default=0.0, help="final fine-tune fraction f")
    from nmsim.cli.recipe_flags import add_recipe_flags
    add_recipe_flags(p, trainer=False)
    p.add_argument("--boundaries", help="custom: 'POS:sel=N:M[,...];POS:...' (POS 0.5 = fraction, 100 = step)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    from nmsim.cli.output import add_columns
    add_columns(p)
    p.set_defaults(func=run)
