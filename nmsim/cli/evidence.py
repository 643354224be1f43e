"""``nmsim evidence run`` (the protocol, restartable) and ``nmsim evidence summarize`` (parsing only)."""
from __future__ import annotations

import shlex
import sys


def _protocol_args(r, d, g: dict) -> None:
    """The options that define a protocol (``run`` and ``price``); ``g``: the GPU protocol's defaults."""
    def both(name, cpu):
        return f"{cpu}; on CUDA {g[name]}" if name in g and g[name] != cpu else f"{cpu}"

    r.add_argument("--task", help=f"trainer task (default {both('task', d.task)})")
    r.add_argument("--workload", help="trainer model (default: the task's"
                                      + (f"; on CUDA {g['workload']})" if 'workload' in g else ")"))
    r.add_argument("--recipes", default="dense,paper",
                   help="recipe list (nmsim.recipes sets allowed), must include dense and sr-ste (default: "
                        "dense,paper: those two and the four progressive recipes)")
    r.add_argument("--patterns", help="comma list of ff=N:M items, + between selectors (default "
                                      f"{both('patterns', ','.join(d.patterns)).replace(chr(39), '')})")
    r.add_argument("--seeds", type=int, default=d.seeds, help=f"seeds 0..S-1 (default {d.seeds})")
    r.add_argument("--epochs", type=int, help=f"epochs per run (default {both('epochs', d.epochs)})")
    r.add_argument("--batch", type=int, help="batch (default: the task's" +
                                             (f"; on CUDA {g['batch']})" if 'batch' in g else ")"))
    r.add_argument("--lr", type=float, help="peak learning rate (default: the task's)")
    r.add_argument("--dense-frac", type=float, default=d.dense_frac, help=f"dense warm-up (default {d.dense_frac})")
    r.add_argument("--finetune-frac", type=float, default=d.finetune_frac,
                   help=f"binary fine-tune fraction (default {d.finetune_frac})")
    r.add_argument("--beta-rule", default=d.beta_rule,
                   help=f"MDGF beta: paper-fraction, paper or auto-70 (default {d.beta_rule})")
    r.add_argument("--finetune-rule", default=d.srste_finetune_rule,
                   help=f"SR-STE's rule in fine-tune: sr-ste or ste (default {d.srste_finetune_rule})")
    r.add_argument("--eval-every", type=int,
                   help=f"steps between evaluations (0: per epoch; default {both('eval_every', d.eval_every)})")
    r.add_argument("--precision", help=f"fp32, tf32 or bf16 autocast (default {both('precision', d.precision)})")
    r.add_argument("--compile", action="store_true", default=None, help="run the forward through torch.compile")
    r.add_argument("--metric", default=d.metric, help=f"metric the ranking uses: loss or accuracy (default {d.metric})")
    r.add_argument("--level", type=float, default=d.level, help="confidence level (default 0.95)")
    r.add_argument("--device", default="cpu", help="cpu | cuda (CUDA: the GPU protocol's defaults)")


