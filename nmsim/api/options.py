"""What every API call shares with the CLI's commands: the workload given once (WORKLOAD or ``--hf-config``), the
trace cache's mode and the wording of file-system failures around a call, and tables as their CSV reads."""
from __future__ import annotations

import contextlib

from nmsim.errors import UserError


def merge_workload(args) -> None:
    """``args.workload`` from WORKLOAD or ``--hf-config`` (exactly one; the default when neither and there is one)."""
    if not hasattr(args, "hf_config") or not hasattr(args, "workload_default"):
        return   # trace and cluster resolve WORKLOAD / --hf-config themselves (nmsim.graph.resolve_workload)
    if args.hf_config and args.workload:
        raise UserError(f"give the workload once: {args.workload!r} or --hf-config {args.hf_config!r}",
                        "--hf-config")
    args.workload = args.workload or args.hf_config or getattr(args, "workload_default", None)
    args.hf_config = None
    if not args.workload:
        raise UserError("give a workload name or path, or --hf-config", "workload")


@contextlib.contextmanager
def running(command: str):
    """Around one API call, what the CLI's ``main`` does around a command: the trace cache's mode for the command,
    and a file-system failure nmsim did not word itself as a UserError (as the CLI words it)."""
    from nmsim.graph.cache import cache_for
    from nmsim.io import os_error

    try:
        with cache_for(command):
            yield
    except UserError:
        raise
    except OSError as exc:
        raise os_error(exc, exc.filename or "-", "failed") from None


def plain(df, index: bool = True):
    """``df`` as its CSV reads: a named index as leading columns (the CLI's ``index``), else a fresh range index."""
    return df.reset_index() if index and any(n is not None for n in df.index.names) else df.reset_index(drop=True)
