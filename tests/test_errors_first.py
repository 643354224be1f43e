"""Issue 25: a user's mistake is answered before any heavy import. Every CLI case of the bad-input corpora
(``CLASSES`` of ``tests/test_bad_input*.py``, plus ``tests/test_fast_errors.py``'s typos) and a bad value for
every option of every command prints its one ``nmsim: error:`` line with none of :data:`HEAVY` imported.

Cheap by construction: one driver process imports the command modules (light, checked) and forks a child per
case; the child makes the case's files in a fresh folder, runs ``nmsim.cli.main`` there and stops at the first
import of a heavy module, reporting where it came from (so a late error costs no torch import here).
``bench/bench_typo.py`` times the same cases as fresh ``python -m nmsim`` processes.
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# what a typo must not wait for (seconds of CPU each on a loaded machine: torch 1-3 s, pandas/scipy 0.4-1 s)
HEAVY = ("torch", "pandas", "numpy", "scipy", "matplotlib", "sklearn", "networkx", "ray")
# imported by the driver before it forks: the modules every command's parse needs (each light, checked)
PRELOAD = ("nmsim.cli", "nmsim.env", "nmsim.io", "nmsim.api.options", "nmsim.graph.cache", "nmsim.kept_answers")


# ---- the cases -----------------------------------------------------------------------------------------

def _files(files: dict) -> dict:
    from test_bad_input import DIR

    out = {}
    for name, content in files.items():
        if content is DIR:
            out[name] = None
        else:
            data = content if isinstance(content, bytes) else content.encode()
            out[name] = base64.b64encode(data).decode()
    return out


def corpus_cases() -> list[dict]:
    """Every CLI case of the bad-input corpora: id, files, argv, env, expected text (``{name}``: any word)."""
    import importlib

    sys.path.insert(0, str(TESTS))
    cases = []
    for path in sorted(TESTS.glob("test_bad_input*.py")):
        module = importlib.import_module(path.stem)
        tables = dict(getattr(module, "CLASSES", {}))
        if path.stem == "test_bad_input":
            tables["run folders"] = module._run_folder_cases()   # noqa: SLF001
        for cls, rows in tables.items():
            for cid, files, argv, expected in rows:
                cases.append({"id": f"{path.stem}:{cls}:{cid}", "files": _files(files), "argv": list(argv),
                              "env": getattr(module, "ENV", {}).get(cid, {}), "expected": expected})
    from test_fast_errors import LIGHT

    for argv, message in LIGHT:
        cases.append({"id": "test_fast_errors:" + " ".join(argv), "files": {}, "argv": list(argv), "env": {},
                      "prefix": message.removeprefix("nmsim: error: ")})
    return cases


# ---- the driver (a separate light process) -------------------------------------------------------------

def _where() -> str:
    """The nmsim frames of the import now under way, innermost last."""
    frames = [f for f in traceback.extract_stack() if "/nmsim/" in f.filename and "/tests/" not in f.filename]
    return " <- ".join(f"{Path(f.filename).relative_to(ROOT)}:{f.lineno} {f.name}" for f in frames[::-1][:4])


def importlib_util_file() -> str:
    import importlib.util

    return importlib.util.__file__ or ""


def _probing() -> bool:
    """Whether ``importlib.util.find_spec`` is asking (a library looked up, not imported: ``nmsim.keeping``)."""
    frame = sys._getframe(2)   # noqa: SLF001
    while frame is not None:
        code = frame.f_code
        if code.co_name == "find_spec" and code.co_filename in ("<frozen importlib.util>", importlib_util_file()):
            return True
        frame = frame.f_back
    return False


def make_case_files(folder: Path, case: dict) -> None:
    """The case's files (and folders) under ``folder``."""
    for name, data in case["files"].items():
        path = folder / name
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(data))


