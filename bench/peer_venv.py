"""Peer tools in their own virtual environments, shared by the benches that compare nmsim with them.

:func:`peer_python` returns the interpreter of a venv holding pinned packages (creating it on first use), or
``(None, why)`` when it cannot be had, so the bench skips that peer with a message instead of failing. An
environment variable may name an interpreter that already has the peer.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def peer_python(folder: Path, pins: list[str], check: str, env_var: str | None = None) -> tuple[str | None, str]:
    """The python of ``folder`` once ``check`` (Python code) runs there, after ``pip install pins`` if needed."""
    if env_var and os.environ.get(env_var):
        env = os.environ[env_var]
        return (env, "ok") if Path(env).exists() else (None, f"{env_var}={env} does not exist")
    python = folder / "bin" / "python"
    probe = [str(python), "-c", check]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return str(python), "ok"
    log = folder.parent / f"{folder.name}.log"
    what = " ".join(pins)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        print(f"installing {what} into {folder} (log: {log})", file=sys.stderr, flush=True)
        with open(log, "w") as fh:
            for cmd in ([sys.executable, "-m", "venv", "--clear", str(folder)],
                        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins]):
                if subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=1800).returncode:
                    return None, f"skipped: could not install {what} (see {log})"
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"skipped: could not install {what}: {exc}"
    if subprocess.run(probe, capture_output=True).returncode:
        return None, f"skipped: {what} installed but does not import (see {log})"
    return str(python), "ok"
