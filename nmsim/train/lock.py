"""Run-folder locks: one process trains a run folder at a time, so concurrent sweeps on one runs folder share
the work instead of each training every run.

The lock is ``fcntl.flock`` on ``<run folder>/.lock``: the kernel releases it when the holder exits or is
killed, so a crashed sweep never leaves a stale lock behind. (POSIX only; elsewhere runs are not locked.)
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from nmsim.errors import UserError

LOCK = ".lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class RunBusy(UserError):
    """Another process holds the run folder's lock."""

    def __init__(self, folder):
        super().__init__("is being trained by another nmsim process; wait for it or use another --out", str(folder))


def busy(folder: str | Path) -> bool:
    """Whether another process holds ``folder``'s lock now (trains the run)."""
    try:
        fd = os.open(Path(folder) / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_lock(folder: str | Path, wait: bool = False):
    """Hold ``folder``'s lock for the ``with`` block (the folder is created). ``wait=False``: raise
    :class:`RunBusy` at once when another process holds it; ``wait=True``: block until it is free."""
    from nmsim.io import os_error

    folder = Path(folder)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise os_error(exc, folder, "cannot create run folder") from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise RunBusy(folder) from None
        yield
    finally:
        if created and os.listdir(folder) == [LOCK]:   # nothing was written: leave no empty run folder behind
            with contextlib.suppress(OSError):
                os.unlink(folder / LOCK)
                folder.rmdir()
        os.close(fd)   # closing the descriptor releases the lock
