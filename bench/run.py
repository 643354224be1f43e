"""Run every benchmark (bench/bench_*.py, each with ``run() -> list[dict]``) and print their rows.

Speed goals are checked here, side by side in one run, never in unit tests: ``make bench`` or
``python bench/run.py [NAME ...]`` (NAME = trace, pricing, train, ...).
"""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = [p.stem.removeprefix("bench_") for p in sorted(HERE.glob("bench_*.py"))]
    if any(a in ("-h", "--help") for a in argv):
        print(f"usage: python bench/run.py [NAME ...]   (default: all)\nNAME: {', '.join(names)}\n{__doc__}")
        return 0
    unknown = [a for a in argv if a not in names]
    if unknown:
        print(f"bench/run.py: no benchmark {unknown[0]!r} (one of {', '.join(names)})", file=sys.stderr)
        return 2
    wanted = set(argv)
    status = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        start = time.perf_counter()
        rows = module.run()
        table = pd.DataFrame(rows)
        print(f"\n## {name}  ({time.perf_counter() - start:.1f} s)")
        with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 60):
            print(table.to_string(index=False))
        if "goal_met" in table and not table["goal_met"].all():
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
