"""Progress of long work (training, sweeps, reports, evidence, cluster searches), on a terminal and in logs.

``Progress(total, "train digits sr-ste ff=2:4 seed 0")`` shows a tqdm bar when the stream (stderr) is a terminal;
the bar stays on screen when the work ends. When the stream is not a terminal (a log file, CI, a pipe) it writes
one-line messages instead, at most one per ``every_fraction`` of the total (10 %) and one whenever
``every_seconds`` passed since the previous line, plus a last line:

    train digits sr-ste ff=2:4 seed 0: step 1,200/5,000 (24%), loss 0.41, 3.1 s/step, eta 12 min

Modes: ``auto`` (the above), ``bar``, ``lines``, ``heartbeat`` (lines on time only: for the runs of a sweep, whose
own lines report each run) and ``off``. The environment variable ``NMSIM_PROGRESS`` (``bar``, ``lines``, ``off``)
replaces ``auto``; ``NMSIM_PROGRESS_SECONDS`` sets the interval (default 60 s).

``Stages(n, echo)`` numbers the steps of a multi-stage command: ``[2/4] cost tables`` ... ``[2/4] cost tables:
3.2 s``.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Callable

from nmsim.env import PROGRESS_MODES as MODES
from nmsim.units import duration, fixed

DEFAULT_SECONDS = 60.0


def progress_stream():
    """stderr, past a recorder of the command's answer (:mod:`nmsim.kept_answers`): progress is never part of an
    answer."""
    return getattr(sys.stderr, "unrecorded", sys.stderr)


def resolve_mode(mode: str | bool | None = "auto", stream=None) -> str:
    """``auto``/None -> ``bar`` on a terminal, else ``lines`` (``NMSIM_PROGRESS`` overrides); True -> auto;
    False -> ``off``."""
    if mode is False:
        return "off"
    if mode in (None, True, "auto"):
        from nmsim import env as environment

        env = environment.progress_mode()
        if env and env != "auto":
            return env
        stream = stream if stream is not None else progress_stream()
        isatty = getattr(stream, "isatty", None)
        return "bar" if isatty is not None and isatty() else "lines"
    if mode not in MODES:
        raise ValueError(f"progress mode {mode!r} (one of {', '.join(MODES)})")
    return mode


def interval_seconds() -> float:
    from nmsim import env

    return env.progress_seconds(DEFAULT_SECONDS)


def _duration(seconds: float) -> str:
    return duration(seconds)


def _stat(value) -> str:
    if isinstance(value, float):
        return fixed(value, 3)
    return f"{value:,}" if isinstance(value, int) else str(value)


class Progress:
    """A counter of ``total`` units of work shown as a bar or as periodic lines (see the module docstring).

    ``update(n, **stats)`` advances it; ``stats`` (``loss=0.41``) are shown after the count. ``write(msg)``
    prints a message without breaking the bar. Use it as a context manager, or call ``close()``.
    """

    def __init__(self, total: int, desc: str, unit: str = "step", *, mode: str | bool | None = "auto",
                 stream=None, initial: int = 0, every_fraction: float | None = 0.1,
                 every_seconds: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.total, self.desc, self.unit = int(total), desc, unit
        self.stream = stream if stream is not None else progress_stream()
        self.mode = resolve_mode(mode, self.stream)
        self.n = self.start_n = int(initial)
        self.stats: dict = {}
        self.clock = clock
        self.started = self.last_time = clock()
        self.every_seconds = interval_seconds() if every_seconds is None else every_seconds
        self.every_fraction = every_fraction if self.mode == "lines" else None
        self.next_n = self._next_fraction(self.n)
        self.last_line_n = self.n
        self.closed = False
        self.bar = None
        if self.mode == "bar":
            from tqdm import tqdm
            self.bar = tqdm(total=self.total, initial=self.n, desc=desc, unit=unit, leave=True, file=self.stream,
                            dynamic_ncols=True)

    def _next_fraction(self, n: int) -> float:
        if not self.every_fraction or not self.total:
            return float("inf")
        step = max(1.0, self.every_fraction * self.total)
        k = math.floor(n / step + 1e-9) + 1          # the next multiple of the step above n, in whole units
        return math.ceil(k * step - 1e-9)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close(ok=exc[0] is None)

    def rate_text(self) -> str:
        """``3.1 s/step`` or ``12.5 step/s`` over this session's units; '' before the first."""
        done, elapsed = self.n - self.start_n, self.clock() - self.started
        if done <= 0 or elapsed <= 0:
            return ""
        per = elapsed / done
        return f"{_duration(per)}/{self.unit}" if per >= 1 else f"{done / elapsed:.3g} {self.unit}/s"

    def eta_seconds(self) -> float | None:
        done, elapsed = self.n - self.start_n, self.clock() - self.started
        if done <= 0 or elapsed <= 0 or self.n >= self.total:
            return None
        return elapsed / done * (self.total - self.n)

    def pace(self) -> str:
        """``2.1 min/run, eta 19 min`` (or ``done in 40 min``): rate and time left, '' before the first unit."""
        rate, eta = self.rate_text(), self.eta_seconds()
        if not rate:
            return ""
        return f"{rate}, " + (f"eta {_duration(eta)}" if eta is not None else
                              f"done in {_duration(self.clock() - self.started)}")

    def status(self) -> str:
        """``step 1,200/5,000 (24%), loss 0.41, 3.1 s/step, eta 12 min``."""
        pct = 100 * self.n / self.total if self.total else 100.0
        parts = [f"{self.unit} {self.n:,}/{self.total:,} ({pct:.0f}%)"]
        parts += [f"{k} {_stat(v)}" for k, v in self.stats.items() if v is not None]
        rate, eta = self.rate_text(), self.eta_seconds()
        if rate:
            parts.append(rate)
        if eta is not None:
            parts.append(f"eta {_duration(eta)}")
        elif self.n >= self.total:
            parts.append(f"done in {_duration(self.clock() - self.started)}")
        return ", ".join(parts)

    def set(self, **stats) -> None:
        """Show these values (``loss=0.41``, ``accuracy=0.93``) from now on; None removes one."""
        self.stats.update(stats)
        if self.bar is not None:
            self.bar.set_postfix({k: _stat(v) for k, v in self.stats.items() if v is not None}, refresh=False)

    def update(self, n: int = 1, **stats) -> None:
        self.n += n
        if stats:
            self.set(**stats)
        if self.bar is not None:
            self.bar.update(n)
        elif self.mode in ("lines", "heartbeat"):
            now = self.clock()
            due_time = self.every_seconds > 0 and now - self.last_time >= self.every_seconds
            if self.n >= self.next_n or due_time:
                self._line(now)

    def _line(self, now: float) -> None:
        self.stream.write(f"{self.desc}: {self.status()}\n")
        self.stream.flush()
        self.last_time, self.last_line_n = now, self.n
        self.next_n = self._next_fraction(self.n)

    def write(self, message: str, stream=None) -> None:
        """A message line (on ``stream``, default stdout) that does not break the bar."""
        stream = stream if stream is not None else sys.stdout
        if self.bar is not None:
            self.bar.write(message, file=stream)
        else:
            stream.write(message + "\n")
            stream.flush()

    def close(self, ok: bool = True) -> None:
        """End the bar (it stays on screen) or write the last line once (not after an interruption)."""
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.close()
        elif ok and self.mode == "lines" and self.n != self.last_line_n:
            self._line(self.clock())