def register(sub) -> None:
    from nmsim.evidence.protocol import GPU_PROTOCOL, Protocol

    d, g = Protocol(), {k: ",".join(v) if isinstance(v, tuple) else v for k, v in GPU_PROTOCOL.items()}
    p = sub.add_parser("evidence", help="rank recipes with paired-seed intervals and test the paper's "
                                        "training-FLOP claims (reference trainer)")
    esub = p.add_subparsers(dest="evidence_command", metavar="SUBCOMMAND")
    r = esub.add_parser("run", help="run (or resume) the protocol into a folder, then summarize it")
    r.add_argument("--out", default="reports/evidence", help="protocol folder (default reports/evidence)")
    _protocol_args(r, d, g)
    r.add_argument("--workers", type=int, default=2, help="parallel runs (default 2, one torch thread each)")
    r.add_argument("--executor", default="local", help="local | ray")
    r.set_defaults(func=cmd_run)
    pr = esub.add_parser("price", help="the protocol's predicted device-hours on one GPU, priced by nmsim before "
                                       "it runs (the GPU protocol with --device cuda)")
    _protocol_args(pr, d, g)
    pr.add_argument("--hardware", default="h100", help="device to price on (default h100)")
    pr.set_defaults(func=cmd_price)
    s = esub.add_parser("summarize", help="(re)write the summaries of a protocol folder from its finished runs")
    s.add_argument("folder", nargs="?", default="reports/evidence")
    s.add_argument("--from", "--source", dest="source", metavar="SRC",
                   help="first copy the finished seeds of protocol folder SRC into FOLDER (records only, no "
                        "checkpoints; SRC is left as it is)")
    s.set_defaults(func=cmd_summarize)
    c = esub.add_parser("check", help="retrain runs of a protocol folder under other ATen CPU capabilities and "
                                      "compare their finals in seed standard deviations")
    c.add_argument("folder", nargs="?", default="reports/evidence")
    c.add_argument("--capabilities", default="native,avx2",
                   help="ATEN_CPU_CAPABILITY values, the first the baseline (native: unset; default, avx2, "
                        "avx512; default native,avx2)")
    c.add_argument("--recipes", help="recipes to retrain (default: dense and the reference)")
    c.add_argument("--seeds", default="0", help="comma list of seeds to retrain (default 0)")
    c.set_defaults(func=cmd_check)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def cmd_price(args) -> int:
    from nmsim.api.training import evidence_price

    table, text = evidence_price(args)
    from nmsim.cli.price import wrap_comment
    from nmsim.cli.table import render_table
    print(wrap_comment(text + "\n"), end="")
    print(render_table(table, index=False), end="")
    return 0


def cmd_run(args) -> int:
    from nmsim.api.training import evidence_run
    command = "nmsim " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "nmsim evidence run"
    evidence_run(args, command)
    return 0


def cmd_check(args) -> int:
    from nmsim.api.training import evidence_check

    result = evidence_check(args, echo=lambda line: print(line, file=sys.stderr))
    print(_check_text(result, args.folder))
    return 1 if result["exceeded"] else 0


def _amount(value: float, metric: str, sign: str = "") -> str:
    """A difference or spread in the metric's units, 3 significant digits (machine differences are tiny)."""
    return f"{100 * value:{sign}.3g} points" if metric == "accuracy" else f"{value:{sign}.3g} nats"


def _check_text(result: dict, folder: str) -> str:
    """The regeneration check for people: one row per run x metric x capability pair, then the verdict."""
    import pandas as pd

    from nmsim.cli.table import render_table

    rows = result["rows"]
    show = pd.DataFrame({
        "run": [f"{r} {p} s{s}" for r, p, s in zip(rows["recipe"], rows["pattern"], rows["seed"])],
        "metric": rows["metric"],
        "kernels": [f"{b} vs {o}" for b, o in zip(rows["base_kernels"], rows["other_kernels"])],
        "base": [f"{v:.5f}" for v in rows["base_value"]],
        "difference": [_amount(d, m, "+") for d, m in zip(rows["delta"], rows["metric"])],
        "seed_sd": [_amount(v, m) for v, m in zip(rows["seed_sd"], rows["metric"])],
        "in_sd": [f"{v:.3g}" for v in rows["delta_in_sd"]],
        "tolerance_sd": [f"{v:.3f}" for v in rows["tolerance_in_sd"]],
        "within": ["n/a" if w is None else "yes" if w else "NO" for w in rows["within"]]})
    worst = rows.loc[rows["delta_in_sd"].idxmax()] if len(rows) else None
    tail = (f"regeneration: {result['exceeded']} of {len(rows)} differences exceed one standard error of the "
            f"seed mean; largest {worst['delta_in_sd']:.3g} seed sd ({worst['recipe']} {worst['pattern']} seed "
            f"{worst['seed']}, {worst['metric']}); files {folder}/regeneration.csv, regeneration.json"
            if worst is not None else "regeneration: nothing compared")
    import textwrap
    return render_table(show, index=False) + textwrap.fill(tail, 100)


def cmd_summarize(args) -> int:
    from nmsim.api.training import evidence_summary
    evidence_summary(args.folder, source=args.source)
    return 0
