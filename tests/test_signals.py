"""Issue 20: SIGINT and SIGTERM at random moments of ``report``, ``export``, ``cluster budget`` and ``evidence run``
(fresh processes), then a re-run that succeeds: no temp file or folder of nmsim's is left anywhere, and the user's
files are byte-identical throughout. Plus: a temp folder left by a process killed outright (SIGKILL) is removed
by the next write into its folder, and nothing else is.

Moments per command and signal: early (a random time in the first second, mostly start-up), when a temp entry of
nmsim's first appears beside the output (or a deadline), and a random later time; the random times come from a
generator seeded by the command and signal, so a failure replays.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_bad_input import make_files, snapshot

ROOT = Path(__file__).parent.parent
COMMANDS = {
    "report": ["report", "--no-train", "--workload", "vit-tiny", "--hardware", "a100", "--patterns", "2:4",
               "--recipes", "sr-ste", "--out", "out/rep"],
    "export": ["export", "vit-tiny", "--format", "scalesim", "--out", "out/ex"],
    "cluster budget": ["cluster", "budget", "gpt2", "--sparsity", "ff=2:4", "--tokens", "1e9", "--recipes", "sr-ste",
                       "--out", "out/budget.csv"],
    "evidence run": ["evidence", "run", "--out", "out/ev", "--task", "digits", "--seeds", "2", "--epochs", "1",
                     "--batch", "512", "--eval-every", "1",
                     "--recipes", "dense,sr-ste", "--patterns", "ff=2:4", "--workers", "1"],
}
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
MOMENTS = ("early", "temp appears", "later")
USER_FILES = {"out/notes.txt": "my notes", "out/data/results.csv": "a,b\n1,2\n", "thesis.tex": "keep"}


def _nmsim_temps(root: Path) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root)
                  for n in dirs + files if ".nmsim-tmp-" in n or ".nmsim-old-" in n)


def _env(tmp: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NMSIM_PROGRESS": "off"}
    env.setdefault("NMSIM_CACHE_DIR", str(tmp / "cache"))
    return env


def _interrupt(argv, cwd: Path, sig: int, moment: str, rng: random.Random) -> tuple[int, str]:
    proc = subprocess.Popen([sys.executable, "-m", "nmsim", *argv], cwd=cwd, env=_env(cwd.parent),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if moment == "temp appears":
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline and not _nmsim_temps(cwd):
            time.sleep(0.005)
    else:
        time.sleep(rng.uniform(0.3, 1.0) if moment == "early" else rng.uniform(1.0, 6.0))
    if proc.poll() is None:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.heavy
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_signals_then_a_rerun(tmp_path, command):
    """Per command: SIGINT and SIGTERM at each moment (6 interrupted runs, one after the other in one folder,
    each resuming what the last left), then one run to the end. About 2.5 minutes of subprocesses in all: ``make
    validate`` runs it; ``make test`` keeps the in-process and native-import signal tests below."""
    work = tmp_path / "work"
    work.mkdir()
    make_files(work, USER_FILES)
    user = snapshot(work)
    argv = COMMANDS[command]
    for moment in MOMENTS:
        for name, sig in SIGNALS.items():
            rng = random.Random(f"{command} {name} {moment}")
            code, err = _interrupt(argv, work, sig, moment, rng)
            where = f"{command}, {name} at '{moment}': exit {code}\n{err}"
            assert code in (0, 128 + sig, -sig), where          # done, stopped cleanly, or killed before start-up
            if code == 128 + sig:
                assert "Traceback" not in err and err.strip().splitlines()[-1].startswith(
                    ("nmsim: interrupted", f"nmsim: stopped by {name}")), where
            assert _nmsim_temps(work) == [] or code == -sig, where
            assert {k: v for k, v in snapshot(work).items() if k in user} == user, where
    done = subprocess.run([sys.executable, "-m", "nmsim", *argv], cwd=work, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert _nmsim_temps(work) == []
    assert {k: v for k, v in snapshot(work).items() if k in user} == user
    out = work / argv[argv.index("--out") + 1]
    assert out.is_file() if out.suffix else (out / ".nmsim-report").is_file() or (out / "summary.md").is_file()


def test_stale_temps_of_a_killed_process_are_removed_and_nothing_else(tmp_path):
    """SIGKILL runs no cleanup: what it leaves is removed by the next write into the folder, when the name says
    nmsim made it on this host and its process is gone."""
    from nmsim.io import write_text
    from nmsim.io.write import temp_prefix

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    mine = temp_prefix("rep").replace(f"-{os.getpid()}-", f"-{pid}-")
    old = temp_prefix("old-rep", "old").replace(f"-{os.getpid()}-", f"-{pid}-")
    make_files(tmp_path, {
        f"{mine}abc_12/index.html": "half a report",                     # a killed report's temp folder
        f"{temp_prefix('t.csv').replace(f'-{os.getpid()}-', f'-{pid}-')}x1y2.tmp": "half a table",
        f"{old}q9/x/report.md": "the previous report",                    # killed between the two renames
        f"{temp_prefix('live')}abc/index.html": "this process is alive",  # our own, in use
        ".rep.nmsim-tmp-00000000-1-abc/keep": "another host's",
        ".rep.tmp-abc/keep": "an older name pattern: not provably nmsim's",
        ".rep.nmsim-tmp-zz/keep": "not the pattern",
        "user.txt": "mine",
    })
    write_text(tmp_path / "new.csv", "a,b\n")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([f"{temp_prefix('live')}abc", ".rep.nmsim-tmp-00000000-1-abc", ".rep.tmp-abc",
                           ".rep.nmsim-tmp-zz", "user.txt", "new.csv", "old-rep"])
    assert (tmp_path / "old-rep" / "report.md").read_text() == "the previous report"   # put back where it was


def test_sigterm_in_process_is_one_line_and_143(tmp_path, capsys, monkeypatch):
    """The handler is installed for one command and restored after it."""
    from nmsim.cli import main

    before = signal.getsignal(signal.SIGTERM)

    def stop(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)

    import nmsim.cli.schedule as schedule
    monkeypatch.setattr(schedule, "run", stop)
    monkeypatch.chdir(tmp_path)
    code = main(["schedule", "sr-ste", "--steps", "10"])
    err = capsys.readouterr().err
    assert code == 143
    assert err == "nmsim: stopped by SIGTERM; nothing was written (outputs are written only when complete)\n"
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("sig, raised", [(signal.SIGINT, "KeyboardInterrupt"), (signal.SIGTERM, "Terminated")])
def test_a_signal_during_a_native_import_waits_for_the_import(tmp_path, monkeypatch, sig, raised):
    """A signal that arrives while a pybind11 package first imports is held until the module body has run (a
    Python exception raised inside C++ start-up code aborts the process: exit -6 instead of a clean stop), then
    raised as usual; the half-imported module is not left in sys.modules, and the import can be retried."""
    from nmsim.cli import interrupts
    (tmp_path / "fakenative").mkdir()
    (tmp_path / "fakenative" / "__init__.py").write_text(
        f"import signal, sys\nsignal.raise_signal({int(sig)})\n"
        "import builtins\nbuiltins._fakenative_done = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(interrupts, "NATIVE", interrupts.NATIVE | {"fakenative"})
    import builtins
    with pytest.raises(KeyboardInterrupt) as caught:
        with interrupts.signals_as_interrupts():
            import fakenative  # noqa: F401
    assert type(caught.value).__name__ == raised
    assert getattr(builtins, "_fakenative_done", False) is True      # the body ran to its end first
    del builtins._fakenative_done
    assert "fakenative" not in sys.modules
    assert signal.getsignal(signal.SIGTERM) is not interrupts._terminate    # handlers restored
    assert not any(isinstance(f, interrupts._NativeImports) for f in sys.meta_path)
    monkeypatch.delitem(sys.modules, "fakenative", raising=False)
