"""Run every benchmark (bench/bench_*.py, each with ``run() -> list[dict]``) and print their rows.

Speed goals are checked here, side by side in one run, never in unit tests: ``make bench`` or
``python bench/run.py [--all] [NAME ...]`` (NAME = trace, pricing, train, ...). The machine may be shared, so every
figure is printed with the 1-minute load average measured with it (``load``: the bench's own per-row value, else
the load before-after that bench ran). The user-facing benches run first; the long validation runs (shapes:
every zoo workload traced at 20+ shapes, about an hour; scalesim: SCALE-Sim live, about 30 min) run only when
named or with ``--all``. The run ends with the list of goals met and not met; the exit status is 1 when one is
not met or a bench fails.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
FIRST = ("first_call", "peers", "pricing", "cluster", "report", "typo", "trace", "train", "table_widths", "bad_input")
LAST = ("shapes", "scalesim")
LABEL_KEYS = ("metric", "measure", "bench", "what", "case", "name", "command", "workload", "mode", "kind", "region",
              "shape", "pattern", "method")


def ordered(names: list[str]) -> list[str]:
    """User-facing benches first (in FIRST's order), then any others, then the long validation runs."""
    rank = {n: i for i, n in enumerate(FIRST)}
    rank.update({n: len(FIRST) + 1 + i for i, n in enumerate(LAST)})
    return sorted(names, key=lambda n: (rank.get(n, len(FIRST)), n))


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def _label(row: dict) -> str:
    return " ".join(str(row[k]) for k in LABEL_KEYS if k in row and str(row[k]) not in ("", "nan", "None"))


def run_one(name: str) -> tuple[pd.DataFrame | None, str]:
    """(rows, error text): one bench module's rows, each with a ``load``."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"bench_{name}.py")
    module = importlib.util.module_from_spec(spec)
    before, start = _load(), time.perf_counter()
    try:
        spec.loader.exec_module(module)
        rows = module.run()
    except Exception:  # noqa: BLE001 - one bench failing must not hide the others' numbers
        print(f"\n## {name}  FAILED after {time.perf_counter() - start:.1f} s\n{traceback.format_exc()}", flush=True)
        return None, traceback.format_exc().strip().splitlines()[-1]
    after = _load()
    table = pd.DataFrame(rows)
    if "load" not in table:
        table["load"] = f"{before}-{after}"
    table["load"] = table["load"].where(table["load"].notna(), f"{before}-{after}")
    print(f"\n## {name}  ({time.perf_counter() - start:.1f} s, load {before} -> {after})", flush=True)
    with pd.option_context("display.width", 250, "display.max_columns", None, "display.max_colwidth", 80):
        print(table.to_string(index=False), flush=True)
    return table, ""


def main(argv: list[str]) -> int:
    names = [p.stem.removeprefix("bench_") for p in sorted(HERE.glob("bench_*.py"))]
    if any(a in ("-h", "--help") for a in argv):
        print(f"usage: python bench/run.py [--all] [NAME ...]   (default: all but {', '.join(LAST)})\n"
              f"NAME: {', '.join(ordered(names))}\n{__doc__}")
        return 0
    every = "--all" in argv
    argv = [a for a in argv if a != "--all"]
    unknown = [a for a in argv if a not in names]
    if unknown:
        print(f"bench/run.py: no benchmark {unknown[0]!r} (one of {', '.join(names)})", file=sys.stderr)
        return 2
    wanted = [n for n in ordered(names) if (n in argv if argv else every or n not in LAST)]
    if not argv and not every:
        print(f"# not run: {', '.join(LAST)} (long validation runs: name them or pass --all)", flush=True)
    print(f"# nmsim bench: {', '.join(wanted)}; {os.cpu_count()} cores, load average "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min) at start", flush=True)
    goals = []   # (met, bench, label, load)
    for name in wanted:
        table, error = run_one(name)
        if table is None:
            goals.append((False, name, f"bench failed: {error}", _load()))
            continue
        if "goal_met" in table:
            for row in table.to_dict("records"):
                if isinstance(row.get("goal_met"), (bool,)) or row.get("goal_met") in (0, 1):
                    goals.append((bool(row["goal_met"]), name, _label(row), row["load"]))
    print(f"\n## goals  ({sum(g[0] for g in goals)} met, {sum(not g[0] for g in goals)} not met)")
    for met, name, label, load in sorted(goals, key=lambda g: g[0]):
        print(f"{'met    ' if met else 'NOT MET'}  {name}: {label}  (load {load})")
    return 0 if all(g[0] for g in goals) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
