"""nmsim.progress: a bar on a terminal, periodic lines in logs (fake clock), numbered stages; the trainer's log."""
from __future__ import annotations

import io
import math

import pytest

from nmsim.progress import Items, Progress, Stages, resolve_mode


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines_of(stream) -> list[str]:
    return stream.getvalue().splitlines()


def test_modes(monkeypatch):
    monkeypatch.delenv("NMSIM_PROGRESS", raising=False)
    assert resolve_mode("auto", io.StringIO()) == "lines"     # a log file or pipe
    assert resolve_mode(None, Tty()) == "bar"
    assert resolve_mode(False, Tty()) == "off" and resolve_mode(True, io.StringIO()) == "lines"
    monkeypatch.setenv("NMSIM_PROGRESS", "off")
    assert resolve_mode("auto", Tty()) == "off" and resolve_mode("bar", Tty()) == "bar"
    with pytest.raises(ValueError, match="progress mode 'loud'"):
        resolve_mode("loud")


def test_lines_every_tenth_with_rate_and_eta():
    clock, out = Clock(), io.StringIO()
    p = Progress(50, "train digits sr-ste ff=2:4 seed 0", "step", mode="lines", stream=out, clock=clock,
                 every_seconds=0)
    for _ in range(12):
        clock.t += 2.0
        p.update(1, loss=0.41234)
    # one line per 10 % of 50 steps (5 steps): at 5 and 10
    assert lines_of(out) == [
        "train digits sr-ste ff=2:4 seed 0: step 5/50 (10%), loss 0.412, 2 s/step, eta 90 s",
        "train digits sr-ste ff=2:4 seed 0: step 10/50 (20%), loss 0.412, 2 s/step, eta 80 s"]
    p.close()   # a last line for the steps after the last one
    assert lines_of(out)[-1] == "train digits sr-ste ff=2:4 seed 0: step 12/50 (24%), loss 0.412, 2 s/step, eta 76 s"
    p.close()
    assert len(lines_of(out)) == 3


def test_lines_on_time_and_final():
    clock, out = Clock(), io.StringIO()
    with Progress(1000, "sweep", "run", mode="lines", stream=out, clock=clock, every_seconds=30,
                  every_fraction=None) as p:
        for _ in range(4):
            clock.t += 20.0
            p.update(1)
        clock.t += 0.5
        p.update(996)
    got = lines_of(out)
    # every 30 s of clock (at 40 s and 80 s), then the end
    assert got == ["sweep: run 2/1,000 (0%), 20 s/run, eta 5.54 h", "sweep: run 4/1,000 (0%), 20 s/run, eta 5.53 h",
                   "sweep: run 1,000/1,000 (100%), 12.4 run/s, done in 80.5 s"]


def test_heartbeat_has_no_fraction_lines_and_resumes_count():
    clock, out = Clock(), io.StringIO()
    p = Progress(100, "train x", mode="heartbeat", stream=out, clock=clock, initial=40, every_seconds=10)
    for _ in range(60):
        clock.t += 1.0
        p.update(1)
    p.close()
    assert lines_of(out) == [*(f"train x: step {n}/100 ({n}%), 1 s/step, eta {100 - n} s" for n in range(50, 100, 10)),
                             "train x: step 100/100 (100%), 1 s/step, done in 60 s"]


def test_interrupted_close_writes_nothing_more():
    clock, out = Clock(), io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        with Progress(10, "x", mode="lines", stream=out, clock=clock, every_seconds=0) as p:
            p.update(3)
            raise KeyboardInterrupt
    assert lines_of(out) == ["x: step 3/10 (30%)"]


def test_bar_on_a_terminal_stays():
    out = Tty()
    with Progress(3, "sweep", "run", mode="auto", stream=out) as p:
        p.update(1, accuracy=0.5)
        p.update(2)
    text = out.getvalue()
    assert "sweep: 100%" in text and "3/3" in text
    assert not text.endswith("\r")       # leave=True: the finished bar stays on its own line


def test_stages():
    said, clock = [], Clock()
    st = Stages(3, said.append, prefix="report ", clock=clock)
    st.start("cost tables")
    clock.t += 3.25
    st.done("12 rows")
    st.start("trainer sweep (7 runs)")
    assert said == ["report [1/3] cost tables", "report [1/3] cost tables: 3.25 s, 12 rows",
                    "report [2/3] trainer sweep (7 runs)"]


def test_trainer_log_lines(tmp_path, capsys, monkeypatch):
    """Not a terminal: the trainer writes one line per 10 % of the run to stderr, naming the run."""
    from nmsim.train.loop import RunConfig, train_run

    monkeypatch.setenv("NMSIM_PROGRESS", "lines")
    monkeypatch.setenv("NMSIM_PROGRESS_SECONDS", "100000")   # only the 10 % lines, however slow the machine
    final = train_run(RunConfig(task="digits", recipe="sr-ste", sparsity={"ff": "2:4"}, epochs=1), tmp_path / "r")
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train digits")]
    steps = final["step"]
    assert len(err) == 10
    assert err[0].startswith(f"train digits sr-ste ff=2:4 seed 0: step {math.ceil(steps / 10)}/{steps} (")
    assert err[-1].startswith(f"train digits sr-ste ff=2:4 seed 0: step {steps}/{steps} (100%), loss ")
    assert ", accuracy " in err[-1] and "done in" in err[-1]


def test_items_callback():
    """The (i, n, name) callbacks of nmsim.cluster's loops: a line per item with what comes next, then the end."""
    clock, out = Clock(), io.StringIO()
    with Items("cluster budget", "recipe", mode="lines", stream=out, clock=clock, every_seconds=0) as cb:
        for i, name in enumerate(("dense", "sr-ste")):
            cb(i, 2, name)
            clock.t += 4.0
    assert lines_of(out) == ["cluster budget: recipe 1/2 (50%), next sr-ste, 4 s/recipe, eta 4 s",
                             "cluster budget: recipe 2/2 (100%), 4 s/recipe, done in 8 s"]
