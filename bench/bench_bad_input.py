"""The bad-input corpus, counted and timed: every case of every ``tests/test_bad_input*.py`` in a fresh process.

Each module's ``CLASSES`` (class name -> list of ``(id, files, argv, expected_text)``; ``ENV[id]``, where a module
has it, adds environment variables to a case) is found by globbing, so corpus modules added later are counted
without changing this file. Each CLI case runs as ``python -m nmsim ARGV`` in a fresh temp folder holding the
case's files (``make_files`` of ``tests/test_bad_input.py``), with a fresh state folder and one trace cache for
the whole run (empty at the start, built as cases need graphs, as a user's cache is: a case that traces a
workload first pays for building its shape-generic graph). A case passes when the command exits with status 2, prints exactly
one ``nmsim: error:`` line, equal to the expected text (``{name}`` placeholders match any word), as its last
stderr line, no traceback, and leaves every file byte-identical with nothing added or removed.

``API_CASES`` (class name -> list of ``(id, files, code, expected_text)``, ``code`` a Python expression using
``nmsim``), where present, run the same way as ``python -c``: a pass raises ``nmsim.errors.UserError`` whose
text is the expected one, and nothing else.

Printed: corpus size by class and module, the share that passes, the longest start-to-error time (process start
to exit) with its command and the 5 slowest, and the hypothesis examples per property test of the corpus
modules and of ``tests/test_*propert*.py`` (``bench/hypothesis_only.py`` counts them through hypothesis'
observability callbacks: each reader or API function test feeds it random mutations of valid input). Not a speed goal (no ``goal_met``): ``make bench`` never fails on it.

    python bench/bench_bad_input.py [--no-hypothesis] [--only SUBSTRING] [--jobs N] [--every N]

Times are wall time under whatever else runs: the yardsticks printed first say how loaded the machine was.
"""
from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
API_RUNNER = """
import sys
import nmsim
from nmsim.errors import UserError
scope = {"nmsim": nmsim, "sys": sys, "UserError": UserError}
exec(sys.argv[2], scope)   # the test module's API_PRELUDE: the names its cases' code uses
try:
    eval(compile(sys.argv[1], "<case>", "eval"), scope)
except UserError as exc:
    print("UserError: " + str(exc), file=sys.stderr)
    sys.exit(2)
"""


def _modules() -> list[tuple[str, object]]:
    """(module name, module) of every tests/test_bad_input*.py with a CLASSES or API_CASES table."""
    sys.path[:0] = [str(TESTS), str(ROOT)]   # corpus modules import each other as ``tests.test_bad_input`` too
    os.environ.setdefault("NMSIM_CACHE_DIR", tempfile.mkdtemp(prefix="nmsim-bench-cache-"))
    found = []
    for path in sorted(TESTS.glob("test_bad_input*.py")):
        module = importlib.import_module(path.stem)   # one module object: the DIR marker of make_files is shared
        if hasattr(module, "CLASSES") or hasattr(module, "API_CASES"):
            found.append((path.stem, module))
    return found


def _pattern(expected: str | None):
    if expected is None:
        return None
    parts = re.split(r"(\{[a-z_]+\})", expected)
    return re.compile("".join(r"\S+" if re.fullmatch(r"\{[a-z_]+\}", p) else re.escape(p) for p in parts) + r"\Z")


