"""Every command README.md shows, in the README's order, in a fresh folder: the newcomer's walk-through as a test.

Commands are found, not listed: inline code starting with ``nmsim ``, ``make `` or ``python ``, every such line of a
plain fenced block (a trailing ``# comment`` dropped) and every ``python`` fenced block. Each runs as written
(``nmsim`` in-process, a ``make`` target as the recipe ``make -n`` prints, a Python block with ``exec``), with
these exceptions only, each stated with its reason:

* ``HEAVY``: commands that take many minutes by design. Each is skipped only when the README also shows a smaller
  form of the same command (same first words) that ran; the test checks that one did.
* ``ELSEWHERE``: commands that are not the package's (system packages, installs, the benchmarks, the suite
  itself); the test checks that what they name exists.
* prose mentions such as ``nmsim COMMAND --help`` (``PROSE``).

A command that appears twice runs once. A failing command names itself and shows its output.
"""
from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

HEAVY = {
    "nmsim train --task digits --recipe mdgf-exp --sparsity ff=1:16 --seed 0":
        "30 epochs of the digits task (about a minute); the 3-epoch form runs",
    "nmsim sweep --task digits --recipes all --patterns 1:8,1:16 --seeds 3":
        "42 trainer runs (about 20 minutes on 2 cores); the 3-epoch, 1-seed form runs",
    "nmsim evidence run --out reports/evidence --workers 2 --dense-frac 0.05 --finetune-frac 0.1 --beta-rule auto-70 "
    "--finetune-rule ste": "the whole protocol (about an hour); the small one runs",
    "nmsim report": "the default ViT-B/16 study with a quick trainer sweep (minutes); the CSV report runs",
    "nmsim report --sweep-runs reports/trainer-sweep": "make report (minutes); the CSV report runs",
    "nmsim validate": "make validate's refit of 15 kernel parameters (a minute of CPU; make validate checks it); "
    "the --no-refit form runs",
    "nmsim cluster validate --fit --check-bands": "make validate's refit of the cluster losses; "
    "the plain form runs",
    "nmsim validate --write-bands": "the same refit, writing the bundled bands (make validate's refit test checks "
    "them exact, make test to 0.1 %); the --no-refit form runs",
}
ELSEWHERE = {
    "pip install nmsim[ray]": "an install",
    "apt-get install -y chromium": "a system package",
    "pytest": "make test runs the suite this test belongs to",
}
PROSE = ("nmsim sweep", "nmsim price", "nmsim COMMAND --help", "nmsim --debug COMMAND ...", "nmsim --debug ...")
COMMAND = re.compile(r"(nmsim|make|python|pip|apt-get) ")


def readme_commands(text: str | None = None) -> list[tuple[str, str]]:
    """(kind, command) in the README's order; kind is ``shell`` or ``python``."""
    text = (ROOT / "README.md").read_text() if text is None else text
    found = []
    for i, part in enumerate(re.split(r"^```", text, flags=re.M)):
        if i % 2:                                    # a fenced block: its info string, then its lines
            info, _, body = part.partition("\n")
            if info.strip() == "python":
                found.append(("python", body))
                continue
            for line in body.splitlines():
                line = re.sub(r"\s+#.*$", "", line).strip()
                if COMMAND.match(line):
                    found.append(("shell", line))
        else:
            for span in re.findall(r"`([^`]+)`", part):
                span = " ".join(span.replace("\\|", "|").split())
                if COMMAND.match(span) and span not in PROSE:
                    found.append(("shell", span))
    return found


def make_recipe(target: str) -> list[str]:
    """What ``make TARGET`` runs (``make -n``), as commands: ``nmsim ...``, ``pytest``, ``python bench/...``."""
    out = subprocess.run(["make", "-n", "-C", str(ROOT), target], capture_output=True, text=True, check=True).stdout
    commands = []
    for line in out.splitlines():
        if m := re.search(r"python\S* -m nmsim (.*)$", line):
            commands.append(f"nmsim {m.group(1).strip()}")
        elif re.search(r"python\S* -m pytest", line):
            commands.append("pytest")
        elif m := re.search(r"python\S* (bench/\S+.*)$", line):
            commands.append(f"python {m.group(1).strip()}")
    return commands


