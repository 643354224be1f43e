"""Keywords read as the command line's options: ``dataset_size=`` is ``--dataset-size``, a flag is ``True``, a
list is comma-joined. They go through the command's own argument parser, so the keyword functions and the CLI
share defaults and usage errors (:class:`nmsim.errors.UserError` with the CLI's text, without ``nmsim: error: ``)."""
from __future__ import annotations

import contextlib
import io
import os

from nmsim.errors import UserError

_VALUE_TYPES = (str, int, float, os.PathLike)
# keywords the API sets itself (or that would print help and exit): refused, never passed on
RESERVED = {"help": "see help(nmsim.<function>)", "h": "see help(nmsim.<function>)",
            "version": "see nmsim.__version__", "debug": "errors are raised as UserError",
            "format": "the API returns a DataFrame",
            "out": "the API returns a DataFrame; save it with DataFrame.to_csv",
            "columns": "the API returns every column; pick some with DataFrame[[...]]"}


def text(value, where: str) -> str:
    """One argument as the command line would carry it (a str); UserError for a value argv cannot hold."""
    if isinstance(value, bool) or not isinstance(value, _VALUE_TYPES):
        raise UserError(f"expected a string, a number or a path, got {type(value).__name__}", where)
    out = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if isinstance(out, bytes) or "\x00" in out:
        raise UserError("must be text without NUL bytes", where)
    return out


def _options(kwargs: dict, reserved) -> list[str]:
    """Keywords as ``--flag value`` options (``--flag=value`` for a value that starts with ``-``, so that it stays
    a value); True is a flag, None and False are left out, a list or tuple is joined with commas;
    ``price_per_hour`` may be a dict of DEVICE: USD (``{"a100": 1.8}``)."""
    argv = []
    for key, value in kwargs.items():
        flag = "--" + str(key).replace("_", "-")
        if key in reserved:
            raise UserError(f"not an API keyword: {RESERVED[key]}", flag)
        if not isinstance(key, str) or not key.isidentifier():
            raise UserError(f"not an option name: {key!r}", "keyword")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
            continue
        if isinstance(value, dict) and key == "price_per_hour":
            value = [f"{text(k, flag)}={text(v, flag)}" for k, v in value.items()]
        joined = ",".join(text(v, flag) for v in value) if isinstance(value, (list, tuple)) else text(value, flag)
        argv += [f"{flag}={joined}"] if joined.startswith("-") else [flag, joined]
    return argv


def argv_of(command: list[str], positionals: list, kwargs: dict, reserved=tuple(RESERVED)) -> list[str]:
    """``COMMAND... POSITIONAL --option value ...``, as a user types it; a positional that starts with ``-`` goes
    last, after ``--``, where it is never read as an option (``nmsim.price("--help", "a100")`` prices a workload
    named ``--help``: unknown)."""
    pos = [text(v, name) for name, v in positionals if v is not None]
    options = _options(kwargs, reserved)
    if any(p.startswith("-") for p in pos):
        return [*command, *options, "--", *pos]
    return [*command, *pos, *options]


def read(command: str | list[str], positionals: list = (), kwargs: dict | None = None, reserved=tuple(RESERVED),
         extra: tuple[str, ...] = ()):
    """The command's arguments parsed by its own parser (same defaults, same usage errors); ``extra`` are options
    the API adds itself (placed before a ``--``)."""
    from nmsim.api.options import merge_workload
    from nmsim.cli import build_parser

    words = [command] if isinstance(command, str) else list(command)
    argv = argv_of(words, list(positionals), dict(kwargs or {}), reserved)
    end = argv.index("--") if "--" in argv else len(argv)
    argv = [*argv[:end], *extra, *argv[end:]]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser(argv).parse_args(argv)
    except SystemExit as exc:
        lines = err.getvalue().strip().splitlines()
        message = lines[-1] if lines else f"exit status {exc.code}"
        raise UserError(message.removeprefix("nmsim: error: ")) from None
    from nmsim import env
    env.check_all()                     # NMSIM_* variables, as the CLI checks them
    merge_workload(args)
    return args
