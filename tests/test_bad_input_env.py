"""Issue 20: the bad-input corpus for environment variables and edges of the command line (report names, empty
plan rules, layer ranges past the model, a symlinked cache folder). Same checks as ``tests/test_bad_input.py``
(exit 2, one ``nmsim: error:`` line equal to the expected text, no traceback, no file changed, added or removed).

``CLASSES`` has the corpus's tuple shape ``(id, files, argv, expected)``; a case run with environment variables
has them in ``ENV[id]`` (set for that case only, over the test session's own cache and state folders).
"""
from __future__ import annotations

import os

import pytest

from test_bad_input import assert_one_error, make_files, run_cli, snapshot

TRACE = ["trace", "vit-tiny"]
PRICE = ["price", "vit-tiny", "--hardware", "a100"]
FINITE_MB = "must be a finite number from 0 to 1,048,576, got"
FINITE_S = "must be a finite number from 0 to 1,000,000,000, got"


def _env_cases() -> tuple[list, dict]:
    rows = [  # (id, variable, value, argv, expected)
        ("cache-max-mb-inf", "NMSIM_CACHE_MAX_MB", "inf", TRACE, f"NMSIM_CACHE_MAX_MB: {FINITE_MB} 'inf'"),
        ("cache-max-mb-minus-inf", "NMSIM_CACHE_MAX_MB", "-inf", PRICE, f"NMSIM_CACHE_MAX_MB: {FINITE_MB} '-inf'"),
        ("cache-max-mb-nan", "NMSIM_CACHE_MAX_MB", "nan", TRACE, f"NMSIM_CACHE_MAX_MB: {FINITE_MB} 'nan'"),
        ("cache-max-mb-negative", "NMSIM_CACHE_MAX_MB", "-1", ["cache", "info"],
         f"NMSIM_CACHE_MAX_MB: {FINITE_MB} '-1'"),
        ("cache-max-mb-overflow", "NMSIM_CACHE_MAX_MB", "1e400", TRACE, f"NMSIM_CACHE_MAX_MB: {FINITE_MB} '1e400'"),
        ("cache-max-mb-text", "NMSIM_CACHE_MAX_MB", "lots", ["cache", "clear"], f"NMSIM_CACHE_MAX_MB: {FINITE_MB} 'lots'"),
        ("cache-max-mb-unit", "NMSIM_CACHE_MAX_MB", "512MB", TRACE, f"NMSIM_CACHE_MAX_MB: {FINITE_MB} '512MB'"),
        ("cache-max-mb-huge", "NMSIM_CACHE_MAX_MB", "1e12", TRACE, f"NMSIM_CACHE_MAX_MB: {FINITE_MB} '1e12'"),
        ("cache-mode-typo", "NMSIM_CACHE", "reed", TRACE, "NMSIM_CACHE: must be one of read, build, off, got 'reed'"),
        ("cache-mode-list", "NMSIM_CACHE", "read,build", PRICE,
         "NMSIM_CACHE: must be one of read, build, off, got 'read,build'"),
        ("cache-mode-number", "NMSIM_CACHE", "0", ["schedule", "sr-ste", "--steps", "10"],
         "NMSIM_CACHE: must be one of read, build, off, got '0'"),
        ("progress-typo", "NMSIM_PROGRESS", "bars", TRACE,
         "NMSIM_PROGRESS: must be one of auto, bar, lines, heartbeat, off, got 'bars'"),
        ("progress-yes", "NMSIM_PROGRESS", "yes", ["hardware", "list"],
         "NMSIM_PROGRESS: must be one of auto, bar, lines, heartbeat, off, got 'yes'"),
        ("progress-long", "NMSIM_PROGRESS", "x" * 100, TRACE,
         "NMSIM_PROGRESS: must be one of auto, bar, lines, heartbeat, off, got 'xxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx'"),
        ("progress-seconds-inf", "NMSIM_PROGRESS_SECONDS", "inf", TRACE, f"NMSIM_PROGRESS_SECONDS: {FINITE_S} 'inf'"),
        ("progress-seconds-negative", "NMSIM_PROGRESS_SECONDS", "-5", TRACE,
         f"NMSIM_PROGRESS_SECONDS: {FINITE_S} '-5'"),
        ("progress-seconds-nan", "NMSIM_PROGRESS_SECONDS", "NaN", PRICE, f"NMSIM_PROGRESS_SECONDS: {FINITE_S} 'NaN'"),
        ("progress-seconds-unit", "NMSIM_PROGRESS_SECONDS", "60s", TRACE, f"NMSIM_PROGRESS_SECONDS: {FINITE_S} '60s'"),
        ("progress-seconds-huge", "NMSIM_PROGRESS_SECONDS", "1e10", TRACE,
         f"NMSIM_PROGRESS_SECONDS: {FINITE_S} '1e10'"),
        ("cache-dir-is-file", "NMSIM_CACHE_DIR", "f", ["cache", "info"],
         "NMSIM_CACHE_DIR: must be a folder, got 'f', which is not a folder"),
        ("cache-dir-file-clear", "NMSIM_CACHE_DIR", "f", ["cache", "clear"],
         "NMSIM_CACHE_DIR: must be a folder, got 'f', which is not a folder"),
        ("state-dir-is-file", "NMSIM_STATE_DIR", "f", ["trace", "vit-tiny", "--out", "t.csv"],
         "NMSIM_STATE_DIR: must be a folder, got 'f', which is not a folder"),
    ]
    files = {"f": "user data"}
    return ([(cid, files, argv, expected) for cid, _, _, argv, expected in rows],
            {cid: {var: value} for cid, var, value, _, _ in rows})


