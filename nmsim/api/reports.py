"""``report``: the trade-off report folder (accuracy, training FLOPs, inference cost, accelerators) and ``plot``
(training curves of trainer runs)."""
from __future__ import annotations

from pathlib import Path

from nmsim.errors import UserError


def report_folder(args, echo=print) -> Path:
    """``nmsim report``: the report written into ``args.out`` (default ``reports/<name>``); the folder."""
    from nmsim.io import check_output_folder
    from nmsim.report.options import parse_hardware, parse_name, parse_patterns, parse_recipes

    name = parse_name(args.name) or (Path(args.out).name if args.out else "default")   # the title: --name, else the folder
    out = args.out or f"reports/{name}"
    check_output_folder(out)   # a user's own file or folder at --out: refused before any work, never touched
    parse_recipes(args.recipes)   # typos: before imports
    priced = [hw.name for hw in parse_hardware(args.hardware)]
    from nmsim.graph import load_workload
    from nmsim.sparsity.plan import SparsityPlan
    cfg = load_workload(args.workload)   # a workload typo too (no pandas, no torch), and a layer past the model
    for plan in parse_patterns(args.patterns):
        SparsityPlan.parse(plan, "--patterns").check_depth(cfg)
    if args.cluster:   # and --cluster / --cluster-tokens: grammar, system, counts
        from nmsim.cluster.system import load_system
        from nmsim.hardware import load
        from nmsim.report.options import check_cluster
        _, system, nodes = check_cluster(args.cluster, args.cluster_tokens)
        priced.append(load(load_system(system, nodes).device).name)
    from nmsim.hardware.prices import parse_overrides
    prices = parse_overrides(args.price_per_hour, priced)   # the parsing of price, compare and budget
    from nmsim.report.study import StudyOptions, run_study

    opts = StudyOptions(workload=args.workload, hardware=args.hardware, patterns=args.patterns, recipes=args.recipes,
                        accuracy=args.accuracy, epochs=args.epochs, steps=args.steps, tokens=args.tokens,
                        dataset_size=args.dataset_size, steps_per_epoch=args.steps_per_epoch, batch=args.batch,
                        dtype=args.dtype, train=not args.no_train, train_epochs=args.train_epochs,
                        sweep_runs=args.sweep_runs, cluster=args.cluster, cluster_tokens=args.cluster_tokens,
                        cluster_plan=args.cluster_plan, price_per_hour=prices, name=name)
    return Path(run_study(opts, out, echo=echo))


X_NAMES = {"flops": "train_flops", "steps": "step"}


def plot_file(args):
    """``nmsim plot``: the training curves of ``args.runs`` drawn into ``args.out`` (.png or .html); (the file,
    the curves drawn)."""
    from nmsim.io.write import check_output_file

    check_output_file(args.out, "plot", mine_only=True)
    xs = []
    for name in (s.strip() for s in args.x.split(",") if s.strip()):
        if name not in X_NAMES:
            raise UserError(f"unknown x axis {name!r} (flops or steps)", "--x")
        xs.append(X_NAMES[name])
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not xs or not metrics:
        raise UserError("nothing to plot", "--x" if not xs else "--metrics")
    from nmsim.curves import METRICS
    for m in metrics:   # before the runs are read
        if m not in METRICS:
            raise UserError(f"unknown metric {m!r} (one of {', '.join(METRICS)})", "--metrics")
    from nmsim.curves.runs import load_curves
    curves = load_curves(args.runs)   # one frame: settings that differ between the folders name their runs
    from nmsim.curves.plot import plot_curves, save_figure   # matplotlib: after the checks
    if args.task:
        curves = curves[curves["task"] == args.task]
        if curves.empty:
            raise UserError(f"no runs of task {args.task!r}", "--task")
    path = save_figure(plot_curves(curves, metrics, xs), args.out, curves,
                       title=f"Training curves: {', '.join(args.runs)}")
    return path, curves
