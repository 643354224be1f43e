"""Widest line of each command's table output (goal: every table fits 100 columns).

Runs the README's table-printing commands in-process and measures the longest stdout line.
"""
from __future__ import annotations

import contextlib
import io
import shlex

COMMANDS = (
    "trace vit-base-16 --by role",
    "schedule sdgf-stepwise --sparsity ff=1:16 --epochs 350 --steps-per-epoch 313",
    "budget vit-base-16 --sparsity ff=1:16 --recipes all --epochs 350 --dataset-size 1281167 --batch 4096 "
    "--hardware a100",
    "price llama-3-8b --hardware h100-sxm5 --sparsity ff=2:4 --phase decode --context 4096",
    "compare vit-base-16 --hardware all --patterns dense,2:4,1:4,1:8,1:16,1:32",
    "price llama-2-7b --hardware a100 --phase decode --batch 1,16 --context 1k:32k:x2",
    "hardware list",
    "cluster budget llama-3-8b --system dgx-h100 --nodes 8 --seq 2048 --global-batch 512 --tokens 1e12 "
    "--recipes dense,sr-ste --sparsity ff=2:4",
)
LIMIT = 100


def widest(command: str) -> tuple[int, int]:
    from nmsim.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        try:
            rc = main(shlex.split(command))
        except SystemExit as exc:  # argparse errors
            rc = exc.code
    lines = buf.getvalue().splitlines() or [""]
    return rc, max(len(line) for line in lines)


def run() -> list[dict]:
    rows = []
    for command in COMMANDS:
        rc, width = widest(command)
        rows.append({"bench": "table_widths", "command": "nmsim " + command, "rc": rc, "widest_line": width,
                     "goal_met": rc == 0 and width <= LIMIT})
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['widest_line']:5d}  rc={row['rc']}  {row['command']}")