ENVIRONMENT, ENV = _env_cases()

NAME_RULE = ("a report name is one folder name (it names reports/<name>): not empty, '.' or '..', no '/' or '\\'; "
             "give another folder as --out")
REPORT_NAMES = [(f"name-{cid}", {"reports/keep.txt": "mine"}, ["report", "--no-train", "--name", name, *extra],
                 f"--name {name!r}: {NAME_RULE}") for cid, name, extra in [
    ("parent", "../x", []), ("parent-with-out", "../x", ["--out", "rep"]), ("nested", "a/b", []),
    ("absolute", "/tmp/x", []), ("dot-dot", "..", []), ("dot", ".", []), ("empty", "", []),
    ("backslash", "a\\b", []), ("spaces", "   ", []),
]]

EMPTY = "no rule given; give e.g. ff=1:16, or dense"
ONE_COMMA = "separate the patterns by single commas (e.g. dense,2:4,1:8)"
EXTRA = "is empty (an extra ',' or '+'?); give e.g. ff=1:16, or dense"
EMPTY_RULES = [
    ("commas", {}, [*PRICE, "--sparsity", ",,,"], f"--sparsity ',,,': {EMPTY}"),
    ("empty", {}, [*PRICE, "--sparsity", ""], f"--sparsity '': {EMPTY}"),
    ("blank", {}, [*PRICE, "--sparsity", "  "], f"--sparsity '  ': {EMPTY}"),
    ("trailing-comma", {}, [*PRICE, "--sparsity", "ff=2:4,"], f"--sparsity 'ff=2:4,': rule 2 {EXTRA}"),
    ("leading-comma", {}, [*PRICE, "--sparsity", ",ff=2:4"], f"--sparsity ',ff=2:4': rule 1 {EXTRA}"),
    ("trailing-plus", {}, [*PRICE, "--sparsity", "ff=1:8+"], f"--sparsity 'ff=1:8+': rule 2 {EXTRA}"),
    ("budget", {}, ["budget", "vit-tiny", "--sparsity", ",,,", "--epochs", "1"], f"--sparsity ',,,': {EMPTY}"),
    ("budget-patterns", {}, ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--patterns",
                             "ff=2:4+"], f"--patterns 'ff=2:4+': rule 2 {EXTRA}"),
    ("export", {}, ["export", "vit-tiny", "--sparsity", ",", "--format", "scalesim", "--out", "ex"],
     f"--sparsity ',': {EMPTY}"),
    ("cluster", {}, ["cluster", "plan", "gpt2", "--sparsity", ",,,"], f"--sparsity ',,,': {EMPTY}"),
    ("schedule", {}, ["schedule", "sr-ste", "--steps", "10", "--sparsity", ",,,"], f"--sparsity ',,,': {EMPTY}"),
    ("compare-patterns", {}, ["compare", "gpt2", "--hardware", "a100", "--patterns", "dense,,"],
     f"--patterns: item 2 of 3 is empty in 'dense,,'; {ONE_COMMA}"),
    ("budget-patterns-empty", {}, ["budget", "vit-tiny", "--sparsity", "ff=2:4", "--epochs", "1", "--patterns",
                                   ",2:4"], f"--patterns: item 1 of 2 is empty in ',2:4'; {ONE_COMMA}"),
    ("sweep-patterns", {}, ["sweep", "--task", "digits", "--patterns", "1:8,,1:16", "--out", "runs"],
     f"--patterns: item 2 of 3 is empty in '1:8,,1:16'; {ONE_COMMA}"),
]

