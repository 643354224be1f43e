"""Typo-to-error wall time: a misspelt recipe, hardware or pattern name must fail before any tracing.

Each command is run as a fresh ``python -m nmsim`` process (what a user waits for), median of 3; every one
must exit with status 2 and print exactly one line. Goal: under 3 s each (a Python start plus the imports a
parser needs).

Before (commit aaf989e, same commands, median of 3 on the shared 2-core build machine): price with a plan typo
9.7 s (it traced Llama-2-7B first), budget 5.5 s, train 6.2 s, sweep 4.4 s, report 2.4 s, compare 2.0 s,
schedule 1.0 s, price with a hardware typo 0.8 s. After: 0.1-0.3 s each.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

GOAL_SECONDS = 3.0

COMMANDS = [
    ["price", "llama-2-7b", "--hardware", "a100", "--sparsity", "ff=2:x"],
    ["price", "llama-2-7b", "--hardware", "typo"],
    ["budget", "gpt2", "--sparsity", "ff=2:4", "--epochs", "1", "--recipes", "typo"],
    ["compare", "vit-base-16", "--patterns", "2:4,typo"],
    ["report", "--recipes", "typo", "--no-train", "--out", "/tmp/nmsim-bench-typo-report"],
    ["train", "--recipe", "typo"],
    ["sweep", "--recipes", "sr-ste,typo", "--out", "/tmp/nmsim-bench-typo-runs"],
    ["schedule", "typo", "--steps", "10"],
]


def _once(argv: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nmsim", *argv], capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode, proc.stderr


def run(repeats: int = 3) -> list[dict]:
    rows = []
    for argv in COMMANDS:
        results = [_once(argv) for _ in range(repeats)]
        seconds = statistics.median(r[0] for r in results)
        code, err = results[-1][1], results[-1][2]
        one_line = len(err.strip().splitlines()) == 1
        rows.append({"command": "nmsim " + " ".join(argv), "seconds": round(seconds, 2), "exit": code,
                     "one_line": one_line, "goal_met": code == 2 and one_line and seconds < GOAL_SECONDS})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