def _env(folder: Path, cache: Path, state: Path, extra: dict) -> dict:
    from cli_env import cli_env   # bytecode cached, as in a user's install

    env = {k: v for k, v in cli_env().items() if not k.startswith("NMSIM_")}
    env.update({"NMSIM_CACHE_DIR": str(cache), "NMSIM_STATE_DIR": str(state),
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")})
    env.update(extra)
    return env


def _judge(proc, expected, before, after, api: bool) -> str:
    """'' when the case passes, else why not."""
    err = proc.stderr
    if proc.returncode != 2:
        return f"exit {proc.returncode}"
    if "Traceback" in err:
        return "traceback"
    lines = err.splitlines()
    prefix = "UserError: " if api else "nmsim: error: "
    errors = [line for line in lines if line.startswith(prefix)]
    if len(errors) != 1 or not lines or lines[-1] != errors[0]:
        return f"{len(errors)} error lines"
    if not api and not all(line.startswith(("nmsim: ", "# ")) for line in lines):
        return "other stderr lines"
    pattern = _pattern(expected)
    if pattern is not None and not pattern.match(errors[0].removeprefix(prefix)):
        return "different text"
    if before != after:
        return "files changed"
    return ""


def run_case(module, cid, files, argv, expected, cache: Path, api: bool = False) -> dict:
    from test_bad_input import make_files, snapshot

    with tempfile.TemporaryDirectory(prefix="nmsim-bench-bad-") as tmp:
        folder, state = Path(tmp) / "work", Path(tmp) / "state"
        folder.mkdir()
        state.mkdir()
        make_files(folder, files)
        before = snapshot(folder)
        env = _env(folder, cache, state, getattr(module, "ENV", {}).get(cid, {}))
        prelude = getattr(module, "API_PRELUDE", "")
        cmd = [sys.executable, "-c", API_RUNNER, argv, prelude] if api else [sys.executable, "-m", "nmsim", *argv]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        why = _judge(proc, expected, before, snapshot(folder), api)
    shown = argv if api else "nmsim " + shlex.join(argv)
    return {"id": cid, "command": shown, "seconds": seconds, "passed": not why, "why": why,
            "stderr": proc.stderr.strip().splitlines()[-1:] if proc.stderr.strip() else []}


def corpus(only: str | None = None, jobs: int = 1, every: int = 1) -> list[dict]:
    """One result per case: module, class, id, command, seconds, passed, why (``jobs`` cases at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    cache = Path(tempfile.mkdtemp(prefix="nmsim-bench-bad-cache-"))
    todo = []
    for name, module in _modules():
        tables = [(cls, cases, False) for cls, cases in getattr(module, "CLASSES", {}).items()]
        tables += [(f"API: {cls}", cases, True) for cls, cases in getattr(module, "API_CASES", {}).items()]
        for cls, cases, api in tables:
            for cid, files, argv, expected in cases:
                if not only or only in f"{name} {cls} {cid}":
                    todo.append((name, cls, module, cid, files, argv, expected, api))

    todo = todo[::max(1, every)]
    done = []

    def one(item):
        name, cls, module, cid, files, argv, expected, api = item
        row = {"module": name, "class": cls, **run_case(module, cid, files, argv, expected, cache, api)}
        done.append(row)
        if len(done) % 50 == 0:   # a long run says how far it is (stderr)
            print(f"bench_bad_input: {len(done)}/{len(todo)} cases", file=sys.stderr, flush=True)
        return row

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(one, todo))


def yardsticks() -> dict:
    """Seconds of ``python -c pass`` and ``python -c 'import pandas'`` now: how loaded the machine is."""
    from cli_env import cli_env

    out = {}
    for label, code in (("python -c pass", "pass"), ("import pandas", "import pandas")):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True)
        out[label] = time.perf_counter() - start
    return out


def summary(results: list[dict]) -> list[dict]:
    """Rows per module and class: cases, passed, share."""
    rows = {}
    for r in results:
        row = rows.setdefault((r["module"], r["class"]), {"module": r["module"], "class": r["class"], "cases": 0,
                                                          "passed": 0, "slowest_s": 0.0})
        row["cases"] += 1
        row["passed"] += r["passed"]
        row["slowest_s"] = round(max(row["slowest_s"], r["seconds"]), 2)
    out = list(rows.values())
    for row in out:
        row["share"] = f"{row['passed'] / row['cases']:.1%}"
    return out


# ---- hypothesis examples per property test -----------------------------------------------------------

def property_files() -> list[str]:
    """The corpus modules and the ``test_*propert*.py`` ones: their hypothesis tests are counted."""
    return [f"tests/{p.name}" for p in sorted({*TESTS.glob("test_bad_input*.py"), *TESTS.glob("test_*propert*.py")})]


def start_hypothesis(files: list[str]):
    """Start pytest on the property tests of ``files`` (the ``hypothesis_only`` plugin counts their examples);
    :func:`hypothesis_examples` collects it, so it runs alongside the corpus."""
    out = Path(tempfile.mkdtemp(prefix="nmsim-bench-hyp-")) / "counts.json"
    env = _env(ROOT, out.parent / "cache", out.parent, {"BENCH_HYPOTHESIS_OUT": str(out)})
    env["PYTHONPATH"] = str(Path(__file__).parent) + os.pathsep + env["PYTHONPATH"]   # hypothesis_only
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *files, "-q", "-rf", "-p", "no:cacheprovider",
                             "-p", "hypothesis_only"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    return proc, out


def hypothesis_examples(started) -> list[dict]:
    """Examples hypothesis ran per property test (passing, failing, invalid) and the test's outcome."""
    import json

    proc, out = started
    text, _ = proc.communicate()
    if not out.exists():
        return [{"test": "(pytest did not finish)", "examples": 0, "passing": 0, "failing": 0, "invalid": 0,
                 "pytest": text[-300:]}]
    why = {m.group(1): m.group(2) for m in re.finditer(r"^FAILED (\S+) - (.*)$", text, re.M)}
    return [{"test": test, "examples": c["passed"] + c["failed"] + c["gave_up"], "passing": c["passed"],
             "failing": c["failed"], "invalid": c["gave_up"],
             "pytest": (c["outcome"] or "?") + (f" ({why[test][:150]})" if test in why else "")}
            for test, c in json.loads(out.read_text()).items()]


def run() -> list[dict]:
    """For ``bench/run.py``: the corpus by module and class, then a total row (no goal: never fails ``make bench``)."""
    results = corpus()
    rows = summary(results)
    slow = max(results, key=lambda r: r["seconds"]) if results else None
    rows.append({"module": "all", "class": "all", "cases": len(results), "passed": sum(r["passed"] for r in results),
                 "slowest_s": round(slow["seconds"], 2) if slow else 0.0,
                 "share": f"{sum(r['passed'] for r in results) / max(len(results), 1):.1%}",
                 "slowest_command": slow["command"][:80] if slow else ""})
    return rows


def main(argv: list[str]) -> int:
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    jobs = int(argv[argv.index("--jobs") + 1]) if "--jobs" in argv else 1
    every = int(argv[argv.index("--every") + 1]) if "--every" in argv else 1   # a sample, for trying the bench
    sys.path.insert(0, str(Path(__file__).parent))
    load = yardsticks()
    start = time.perf_counter()
    files = property_files()
    started = start_hypothesis(files) if "--no-hypothesis" not in argv else None
    results = corpus(only, jobs, every)
    print(f"bad-input corpus: {len(results)} cases in {len({r['module'] for r in results})} modules, each a fresh "
          f"process, {jobs} at a time ({time.perf_counter() - start:.0f} s); load yardsticks before: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in load.items()) + "\n")
    print(f"{'module':<28} {'class':<34} {'cases':>5} {'passed':>6} {'share':>7}")
    for row in summary(results):
        print(f"{row['module']:<28} {row['class'][:34]:<34} {row['cases']:>5} {row['passed']:>6} {row['share']:>7}")
    passed = sum(r["passed"] for r in results)
    print(f"{'all':<28} {'':<34} {len(results):>5} {passed:>6} {passed / max(len(results), 1):>7.1%}\n")
    failed = [r for r in results if not r["passed"]]
    for r in failed:
        print(f"FAILED {r['module']} {r['class']}:{r['id']}: {r['why']}: {' | '.join(r['stderr'])[:200]}")
    slowest = sorted(results, key=lambda r: -r["seconds"])[:5]
    if slowest:
        print(f"\nlongest start-to-error: {slowest[0]['seconds']:.2f} s: {slowest[0]['command']}")
        print("5 slowest:")
        for r in slowest:
            print(f"  {r['seconds']:6.2f} s  {r['module']} {r['class']}:{r['id']}  {r['command'][:120]}")
    if started is not None:
        rows = hypothesis_examples(started)
        print(f"\nhypothesis examples per property test ({len(rows)} tests in {len(files)} files; counted by "
              "bench/hypothesis_only.py):")
        for row in rows:
            print(f"  {row['examples']:6,} examples ({row['passing']:,} passing, {row['failing']:,} failing, "
                  f"{row['invalid']:,} invalid), {row['pytest']}  {row['test']}")
        print(f"  total: {sum(r['examples'] for r in rows):,} examples")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