LAYER_RANGES = [
    ("gpt2-0-99", {}, ["price", "gpt2", "--hardware", "a100", "--sparsity", "ff@0-99=1:8"],
     "--sparsity 'ff@0-99=1:8': layers 0-99 go past the model's 12 layers (0 to 11)"),
    ("gpt2-one-past", {}, ["price", "gpt2", "--hardware", "a100", "--sparsity", "ff@0-12=1:8"],
     "--sparsity 'ff@0-12=1:8': layers 0-12 go past the model's 12 layers (0 to 11)"),
    ("gpt2-single", {}, ["price", "gpt2", "--hardware", "a100", "--sparsity", "ff=2:4,qkv@12=1:8"],
     "--sparsity 'qkv@12=1:8': layer 12 is past the model's 12 layers (0 to 11)"),
    ("vit-tiny", {}, [*PRICE, "--sparsity", "ff@2-3=2:4"],
     "--sparsity 'ff@2-3=2:4': layers 2-3 go past the model's 3 layers (0 to 2)"),
    ("budget", {}, ["budget", "gpt2", "--sparsity", "ff@0-99=1:8", "--epochs", "1"],
     "--sparsity 'ff@0-99=1:8': layers 0-99 go past the model's 12 layers (0 to 11)"),
    ("budget-patterns", {}, ["budget", "gpt2", "--sparsity", "ff=2:4", "--epochs", "1", "--patterns", "ff@6-20=2:4"],
     "--patterns 'ff@6-20=2:4': layers 6-20 go past the model's 12 layers (0 to 11)"),
    ("export", {}, ["export", "vit-tiny", "--sparsity", "ff@0-5=2:4", "--format", "scalesim", "--out", "ex"],
     "--sparsity 'ff@0-5=2:4': layers 0-5 go past the model's 3 layers (0 to 2)"),
    ("cluster-plan", {}, ["cluster", "plan", "gpt2", "--sparsity", "ff@0-99=2:4"],
     "--sparsity 'ff@0-99=2:4': layers 0-99 go past the model's 12 layers (0 to 11)"),
    ("report-patterns", {}, ["report", "--no-train", "--workload", "vit-tiny", "--patterns", "ff@0-3=2:4",
                             "--out", "rep"],
     "--patterns 'ff@0-3=2:4': layers 0-3 go past the model's 3 layers (0 to 2)"),
]

CLASSES = {"environment variables": ENVIRONMENT, "report names": REPORT_NAMES, "empty plan rules": EMPTY_RULES,
           "layer ranges": LAYER_RANGES}
