"""Every ``nmsim`` command the README shows, in the README's order, in a fresh folder (in-process).

Commands run as written except for the substitutions below, which keep the suite fast and are listed with their
reason; commands that take minutes by design (the evidence protocol, the full report) are listed in ``HEAVY`` with
where they are exercised instead. A command that fails names itself and its output.
"""
from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (pattern, replacement, why): applied to each command before it runs
FAST = (
    (r"^(nmsim (train|sweep) .*)", r"\1 --epochs 1", "one epoch (the task's 30 take minutes); train and sweep "
     "at the same length, so the sweep reuses the train run as it does at the default length"),
    (r"--seeds 3\b", "--seeds 1", "one seed per config"),
    (r"reports/evidence/protocol-runs", "runs", "plot the sweep just run (the protocol runs come from make evidence)"),
    (r"--batch 1:128 --seq 128,512,2048", "--batch 1,128 --seq 128,2048", "fewer shapes"),
    (r"--context 1k:32k:x2", "--context 1k,32k", "fewer shapes"),
)
# commands that take minutes by design: (prefix, where they are tested)
HEAVY = {
    "nmsim evidence run": "tests/test_evidence_protocol.py and make evidence",
    "nmsim report": "tests/test_report.py and make report",
    "nmsim cluster validate": "tests/test_cluster.py",
}
NOT_COMMANDS = ("nmsim sweep", "nmsim price", "nmsim --debug ...")  # prose mentions, not runnable commands


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    found = [c for c in re.findall(r"`(nmsim [^`]*)`", text) if c not in NOT_COMMANDS]
    return [c.replace("\\|", "|") for c in found]


def fast(command: str) -> str:
    for pattern, repl, _ in FAST:
        command = re.sub(pattern, repl, command)
    return command


def run_command(command: str) -> tuple[int, str]:
    from nmsim.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            rc = main(shlex.split(command)[1:])
        except SystemExit as exc:
            rc = exc.code
    return rc, buf.getvalue()


def test_readme_commands_run_in_order(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NMSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NMSIM_CACHE", "build")  # each model traced once for the whole flow
    commands = readme_commands()
    assert len(commands) >= 25 and commands[0].startswith("nmsim trace")
    ran = []
    for command in commands:
        if any(command.startswith(prefix) for prefix in HEAVY):
            continue
        rc, out = run_command(fast(command))
        assert rc == 0, f"README command failed: {fast(command)}\n{out[-2000:]}"
        if command.startswith("nmsim sweep"):
            assert ", 1 already finished," in out  # the README's train run, reused
        ran.append(command)
    assert any(c.startswith("nmsim sweep") for c in ran) and any(c.startswith("nmsim plot") for c in ran)
    sweep = (tmp_path / "runs" / "sweep_runs.csv").read_text()
    assert "sdgf-geometric" in sweep  # k fitted to the trainer's model, not dropped
