"""The environment a user's ``nmsim`` runs in, for the benches that time CLI calls.

A user's install has its modules compiled to bytecode after the first run; a shell with
``PYTHONDONTWRITEBYTECODE`` set (as on some build machines) would instead recompile all of nmsim on every call
(about 0.25 s). So timed calls run with bytecode caching on, kept under the temp folder
(``PYTHONPYCACHEPREFIX``) so the source tree is never written, and each command runs once untimed first.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cli_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "nmsim-bench-pycache")
    return {**env, **(extra or {})}