def _child(case: dict, folder: Path, write) -> None:
    """Run one case in this (forked) process; ``write`` gets the result once."""
    import importlib.abc

    make_case_files(folder, case)
    os.chdir(folder)
    os.environ.update(case["env"])
    err, out = io.StringIO(), io.StringIO()

    class Stop(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):  # noqa: D102
            if name.partition(".")[0] in HEAVY and not _probing():
                write({"heavy": name, "where": _where(), "err": err.getvalue()[-500:]})
            return None

    sys.meta_path.insert(0, Stop())
    from nmsim.cli import main

    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(case["argv"])
        except SystemExit as exc:
            rc = exc.code
        except BaseException as exc:   # noqa: BLE001 - reported, not raised
            rc = f"{type(exc).__name__}: {exc}"
    write({"heavy": None, "rc": rc, "err": err.getvalue()[-2000:], "out": out.getvalue()[:200],
           "light": sorted(m for m in sys.modules if m.startswith("nmsim"))})


def _fork(case: dict, base: Path) -> dict:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: never returns
        os.close(read_fd)

        def write(result):
            os.write(write_fd, json.dumps(result).encode())
            os._exit(0)

        try:
            signal.alarm(120)   # a case that hangs reports nothing: the parent sees "no result"
            _child(case, Path(tempfile.mkdtemp(dir=base)), write)
        except BaseException as exc:   # noqa: BLE001
            write({"heavy": None, "rc": f"driver: {exc!r}", "err": traceback.format_exc()[-1000:]})
        os._exit(1)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    return {"id": case["id"], **(json.loads(b"".join(chunks)) if chunks else {"heavy": None, "rc": "no result"})}


def drive(path: str) -> None:
    """Run the cases of the JSON file ``path``: one JSON result per line into ``path``.out."""
    import importlib

    cases = json.loads(Path(path).read_text())
    sys.stdout = open(f"{path}.out", "w")   # noqa: SIM115 - the results, one line each
    base = Path(tempfile.mkdtemp(prefix="nmsim-errors-first-"))
    sys.dont_write_bytecode, sys.pycache_prefix = False, str(base / "pycache")   # each module compiled once
    os.environ.update({"NMSIM_CACHE_DIR": str(base / "cache"), "NMSIM_STATE_DIR": str(base / "state"),
                       "NMSIM_CACHE": "read"})
    for name in PRELOAD:
        importlib.import_module(name)
    from nmsim.cli import COMMAND_MODULES

    for name in COMMAND_MODULES:
        importlib.import_module(name)
    from nmsim.keeping import package_fingerprint

    package_fingerprint()   # the kept answers' key: the same for every case, computed once
    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in HEAVY)
    if loaded:
        print(json.dumps({"id": "(driver)", "heavy": loaded[0], "where": "preloaded command modules"}))
    for case in cases:
        result = _fork(case, base)
        for name in result.pop("light", ()):   # imported by a child that imported nothing heavy: light, so
            if name not in sys.modules:        # the children after it find it loaded (as they find nmsim.cli)
                importlib.import_module(name)
        print(json.dumps(result), flush=True)


