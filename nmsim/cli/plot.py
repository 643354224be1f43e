"""``nmsim plot RUNS... --out FILE``: training curves of trainer runs (parsing only)."""
from __future__ import annotations

from nmsim.errors import UserError

X_NAMES = {"flops": "train_flops", "steps": "step"}


def register(sub) -> None:
    p = sub.add_parser("plot", help="plot accuracy and loss vs cumulative training FLOPs and vs steps "
                                    "(one PNG or HTML; per-recipe curves with seed bands)")
    p.add_argument("runs", nargs="+", metavar="RUNS", help="runs folders (nmsim sweep / evidence output, or one run)")
    p.add_argument("--out", required=True, help="output file, .png or .html")
    p.add_argument("--metrics", default="accuracy,loss", help="comma list: accuracy, loss (default both)")
    p.add_argument("--x", default="flops,steps", help="comma list: flops, steps (default both)")
    p.add_argument("--task", help="only runs of this task")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args) -> int:
    from nmsim.io.write import check_output_file
    from nmsim.report.runs import load_curves

    check_output_file(args.out, "plot", mine_only=True)
    xs = []
    for name in (s.strip() for s in args.x.split(",") if s.strip()):
        if name not in X_NAMES:
            raise UserError(f"unknown x axis {name!r} (flops or steps)", "--x")
        xs.append(X_NAMES[name])
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not xs or not metrics:
        raise UserError("nothing to plot", "--x" if not xs else "--metrics")
    curves = load_curves(args.runs)   # one frame: settings that differ between the folders name their runs
    from nmsim.report.curves import plot_curves, save_figure   # matplotlib: after the checks
    if args.task:
        curves = curves[curves["task"] == args.task]
        if curves.empty:
            raise UserError(f"no runs of task {args.task!r}", "--task")
    path = save_figure(plot_curves(curves, metrics, xs), args.out, curves,
                       title=f"Training curves: {', '.join(args.runs)}")
    print(f"plot: {path} ({curves['folder'].nunique()} runs, {len(curves)} evaluations)")
    return 0