class Items:
    """A ``progress(i, n, name)`` callback, the form library loops call before item ``i`` of ``n``
    (:func:`nmsim.cluster.plan.run_budget`, :func:`nmsim.cluster.validation.validate`), shown as a Progress;
    ``close()`` once the loop is over."""

    def __init__(self, desc: str, unit: str = "item", **kw):
        self.desc, self.unit, self.kw, self.progress = desc, unit, kw, None

    def __call__(self, i: int, n: int, name: str) -> None:
        if self.progress is None:
            self.progress = Progress(n, self.desc, self.unit, **self.kw)
        self.progress.update(i - self.progress.n, next=name)

    def __enter__(self) -> Items:
        return self

    def __exit__(self, *exc) -> None:
        self.close(ok=exc[0] is None)

    def close(self, ok: bool = True) -> None:
        if self.progress is not None:
            if ok:
                self.progress.stats.pop("next", None)
                self.progress.set()
                self.progress.update(self.progress.total - self.progress.n)
            self.progress.close(ok)


class Stages:
    """Numbered stages of one command: ``start(what)`` prints ``[i/n] what``, ``done()`` its time."""

    def __init__(self, total: int, echo: Callable[[str], None] = print, prefix: str = "",
                 clock: Callable[[], float] = time.perf_counter):
        self.total, self.echo, self.prefix, self.clock = total, echo, prefix, clock
        self.i, self.what, self.t0 = 0, "", 0.0

    def start(self, what: str) -> None:
        self.i += 1
        self.what, self.t0 = what, self.clock()
        self.echo(f"{self.prefix}[{self.i}/{self.total}] {what}")

    def done(self, note: str = "") -> None:
        self.echo(f"{self.prefix}[{self.i}/{self.total}] {self.what}: {_duration(self.clock() - self.t0)}"
                  + (f", {note}" if note else ""))