def probe(cases: list[dict], jobs: int = 2) -> list[dict]:
    """One result per case: heavy (the first heavy module imported, or None), where, rc, err (``jobs`` drivers
    at a time, each with every ``jobs``-th case)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + str(TESTS)}
    folder = Path(tempfile.mkdtemp(prefix="nmsim-errors-first-"))
    procs = []
    for i in range(jobs):
        (folder / f"cases{i}.json").write_text(json.dumps(cases[i::jobs]))
        code = f"import test_errors_first as t; t.drive({str(folder / f'cases{i}.json')!r})"
        procs.append(subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, env=env,
                                      cwd=ROOT))
    results: list = [None] * len(cases)
    for i, proc in enumerate(procs):
        _, err = proc.communicate(timeout=1800)
        assert proc.returncode == 0, err[-3000:]
        for j, line in enumerate((folder / f"cases{i}.json.out").read_text().splitlines()):
            row = json.loads(line)
            assert row["id"] != "(driver)", f"the command modules import {row['heavy']}"
            results[i + j * jobs] = row
    return results


def _pattern(expected: str):
    parts = re.split(r"(\{[a-z_]+\})", expected)
    return re.compile("".join(r"\S+" if re.fullmatch(r"\{[a-z_]+\}", p) else re.escape(p) for p in parts) + r"\Z")


def verdict(case: dict, result: dict) -> str:
    """'' when the case printed its one error line before any heavy import, else why not."""
    if result.get("heavy"):
        return f"imported {result['heavy']} first: {result['where']}"
    if result.get("rc") != 2:
        return f"exit {result.get('rc')!r}: {result.get('err', '')[-300:]}"
    errors = [line for line in result["err"].splitlines() if line.startswith("nmsim: error: ")]
    if len(errors) != 1:
        return f"{len(errors)} error lines: {result['err'][-300:]}"
    text = errors[0].removeprefix("nmsim: error: ")
    if case.get("expected") is not None and not _pattern(case["expected"]).match(text):
        return f"different text: {text}"
    if case.get("prefix") is not None and not text.startswith(case["prefix"]):
        return f"different text: {text}"
    return ""


# ---- a bad value for every option of every command -----------------------------------------------------

BASES = {   # a command line each option is added to: valid as it stands, and light up to its work
    "trace": ["trace", "gpt2"],
    "price": ["price", "gpt2", "--hardware", "a100"],
    "compare": ["compare", "gpt2", "--hardware", "a100"],
    "budget": ["budget", "gpt2", "--sparsity", "ff=2:4", "--tokens", "1e9", "--hardware", "a100"],
    "train": ["train", "--out", "run"],
    "sweep": ["sweep", "--out", "runs"],
    "report": ["report", "--no-train", "--out", "rep"],
    "schedule": ["schedule", "sr-ste", "--sparsity", "ff=1:16", "--steps", "10"],
    "cluster plan": ["cluster", "plan", "gpt2", "--system", "dgx-a100", "--global-batch", "64"],
    "cluster budget": ["cluster", "budget", "gpt2", "--system", "dgx-a100", "--global-batch", "64", "--tokens", "1e9"],
    "cluster validate": ["cluster", "validate"],
    "cluster systems": ["cluster", "systems"],
    "export": ["export", "gpt2", "--format", "scalesim", "--out", "exp"],
    "plot": ["plot", "runs", "--out", "c.png"],
    "evidence run": ["evidence", "run", "--out", "ev"],
    "evidence price": ["evidence", "price"],
    "evidence summarize": ["evidence", "summarize", "ev"],
    "evidence check": ["evidence", "check", "ev"],
    "cache": ["cache", "info"],
    "validate": ["validate"],
    "hardware list": ["hardware", "list"],
    "hardware show": ["hardware", "show", "a100"],
    "hardware validate": ["hardware", "validate", "missing.yaml"],
}
NUMBERS = ("x", "-1", "nan", "1e400")   # not a number, negative, NaN, infinite
NAMES = ("typo",)
PLANS = ("ff=3:x", "ff=1:7", "zz=1:4")  # not a pattern, an M dividing no dimension of gpt2, a selector typo
FILES = ("missing.yaml",)
VALUES = {   # option -> the bad values tried, where its type says little
    **{o: PLANS for o in ("--sparsity", "--patterns")},
    **{o: FILES for o in ("--measurements", "--runs", "--losses", "--cluster-plan", "--sweep-runs", "--hf-config")},
    "--accuracy": ("missing.csv",),
}


def _leaf_parsers():
    import argparse

    from nmsim.cli import build_parser

    out, todo = {}, [((), build_parser())]
    while todo:
        words, parser = todo.pop()
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]   # noqa: SLF001
        for action in subs:
            todo += [((*words, name), p) for name, p in action.choices.items()]
        if not subs:
            out[" ".join(words)] = parser
    return out


def flag_cases() -> list[dict]:
    """Per command and option taking a value: each bad value of its kind, added to the command's base line."""
    cases = []
    for command, parser in sorted(_leaf_parsers().items()):
        base = BASES[command]
        for action in parser._actions:   # noqa: SLF001
            flags = [o for o in action.option_strings if o.startswith("--")]
            if not flags or action.nargs == 0 or flags[0] in ("--help", "--out"):
                continue
            flag = flags[0]
            if action.choices:
                values = ("typo",)
            elif flag in VALUES:
                values = VALUES[flag]
            elif action.type in (int, float) or getattr(action.type, "__name__", "") in ("axis", "_positive"):
                values = NUMBERS
            else:
                values = NAMES
            for value in values:
                argv = [*base, flag, value]
                cases.append({"id": f"flags:{command} {flag} {value}", "files": {}, "argv": argv, "env": {}})
    return cases