def run_nmsim(command: str) -> tuple[int, str]:
    from nmsim.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            rc = main(shlex.split(command)[1:])
        except SystemExit as exc:
            rc = exc.code
    return rc, buf.getvalue()


def run_python(code: str) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        exec(compile(code, "README.md python block", "exec"), {"__name__": "__readme__"})  # noqa: S102
    return 0, buf.getvalue()


def check_elsewhere(command: str) -> None:
    """Commands that are not run: what they name must exist."""
    words = command.split()
    if words[0] == "python" and words[1].startswith("bench/"):
        assert (ROOT / words[1]).is_file(), command
        for name in words[2:]:                       # bench/run.py NAME: bench/bench_NAME.py
            assert (ROOT / "bench" / f"bench_{name}.py").is_file(), command
    elif words[0] == "python" and words[1] == "-m":
        import importlib.util
        assert importlib.util.find_spec(words[2]) is not None, command
    else:
        assert command in ELSEWHERE, f"README command neither run nor known: {command}"


def test_readme_lists_its_commands_in_order():
    kinds = readme_commands()
    shell = [c for k, c in kinds if k == "shell"]
    assert shell[:2] == ["make report", "make test"] and sum(k == "python" for k, _ in kinds) >= 1
    assert len(shell) >= 40
    for command in HEAVY:
        assert command in shell or any(command in make_recipe(c.split()[1]) for c in shell if c.startswith("make")), \
            f"HEAVY lists a command the README no longer shows: {command}"


def share_repeated_work(monkeypatch) -> None:
    """The commands run in this one process (a newcomer's, one process each): a trace and a cluster run's prediction
    are kept for the whole flow instead of the CLI's 32 traces, so a command repeating an earlier one's work takes
    the same result from memory (``cluster validate --check-bands`` prices the 52 runs ``cluster validate`` priced,
    about 270 traces: nothing new). The numbers are the ones computed once; every command still runs as written."""
    import nmsim.cluster.validation as cv
    import nmsim.graph.api as api
    from nmsim.cluster.losses import load_losses

    monkeypatch.setattr(api, "_trace_cached", functools.lru_cache(maxsize=None)(api.trace_uncached))
    priced, predict = {}, cv.predict

    def kept(run, losses=None):
        key = (json.dumps(run, sort_keys=True, default=str), repr(load_losses(losses)))
        if key not in priced:
            priced[key] = predict(run, losses)
        return dict(priced[key])
    monkeypatch.setattr(cv, "predict", kept)


def test_readme_commands_run_in_order(tmp_path, monkeypatch):
    share_repeated_work(monkeypatch)
    (tmp_path / "reports").mkdir()
    for name in ("examples",):
        (tmp_path / name).symlink_to(ROOT / name)
    for name in ("evidence", "trainer-sweep"):        # read by plot / make report; nothing writes there
        (tmp_path / "reports" / name).symlink_to(ROOT / "reports" / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    before = {p: p.stat().st_mtime_ns for p in (ROOT / "reports" / "evidence").rglob("*") if p.is_file()}
    ran, skipped, done = [], [], set()
    for kind, command in readme_commands():
        if kind == "python":
            rc, out = run_python(command)
            ran.append("python block")
            continue
        expanded = make_recipe(command.split()[1]) if command.startswith("make ") else [command]
        for cmd in expanded:
            if cmd in done:
                continue
            done.add(cmd)
            if cmd in HEAVY:
                skipped.append(cmd)
            elif cmd.startswith("nmsim "):
                rc, out = run_nmsim(cmd)
                assert rc == 0, f"README command failed: {cmd}\n{out[-3000:]}"
                ran.append(cmd)
            else:
                check_elsewhere(cmd)
    for cmd in skipped:   # a long command is skipped only where a smaller form of it (same subcommand) ran
        prefix = " ".join(itertools.takewhile(lambda w: not w.startswith("-"), cmd.split()))
        assert any(r.startswith(prefix + " ") for r in ran), f"no smaller form of {cmd!r} in the README ran"
    assert len(ran) >= 40 and "python block" in ran
    assert (tmp_path / "reports" / "gpt2-chars" / "report.md").is_file()
    assert "perplexity (per byte, lower is better)" in (tmp_path / "reports" / "gpt2-chars" / "report.md").read_text()
    assert before == {p: p.stat().st_mtime_ns for p in (ROOT / "reports" / "evidence").rglob("*") if p.is_file()}
