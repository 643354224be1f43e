"""``nmsim plot RUNS... --out FILE``: training curves of trainer runs (parsing only)."""
from __future__ import annotations


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
    from nmsim.api.reports import plot_file
    path, curves = plot_file(args)
    print(f"plot: {path} ({curves['folder'].nunique()} runs, {len(curves)} evaluations)")
    return 0
