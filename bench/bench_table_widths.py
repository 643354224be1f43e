"""Widest line of every command's human output (goal: each fits 100 columns, no raw ``e+``/``e-`` floats).

``python bench/bench_table_widths.py [NAME ...]`` runs each case in-process in a scratch folder (nothing is
written into the repository) and prints the widest stdout line, the widest stderr line and whether a raw
float such as ``7.4e-05`` shows. ``tests/test_table_widths.py`` runs the same cases (the ``heavy`` ones,
which train, with tiny settings). Cases marked ``heavy`` train networks or price a whole report.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

LIMIT = 100
ROOT = Path(__file__).resolve().parent.parent
# a raw float in a table: 7.4e-05, 1.2E+12 (a version string or a plan such as ff=1:16 never matches)
RAW_FLOAT = re.compile(r"\b\d(?:\.\d+)?[eE][+-]\d+\b")


class Case(NamedTuple):
    name: str
    command: str               # nmsim arguments; {tmp} is the scratch folder, {root} the repository
    heavy: bool = False        # trains or builds a report: tiny settings in the unit test, full here
    needs: tuple = ()          # cases whose outputs this one reads (run first, same scratch folder)
    tiny: str = ""             # a cheaper command of the same shape for the unit test (default: the same)


TRAIN = "train --task digits --epochs 1 --recipe sr-ste --sparsity ff=2:4 --out {tmp}/run1"
SWEEP = ("sweep --task digits --epochs 1 --seeds 1 --recipes dense,sr-ste,sdgf-geometric --patterns 1:4,1:8 "
         "--out {tmp}/runs")

CASES = (
    # trace
    Case("trace", "trace vit-base-16"),
    Case("trace --by op", "trace vit-base-16 --by op"),
    Case("trace --by layer llama", "trace llama-3-8b --by layer"),
    Case("trace --by module", "trace gpt2 --by module"),
    Case("trace --by kind", "trace t5-base --by kind"),
    Case("trace --paper", "trace vit-base-16 --paper"),
    Case("trace hf-config", "trace examples/mistral-7b/config.json --by layer"),
    # price
    Case("price", "price vit-base-16 --hardware a100 --sparsity ff=2:4"),
    Case("price --by op", "price vit-base-16 --hardware a100 --sparsity ff=1:8,qk=1:4 --by op"),
    Case("price --by layer", "price llama-2-7b --hardware h100 --sparsity ff=2:4 --by layer"),
    Case("price --by pass training", "price vit-large-16 --hardware h100 --sparsity ff=2:4 --mode training "
         "--by pass"),
    Case("price --by kernel decode", "price llama-3-8b --hardware h100-sxm5 --sparsity ff=2:4 --mode decode "
         "--context 4096 --by kernel"),
    Case("price decode", "price llama-3-8b --hardware h100-sxm5 --sparsity ff=2:4 --mode decode --context 4096"),
    Case("price int4", "price llama-2-7b --hardware a100 --mode decode --weight-dtype int4 --sparsity ff=2:4"),
    Case("price --memory", "price llama-2-70b --hardware h200 --mode decode --context 32k --batch 8 --memory"),
    Case("price sweep decode", "price llama-2-7b --hardware a100 --mode decode --batch 1,16 --context 1k:32k:x2",
         tiny="price gpt2 --hardware a100 --mode decode --batch 1,16 --context 128:1k:x2"),
    Case("price sweep image", "price vit-base-16 --hardware a100 --image-size 224,384 --batch 1,256",
         tiny="price vit-tiny --hardware a100 --image-size 224,384 --batch 1,256"),
    Case("price systolic", "price vit-base-16 --hardware vegeta --sparsity ff=1:4 --by kernel"),
    # compare
    Case("compare", "compare vit-base-16 --hardware a100,h100"),
    Case("compare all", "compare vit-base-16 --hardware all --patterns dense,2:4,1:4,1:8,1:16,1:32"),
    Case("compare plans", "compare llama-2-7b --hardware a100,h200,ideal-nm --mode decode --context 8192 "
         "--patterns dense,2:4,1:8,2:4/1:4"),
    # budget
    Case("budget", "budget vit-base-16 --sparsity ff=1:16 --recipes all --epochs 350 --dataset-size 1281167 "
         "--batch 4096 --hardware a100"),
    Case("budget flops only", "budget vit-base-16 --sparsity ff=1:16 --epochs 350 --dataset-size 1281167 "
         "--batch 4096"),
    Case("budget patterns", "budget llama-2-7b --sparsity ff=2:4,qkv=2:4 --recipes all --patterns "
         "2:4,1:8,ff=1:16+qkv=1:4 --tokens 1e12 --batch 512 --hardware h100",
         tiny="budget gpt2 --sparsity ff=2:4,qkv=2:4 --recipes all --patterns 2:4,1:8,ff=1:16+qkv=1:4 "
         "--tokens 1e12 --batch 512 --hardware h100"),
    # schedule
    Case("schedule", "schedule sdgf-stepwise --sparsity ff=1:16 --epochs 350 --steps-per-epoch 313"),
    Case("schedule geometric", "schedule sdgf-geometric --sparsity ff=1:16,qk=1:8,qkv@0-5=2:8 --steps 100000 "
         "--dense-frac 0.1 --finetune-frac 0.1"),
    Case("schedule mdgf", "schedule mdgf-exp --sparsity ff=1:32,qk=1:4 --epochs 350 --steps-per-epoch 313"),
    Case("schedule custom", "schedule custom --sparsity ff=1:16 --steps 10000 "
         "--boundaries '0:ff=4:8,qk=2:4;0.25:ff=2:8,qk=1:4;0.5:ff=1:8,qk=1:4;0.75:ff=1:16,qk=1:4'"),
    # hardware
    Case("hardware list", "hardware list"),
    *(Case(f"hardware show {n}", f"hardware show {n}") for n in
      ("a100", "h100-sxm5", "h200", "v100", "tpu-v4", "ideal-nm", "vegeta", "s2ta", "highlight")),
    Case("hardware validate", "hardware validate {root}/nmsim/data/hardware_specs/a100-sxm4-80gb.yaml "
         "{root}/examples/my-accelerator.yaml"),
    # cluster
    Case("cluster plan", "cluster plan llama-2-7b --system dgx-h100 --nodes 4 --seq 4096 --global-batch 1024 "
         "--top 8"),
    Case("cluster plan sparse", "cluster plan llama-2-70b --system dgx-a100 --nodes 16 --recipe sdgf-stepwise "
         "--sparsity ff=2:4,qkv=2:4 --tokens 1e12 --top 5"),
    Case("cluster budget", "cluster budget llama-3-8b --system dgx-h100 --nodes 8 --seq 2048 --global-batch 512 "
         "--tokens 1e12 --recipes dense,sr-ste,mdgf-exp,sdgf-stepwise,sdgf-geometric --sparsity ff=2:4",
         tiny="cluster budget llama-3-8b --system dgx-h100 --nodes 1 --seq 2048 --global-batch 512 --tokens 1e12 "
         "--recipes dense,sdgf-geometric --sparsity ff=2:4"),
    Case("cluster validate", "cluster validate --fit",
         tiny="cluster validate --fit --only megatron-1.7b,megatron-3.6b,nemo-llama2-7b,llama3-405b-8k"),
    Case("cluster systems", "cluster systems"),
    # validation, cache, export
    Case("validate", "validate", tiny="validate --no-refit"),   # the same tables without the fits' time
    Case("validate --engines", "validate --engines"),
    Case("cache info", "cache info"),
    Case("export", "export vit-base-16 --sparsity ff=1:4 --format scalesim --out {tmp}/export"),
    # trainer, sweep, evidence, plot, report
    Case("train", TRAIN, heavy=True),
    Case("sweep", SWEEP, heavy=True),
    Case("plot", "plot {tmp}/runs --out {tmp}/curves.png", needs=("sweep",)),
    Case("evidence summarize", "evidence summarize {tmp}/evidence", heavy=True),
    Case("report", "report --no-train --hardware a100,h100 --patterns dense,2:4,1:8 --recipes sr-ste,mdgf-exp "
         "--name widths --out {tmp}/report", heavy=True,
         tiny="report --no-train --hardware a100 --patterns dense,2:4 --recipes sr-ste --out {tmp}/report"),
)


def _prepare(case: Case, tmp: Path) -> None:
    """Inputs a case reads: the committed evidence protocol is copied (summarize rewrites its folder)."""
    if case.name == "evidence summarize" and not (tmp / "evidence").exists():
        src, dst = ROOT / "reports" / "evidence", tmp / "evidence"
        dst.mkdir()
        for name in ("protocol.json", "timing.json"):
            shutil.copy(src / name, dst / name)
        shutil.copytree(src / "protocol-runs", dst / "protocol-runs")


def argv(case: Case, tmp: Path, tiny: bool = False) -> list[str]:
    text = (case.tiny if tiny and case.tiny else case.command).format(tmp=tmp, root=ROOT)
    return shlex.split(text)


def measure(case: Case, tmp: Path, tiny: bool = False) -> dict:
    """Run one case in-process from the repository root; stdout/stderr widths and raw floats."""
    from nmsim.cli import main

    _prepare(case, tmp)
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv(case, tmp, tiny))
            except SystemExit as exc:  # argparse errors
                rc = exc.code
    finally:
        os.chdir(cwd)
    lines = out.getvalue().splitlines() or [""]
    widest = max(lines, key=len)
    return {"case": case.name, "rc": rc, "stdout_width": len(widest), "widest": widest,
            "stderr_width": max(map(len, err.getvalue().splitlines() or [""])),
            "raw_floats": sorted(set(RAW_FLOAT.findall(out.getvalue()))), "stdout": out.getvalue(),
            "stderr": err.getvalue()}


def run(names: list[str] | None = None) -> list[dict]:
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="nmsim-widths-"))
    try:
        for case in CASES:
            if names and case.name not in names and case.name.split()[0] not in names:
                continue
            r = measure(case, tmp)
            rows.append({"bench": "table_widths", "case": case.name, "command": "nmsim " + case.command,
                         "rc": r["rc"], "widest_line": r["stdout_width"], "stderr_widest": r["stderr_width"],
                         "raw_floats": " ".join(r["raw_floats"][:3]),
                         "goal_met": r["rc"] == 0 and r["stdout_width"] <= LIMIT and not r["raw_floats"]})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for row in run(sys.argv[1:]):
        print(f"{row['widest_line']:5d} {row['stderr_widest']:5d}  rc={row['rc']}  {row['case']:<26} "
              f"{row['raw_floats']}", flush=True)