CASES = [pytest.param(cid, files, argv, msg, id=f"{cls}:{cid}") for cls, cases in CLASSES.items()
         for cid, files, argv, msg in cases]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("cid,files,argv,expected", CASES)
def test_bad_input_env(workdir, capsys, monkeypatch, cid, files, argv, expected):
    make_files(workdir, files)
    for name, value in ENV.get(cid, {}).items():
        monkeypatch.setenv(name, value)
    before = snapshot(workdir)
    code, err = run_cli(argv, capsys)
    assert_one_error(code, err, expected)
    assert snapshot(workdir) == before, "a failed command changed, added or removed files"


def test_every_variable_nmsim_reads_is_in_the_corpus():
    """grep: every NMSIM_* variable the package reads has a bad-value case here."""
    import re
    from pathlib import Path

    root = Path(__file__).parent.parent / "nmsim"
    read = set()
    for path in root.rglob("*.py"):
        read |= set(re.findall(r"\"(NMSIM_[A-Z_]+)\"", path.read_text()))
    assert read == {"NMSIM_CACHE_DIR", "NMSIM_CACHE", "NMSIM_CACHE_MAX_MB", "NMSIM_STATE_DIR", "NMSIM_PROGRESS",
                    "NMSIM_PROGRESS_SECONDS"}
    assert read == {var for env in ENV.values() for var in env}


def test_unset_and_empty_variables_mean_the_defaults(monkeypatch):
    from nmsim import env

    for name in ("NMSIM_CACHE_MAX_MB", "NMSIM_PROGRESS", "NMSIM_PROGRESS_SECONDS", "NMSIM_CACHE"):
        monkeypatch.setenv(name, "")
    assert (env.cache_max_bytes(), env.progress_mode(), env.progress_seconds(), env.cache_mode()) == \
        (1024 * 2**20, None, 60.0, None)
    monkeypatch.setenv("NMSIM_CACHE_MAX_MB", "0.5")
    monkeypatch.setenv("NMSIM_PROGRESS", " Lines ")
    assert (env.cache_max_bytes(), env.progress_mode()) == (2**19, "lines")


# ---- the cache folder: nothing is deleted through a symlinked graphs/ ------------------------------------

@pytest.mark.parametrize("linked", ["graphs", "answers", "report-costs", "trainer-runs"])
def test_cache_clear_does_not_follow_a_symlinked_cache_folder(workdir, capsys, monkeypatch, linked):
    user = workdir / "user"
    make_files(workdir, {f"user/nmsim-graph-{'a' * 64}.npz": b"my data", f"user/costs-{'a' * 64}.json": b"{}",
                         "user/quick-digits-0123456789ab/sweep_runs.csv": b"r", "user/notes.txt": "keep",
                         f"cache/graphs-real/nmsim-graph-{'b' * 64}.npz": b"x",
                         f"cache/graphs/nmsim-graph-{'b' * 64}.npz" if linked != "graphs" else "cache/x": b"x"})
    os.symlink(user, workdir / "cache" / linked)
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(workdir / "cache"))
    before = snapshot(workdir)
    code, err = run_cli(["cache", "clear"], capsys)
    assert_one_error(code, err, f"{workdir / 'cache' / linked}: is a symbolic link, not the cache folder nmsim "
                                "made; nothing was removed")
    assert snapshot(workdir) == before

    from nmsim.graph import cache

    if linked == "graphs":
        assert cache.evict(limit=0) == 0          # eviction does not reach through the link either
        assert snapshot(workdir) == before


def test_cache_clear_removes_only_its_own_files(workdir, capsys, monkeypatch):
    make_files(workdir, {f"cache/graphs/nmsim-graph-{'c' * 64}.npz": b"x" * 10, "cache/graphs/mine.npz": b"keep",
                         f"cache/graphs/.nmsim-graph-{'c' * 64}.abc_1.tmp": b"t"})
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(workdir / "cache"))
    code, err = run_cli(["cache", "clear"], capsys)
    assert code == 0
    assert sorted(p.name for p in (workdir / "cache" / "graphs").iterdir()) == ["mine.npz"]


