"""Mixtral-8x7B, the mixture of experts (no shape-generic graph): first and second questions at one shape.

``nmsim price mixtral-8x7b --mode prefill --batch 2`` as a user types it, each a fresh ``python -m nmsim`` process
(bytecode cached, ``bench/cli_env.py``): the first call on an empty cache (torch imported, the shape traced and
kept), a second question at that shape (another accelerator: the kept graph, no torch) and the first question
again (its kept answer). Medians of 3 (wall and CPU seconds, whether torch was imported), with the load average.
Goal: the second question at a shape does not trace (no torch).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cli_env import cli_env

REPO = Path(__file__).resolve().parent.parent
ASK = ["price", "mixtral-8x7b", "--mode", "prefill", "--batch", "2", "--hardware"]
PROBE = ("import sys\nfrom nmsim.cli import main\nrc = main(sys.argv[1:])\nprint('torch' in sys.modules, "
         "file=sys.stderr)\nsys.exit(rc)")


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _call(cache: str, hardware: str) -> tuple[float, float, bool]:
    env = cli_env({"NMSIM_CACHE_DIR": cache})
    env.pop("NMSIM_CACHE", None)
    used, start = _cpu(), time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE, *ASK, hardware], capture_output=True, text=True, env=env,
                         check=True, timeout=900, cwd=REPO)
    return time.perf_counter() - start, _cpu() - used, out.stderr.strip().splitlines()[-1] == "True"


def run(repeats: int = 3) -> list[dict]:
    calls: dict[str, list] = {"first call (empty cache)": [], "another question at the shape (kept graph)": [],
                              "the same question again (kept answer)": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            for (name, got), hardware in zip(calls.items(), ("a100", "h100", "a100")):
                got.append(_call(cache, hardware))
    rows = []
    for name, got in calls.items():
        rows.append({"bench": f"mixtral-8x7b price, {name}", "command": "nmsim " + " ".join(ASK) + " a100|h100",
                     "median_seconds": round(statistics.median(g[0] for g in got), 3),
                     "median_cpu_seconds": round(statistics.median(g[1] for g in got), 3),
                     "imports_torch": any(g[2] for g in got), "runs": repeats,
                     "load": round(os.getloadavg()[0], 2),
                     "goal_met": None if name.startswith("first") else not any(g[2] for g in got)})
    return rows


if __name__ == "__main__":
    import pandas as pd
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(pd.DataFrame(run()).to_string())
