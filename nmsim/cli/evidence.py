"""``nmsim evidence run`` (the protocol, restartable) and ``nmsim evidence summarize`` (parsing only)."""
from __future__ import annotations

import shlex
import sys


def register(sub) -> None:
    from nmsim.evidence.protocol import Protocol

    d = Protocol()
    p = sub.add_parser("evidence", help="rank recipes with paired-seed intervals and test the paper's "
                                        "training-FLOP claims (reference trainer)")
    esub = p.add_subparsers(dest="evidence_command", metavar="SUBCOMMAND")
    r = esub.add_parser("run", help="run (or resume) the protocol into a folder, then summarize it")
    r.add_argument("--out", default="reports/evidence", help="protocol folder (default reports/evidence)")
    r.add_argument("--task", default=d.task, help=f"trainer task (default {d.task})")
    r.add_argument("--recipes", default="dense,paper",
                   help="recipe list (nmsim.recipes sets allowed), must include dense and sr-ste (default: "
                        "dense,paper: those two and the four progressive recipes)")
    r.add_argument("--patterns", default=",".join(d.patterns),
                   help=f"comma list of ff=N:M items, + between selectors (default {','.join(d.patterns)})")
    r.add_argument("--seeds", type=int, default=d.seeds, help=f"seeds 0..S-1 (default {d.seeds})")
    r.add_argument("--epochs", type=int, default=d.epochs, help=f"epochs per run (default {d.epochs})")
    r.add_argument("--batch", type=int, help="batch (default: the task's)")
    r.add_argument("--lr", type=float, help="peak learning rate (default: the task's)")
    r.add_argument("--dense-frac", type=float, default=d.dense_frac, help=f"dense warm-up (default {d.dense_frac})")
    r.add_argument("--finetune-frac", type=float, default=d.finetune_frac,
                   help=f"binary fine-tune fraction (default {d.finetune_frac})")
    r.add_argument("--beta-rule", default=d.beta_rule,
                   help=f"MDGF beta: paper-fraction, paper or auto-70 (default {d.beta_rule})")
    r.add_argument("--finetune-rule", default=d.srste_finetune_rule,
                   help=f"SR-STE's rule in fine-tune: sr-ste or ste (default {d.srste_finetune_rule})")
    r.add_argument("--eval-every", type=int, default=d.eval_every,
                   help=f"steps between evaluations (0: per epoch; default {d.eval_every})")
    r.add_argument("--metric", default=d.metric, help=f"metric the ranking uses: loss or accuracy (default {d.metric})")
    r.add_argument("--level", type=float, default=d.level, help="confidence level (default 0.95)")
    r.add_argument("--workers", type=int, default=2, help="parallel runs (default 2, one torch thread each)")
    r.add_argument("--executor", default="local", help="local | ray")
    r.add_argument("--device", default="cpu", help="cpu | cuda")
    r.set_defaults(func=cmd_run)
    s = esub.add_parser("summarize", help="(re)write the summaries of a protocol folder from its finished runs")
    s.add_argument("folder", nargs="?", default="reports/evidence")
    s.set_defaults(func=cmd_summarize)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def cmd_run(args) -> int:
    from nmsim.api.training import evidence_run
    command = "nmsim " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "nmsim evidence run"
    evidence_run(args, command)
    return 0


def cmd_summarize(args) -> int:
    from nmsim.api.training import evidence_summary
    evidence_summary(args.folder)
    return 0
