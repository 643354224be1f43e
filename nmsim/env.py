"""The environment variables nmsim reads, each parsed by one rule here: a bad value is one :class:`UserError`
line naming the variable (``NMSIM_CACHE_MAX_MB: must be a finite number from 0 to 1,048,576, got 'inf'``).

=========================  ==================================================  ==============================
variable                   meaning                                             values
=========================  ==================================================  ==============================
``NMSIM_CACHE_DIR``        trace cache folder (:mod:`nmsim.graph.cache`)        a path (default XDG cache)
``NMSIM_CACHE``            trace cache mode                                    read, build, off
``NMSIM_CACHE_MAX_MB``     cache size limit, MiB (least recently used evicted)  0 to 1,048,576 (default 1024)
``NMSIM_STATE_DIR``        ledger of files nmsim wrote (:mod:`nmsim.io.ledger`)  a path (default XDG state)
``NMSIM_PROGRESS``         progress display (:mod:`nmsim.progress`)              auto, bar, lines, heartbeat, off
``NMSIM_PROGRESS_SECONDS`` seconds between progress lines                      0 to 1e9 (default 60)
=========================  ==================================================  ==============================

An empty or unset variable means its default. :func:`check_all` reads every one (the CLI calls it before any
work). Import cost: the standard library only.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from nmsim.errors import UserError

CACHE_MODES = ("read", "build", "off")
PROGRESS_MODES = ("auto", "bar", "lines", "heartbeat", "off")
MAX_CACHE_MB = 2**20          # 1 TiB: a sanity limit
MAX_PROGRESS_SECONDS = 10**9   # about 32 years: a sanity limit


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None or not value.strip() else value.strip()


def choice(name: str, choices: tuple[str, ...]) -> str | None:
    """The variable's value (lower case), one of ``choices``; None when unset or empty."""
    value = _raw(name)
    if value is None:
        return None
    if value.lower() not in choices:
        raise UserError(f"must be one of {', '.join(choices)}, got {_short(value)}", name)
    return value.lower()


def number(name: str, default: float, lo: float, hi: float) -> float:
    """A finite number in ``[lo, hi]``; ``default`` when unset or empty."""
    value = _raw(name)
    if value is None:
        return default
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if not math.isfinite(x) or not lo <= x <= hi:
        raise UserError(f"must be a finite number from {lo:,.0f} to {hi:,.0f}, got {_short(value)}", name)
    return x


def path(name: str) -> Path | None:
    """A folder path (``~`` expanded; it need not exist yet, but what exists there must be a folder); None when
    unset or empty."""
    value = _raw(name)
    if value is None:
        return None
    folder = Path(os.environ[name]).expanduser()
    if os.path.lexists(folder) and not folder.is_dir():
        raise UserError(f"must be a folder, got {_short(os.environ[name])}, which is not a folder", name)
    return folder


def _short(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:18] + "..." + value[-18:])


# ---- the variables ----------------------------------------------------------------------------------------

def cache_dir() -> Path | None:
    return path("NMSIM_CACHE_DIR")


def cache_mode() -> str | None:
    return choice("NMSIM_CACHE", CACHE_MODES)


def cache_max_bytes() -> int:
    return int(number("NMSIM_CACHE_MAX_MB", 1024, 0, MAX_CACHE_MB) * 2**20)


def state_dir() -> Path | None:
    return path("NMSIM_STATE_DIR")


def progress_mode() -> str | None:
    return choice("NMSIM_PROGRESS", PROGRESS_MODES)


def progress_seconds(default: float = 60.0) -> float:
    return number("NMSIM_PROGRESS_SECONDS", default, 0, MAX_PROGRESS_SECONDS)


# ---- the cache in force (the trace cache's folder and mode: nmsim.graph.cache; kept answers, parses) -----------
_MODE = ["read"]


def cache_folder() -> Path:
    """The nmsim cache folder (not created here): ``$NMSIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/nmsim``, else
    ``~/.cache/nmsim``."""
    env = cache_dir()
    if env is not None:
        return env
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and os.path.isabs(os.path.expanduser(xdg)) else Path.home() / ".cache"
    return base / "nmsim"


def cache_in_force() -> str:
    """The cache mode in force (read | build | off; :func:`nmsim.graph.cache.set_cache_mode` sets it)."""
    return _MODE[0]


def set_cache_in_force(mode: str) -> None:
    if mode not in CACHE_MODES:
        raise ValueError(f"mode must be one of {CACHE_MODES}")
    _MODE[0] = mode


READERS = (cache_dir, cache_mode, cache_max_bytes, state_dir, progress_mode, progress_seconds)


def check_all() -> None:
    """Read every variable: the first bad one raises its UserError."""
    for read in READERS:
        read()
