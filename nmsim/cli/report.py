"""``nmsim report``: one page joining accuracy, training FLOPs, inference cost and accelerators (parsing only)."""
from __future__ import annotations

import argparse
import time


def register(sub) -> None:
    p = sub.add_parser("report", help="write the HTML/markdown report (default: the ViT-B/16 study of the paper)")
    from nmsim.cli.workload import add_workload
    from nmsim.recipes import PAPER_RECIPES
    add_workload(p, "--workload", "vit-base-16")
    p.add_argument("--hardware", default="all", help="comma list of accelerator specs, or all (default)")
    p.add_argument("--patterns", default="default",
                   help="comma list: N:M for FF, or ff=1:8+qk=1:4 items; 'default' = dense,2:4,...,1:128 + the "
                        "paper's FF+QK/QKV mixes; with an accuracy CSV, the CSV's plans")
    p.add_argument("--recipes", default="paper",
                   help=f"comma list of recipes; 'paper' = {','.join(PAPER_RECIPES)} "
                        "(with an accuracy CSV: the CSV's recipes)")
    p.add_argument("--accuracy", default="paper",
                   help="paper (bundled results), a runs folder from 'nmsim sweep' (replaces the quick trainer sweep) "
                        "or a CSV with columns plan, recipe, value")
    p.add_argument("--epochs", type=float,
                   help="training run priced, in epochs (image models default to 350 epochs of ImageNet-1K at "
                        "batch 4096, or the length the accuracy source states)")
    p.add_argument("--budget", dest="epochs", type=float, help=argparse.SUPPRESS)   # the old name of --epochs
    p.add_argument("--tokens", type=float,
                   help="training run priced, in tokens (language models default to 20 per parameter at the "
                        "workload's batch x sequence)")
    p.add_argument("--steps", type=float, help="training run priced, in optimizer steps")
    p.add_argument("--dataset-size", type=float, help="samples per epoch (with --epochs)")
    p.add_argument("--steps-per-epoch", type=float, help="steps per epoch (with --epochs and --batch)")
    p.add_argument("--batch", type=float, help="training batch (default: 4096 for image models, else the "
                                               "accuracy source's or the workload's)")
    p.add_argument("--dtype", default="bf16", help="datatype priced on the accelerators (default bf16)")
    p.add_argument("--no-train", action="store_true",
                   help="no quick reference-trainer sweep (image workloads only: digits, trained once and kept in "
                        "OUT/trainer-runs and the cache)")
    p.add_argument("--train-epochs", type=int, default=10, help="epochs of each quick trainer run (default 10)")
    p.add_argument("--sweep-runs", metavar="CSV|DIR,...",
                   help="per-run tables of 'nmsim sweep' (sweep_runs.csv, or folders of *runs.csv such as "
                        "reports/trainer-sweep): adds a seed-sweep section")
    p.add_argument("--cluster", metavar="WORKLOAD@SYSTEM[:NODES]",
                   help="add cluster sections (run budget per recipe, parallel layouts; nmsim cluster), e.g. "
                        "llama-2-7b@dgx-h100:4")
    p.add_argument("--cluster-tokens", type=float, default=1e12, help="training tokens of the cluster run (1e12)")
    p.add_argument("--cluster-plan", default="ff=2:4", help="N:M plan of the cluster run's recipes (ff=2:4)")
    from nmsim.cli.price import add_price_per_hour
    add_price_per_hour(p)
    p.add_argument("--name", help="report name (the title; default: the --out folder's name; default output "
                                  "reports/<name>)")
    p.add_argument("--out", help="output folder (default reports/default, or reports/<name>)")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from nmsim.api.reports import report_folder
    started = time.perf_counter()
    path = report_folder(args, echo=print)
    print(f"report: {path}/index.html ({time.perf_counter() - started:.1f} s)")
    return 0
