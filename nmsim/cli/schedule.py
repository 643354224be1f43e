"""``nmsim schedule RECIPE --sparsity ff=1:16 --epochs 350 --steps-per-epoch 313``: print a recipe's phases."""
from __future__ import annotations

from nmsim.errors import UserError
from nmsim.recipes import RECIPE_NAMES, make_recipe
from nmsim.sparsity.plan import SparsityPlan


def parse_boundaries(text: str | None) -> list | None:
    """``"0:ff=4:8;0.5:ff=2:8,qk=1:4"`` -> [(0, {...}), (0.5, {...})]: a position with a '.' is a fraction of the
    sparse part, else a step (epoch with epoch granularity) offset from its start."""
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


def _positive(value, where: str) -> None:
    if value is not None and value <= 0:
        raise UserError(f"must be a positive integer, got {value}", where)


def run(args) -> int:
    if args.steps is not None and args.epochs is not None:
        raise UserError("give either --steps or --epochs, not both", "--epochs")
    if args.steps is None and args.epochs is None:
        raise UserError("give the run length with --steps N or --epochs E [--steps-per-epoch S]", "--steps")
    for where, value in (("--epochs", args.epochs), ("--steps-per-epoch", args.steps_per_epoch)):
        _positive(value, where)
    spe = args.steps_per_epoch or (1 if args.epochs is not None else None)
    total = args.steps if args.steps is not None else args.epochs * spe
    granularity = args.granularity or ("epoch" if args.epochs is not None else "step")
    if granularity == "epoch" and not spe:
        raise UserError("epoch granularity needs --steps-per-epoch", "--granularity")
    from nmsim.cli.recipe_flags import recipe_flag_values
    params = recipe_flag_values(args)
    if args.boundaries:
        params["boundaries"] = parse_boundaries(args.boundaries)
    recipe = make_recipe(args.recipe, SparsityPlan.parse(args.sparsity), args.dense_frac, args.finetune_frac,
                         steps_per_epoch=spe if granularity == "epoch" else None, **params)
    from nmsim.recipes.timeline import timeline  # pandas: imported once the arguments are checked

    frame = timeline(recipe, total, spe)
    if args.format != "table":
        from nmsim.cli.output import render
        print(render(frame, args.format, False, args.columns), end="")
    else:
        import textwrap
        from nmsim.cli.table import render_table
        table = render_table(frame, index=False, columns=args.columns)   # a bad --columns: before any output
        print(textwrap.fill(f"# {recipe.describe()}; {total:,} steps", 100, subsequent_indent="#   "))
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