# ---- the tests ------------------------------------------------------------------------------------------

# still said after a heavy import: pattern (searched in "ID | ARGV") -> why (issue 25 shrinks this list; every case
# it does not match must be light)
LATE = {
    r"\| report ": "the run length, the accuracy CSV and the sweep runs are checked by nmsim.report.study (numpy, "
                  "pandas)",
    r"\| train ": "the run is checked against its model, built on the meta device by nmsim.train.loop (torch)",
    r"\| sweep ": "the runs folder is read by nmsim.train.sweep (pandas)",
    r"\| evidence ": "the protocol's files and options are checked by nmsim.evidence (numpy, pandas)",
    r"\| cluster validate .*--columns": "cluster validate's table (pandas) is made before --columns is checked",
    r"/dev/full": "a full disk is found when the output is written, after the work",
    r"kernel pins:(compare|price-sweep)|\| (compare|cluster \w+) .*--(kernel|dtype|weight-dtype) |"
    r"compare-no-hardware-for-dtype":
        "compare, cluster and price's sweep check the dtypes and a pinned kernel where they price (numpy)",
    r"compare spec files:": "two specs of one name are found where compare loads them (nmsim.cost.compare: numpy)",
    r"divisi|regex-sel|sweep-regex|plan-does-not-fit|ff=1:7|--selector typo":
        "a plan's M against the model's dimensions, and a selector's matches, need the model's graph",
    r"price-(seq-4096|context-100000|batch-huge|seq-context-huge)|dropout-sweep":
        "shapes are checked where the step is traced, after the settings (numpy)",
}
# bad values a command accepts (so it goes on to its work, which imports what it needs)
ACCEPTED = {
    r"flags:schedule --sparsity ff=1:7": "a schedule has no model: any N:M pattern is a target",
    r"flags:export --dtype typo": "export reads --dtype only with --hardware (none here)",
}


def _late_reason(case: dict) -> str | None:
    key = f"{case['id']} | {' '.join(case['argv'])}"
    return next((why for pattern, why in {**LATE, **ACCEPTED}.items() if re.search(pattern, key)), None)


def test_every_mistake_is_said_before_a_heavy_import():
    cases = corpus_cases() + flag_cases()
    failures = []
    for case, result in zip(cases, probe(cases)):
        why = verdict(case, result)
        if why and not (result.get("heavy") and _late_reason(case)):
            failures.append(f"{case['id']}: {why}")
    assert failures == [], f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures)


def test_every_listed_pattern_names_a_case():
    """A stale entry of LATE or ACCEPTED (its cases fixed or gone) is removed, not kept."""
    keys = [f"{c['id']} | {' '.join(c['argv'])}" for c in corpus_cases() + flag_cases()]
    assert [p for p in {**LATE, **ACCEPTED} if not any(re.search(p, k) for k in keys)] == []


if __name__ == "__main__":   # the cases still late, each with where its heavy import came from
    sys.path.insert(0, str(TESTS))
    found = corpus_cases() + flag_cases()
    late = [(c, r) for c, r in zip(found, probe(found)) if r.get("heavy")]
    for c, r in late:
        print(f"{c['id']}: {r['heavy']}: {r['where']}")
    print(f"{len(late)} of {len(found)} cases said after a heavy import")