QUICK = "cache/trainer-runs/quick-digits-0123456789ab"   # a quick sweep's folder in the cache
RUN = f"{QUICK}/digits"
TRAINER_FILES = {f"{RUN}/dense/dense/seed0/{name}": b"x" * 5 for name in
                 ("config.json", "metrics.jsonl", "done.json", "checkpoint.pt", ".lock")}


def test_cache_clear_removes_the_reports_kept_costs_and_trainer_runs(workdir, capsys, monkeypatch):
    """``cache clear`` also empties ``report-costs/`` and ``trainer-runs/``: only the names nmsim writes there
    (in the folders it names), never a user's file or folder, nor a run another process trains now."""
    import fcntl

    from test_bad_input import DIR

    busy = f"{RUN}/sr-ste/ff1_8/seed0"
    make_files(workdir, {**TRAINER_FILES, f"cache/graphs/nmsim-graph-{'c' * 64}.npz": b"g",
                         f"cache/report-costs/costs-{'a' * 64}.json": b"{}" * 5, "cache/report-costs/mine.json": "k",
                         f"{QUICK}/sweep_runs.csv": b"r", f"{QUICK}/sweep_summary.csv": b"s",
                         f"{RUN}/mdgf-exp/ff1_8/seed0/config.json": b"c", f"{RUN}/mdgf-exp/ff1_8/seed0/notes.txt": "k",
                         f"{busy}/config.json": b"c", f"{busy}/.lock": b"", f"{RUN}/empty": DIR,
                         "cache/trainer-runs/my-runs/digits/dense/dense/seed0/config.json": "k"})
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(workdir / "cache"))
    with open(workdir / busy / ".lock") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code = run_cli(["cache", "clear"], capsys)[0]
    assert code == 0
    left = {p for p, h in snapshot(workdir / "cache").items() if h != "dir"}
    assert left == {"report-costs/mine.json", "trainer-runs/my-runs/digits/dense/dense/seed0/config.json",
                    "trainer-runs/quick-digits-0123456789ab/digits/mdgf-exp/ff1_8/seed0/notes.txt",
                    "trainer-runs/quick-digits-0123456789ab/digits/sr-ste/ff1_8/seed0/config.json",
                    "trainer-runs/quick-digits-0123456789ab/digits/sr-ste/ff1_8/seed0/.lock"}
    assert (workdir / RUN / "empty").is_dir() and not (workdir / RUN / "dense").exists()


def test_cache_clear_prints_each_folder(workdir, monkeypatch):
    import contextlib
    import io

    from nmsim.cli import main

    make_files(workdir, {**TRAINER_FILES, f"cache/report-costs/costs-{'b' * 64}.json": b"{}"})
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(workdir / "cache"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["cache", "clear"]) == 0
    cache = workdir / "cache"
    assert out.getvalue().splitlines() == [
        f"removed 0 cached graph file(s), 0.0 MiB, from {cache / 'graphs'}",
        f"removed 0 kept answer(s), 0.0 MiB, from {cache / 'answers'}",
        f"removed 1 kept report cost file(s), 0.0 MiB, from {cache / 'report-costs'}",
        f"removed 5 trainer run file(s), 0.0 MiB, from {cache / 'trainer-runs'}",
        f"removed 0 kept parse(s) of data files, 0.0 MiB, from {cache / 'parsed'}",
        f"removed 0 remembered fingerprint(s), 0.0 MiB, from {cache / 'fingerprints'}"]


def test_corpus_size():
    counts = {cls: len(cases) for cls, cases in CLASSES.items()}
    assert counts == {"environment variables": 22, "report names": 9, "empty plan rules": 14, "layer ranges": 9}
