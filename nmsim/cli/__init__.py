"""Command line: argument parsing only. Each subcommand module registers a parser and calls into the API.

Every subcommand module exposes ``register(subparsers)`` which adds its parser(s) and sets ``func``.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys

from nmsim.cli.interrupts import signals_as_interrupts
from nmsim.errors import UserError

# One module per subcommand group; each owns its own file. Command name -> its module, in help order.
COMMANDS = {
    "trace": "nmsim.cli.trace",
    "hardware": "nmsim.cli.hardware",
    "price": "nmsim.cli.price",
    "compare": "nmsim.cli.price",
    "budget": "nmsim.cli.budget",
    "train": "nmsim.cli.train",
    "sweep": "nmsim.cli.train",
    "report": "nmsim.cli.report",
    "schedule": "nmsim.cli.schedule",
    "cluster": "nmsim.cli.cluster",
    "export": "nmsim.cli.export",
    "plot": "nmsim.cli.plot",
    "evidence": "nmsim.cli.evidence",
    "cache": "nmsim.cli.cache",
    "validate": "nmsim.cli.validate",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


class OneLineParser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (``nmsim: error: ...``) with exit status 2, and options are never
    abbreviated: ``--hardwar`` is refused, naming ``--hardware``, rather than silently taken for it (an option
    added later could make the same prefix mean another one)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"nmsim: error: {self.prog}: {message}\n")

    def parse_known_args(self, args=None, namespace=None):  # noqa: D102
        self._refuse_prefixes(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def _refuse_prefixes(self, args) -> None:
        """A prefix of one of this parser's options is an error naming it (a parser with commands: only the words
        before the command are its own)."""
        for word in args:
            if word == "--" or (self._subparsers is not None and not word.startswith("-")):
                return
            flag = word.split("=", 1)[0]
            if not flag.startswith("--") or flag in self._option_string_actions:
                continue
            meant = sorted(o for o in self._option_string_actions if o.startswith(flag))
            if meant:
                self.error(f"unrecognized option {flag}: did you mean {' or '.join(meant)}? (options are not "
                           "abbreviated)")

    def _get_values(self, action, arg_strings):
        if action.nargs is None and arg_strings == ["--"]:   # --recipe=--: the value '--' (argparse drops it to [])
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)


def _command_of(argv: list[str] | None) -> str | None:
    """The subcommand ``argv`` names (its first word after the top-level flags), or None."""
    for word in argv or ():
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given ``argv`` naming a command, only that command's module is imported and registered (a
    fresh process answers sooner), else every command (help, a mistyped command)."""
    parser = OneLineParser(prog="nmsim", description="N:M sparse training cost, accelerator and accuracy model")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    from nmsim.version import __version__
    parser.add_argument("--version", action="version", version=f"nmsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = _command_of(argv)
    for name in (COMMANDS[command],) if command else COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a subcommand not built yet
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


# subcommands whose --out is a folder (checked by the command itself); every other --out is one output file
_FOLDER_OUTPUTS = ("report", "train", "sweep", "export", "evidence")
# subcommands that pick up where an interrupted run stopped: (command, flag to add for resuming)
_RESUMABLE = {"train": "--resume", "sweep": None, "report": None, "evidence": None}


def _resume_hint(argv: list[str], command: str | None, what: str = "interrupted") -> str:
    import shlex

    if command not in _RESUMABLE:
        return f"{what}; nothing was written (outputs are written only when complete)"
    flag = _RESUMABLE[command]
    again = list(argv) + ([flag] if flag and flag not in argv else [])
    return f"{what}; resume with: {shlex.join(['nmsim', *again])}"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with signals_as_interrupts():
            return _main(argv)
    except KeyboardInterrupt as exc:   # before the command began (parsing, imports): nothing was written
        if "--debug" in argv:
            raise
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"nmsim: {_stopped(signum)}; nothing was written", file=sys.stderr)
        return 128 + signum


def _stopped(signum: int) -> str:
    return "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"


def _main(argv: list[str]) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from nmsim import env
        env.check_all()                     # NMSIM_* variables: a bad value is one line before any work
        if getattr(args, "out", None) and args.command not in _FOLDER_OUTPUTS:
            from nmsim.io import check_output_file
            check_output_file(args.out, mine_only=True)   # a bad --out fails before any work
        from nmsim.api.options import merge_workload
        merge_workload(args)                # WORKLOAD or --hf-config, once
        from nmsim.graph.cache import cache_for
        from nmsim.kept_answers import answer
        with cache_for(args.command):       # the trace cache: shape-generic graphs built once, loaded after
            result = answer(args, args.func)   # the same question again: the kept answer (no pandas, no pricing)
    except UserError as exc:
        if args.debug:
            raise
        print(f"nmsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"nmsim: {_resume_hint(argv, args.command, _stopped(signum))}", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        return 0
    except OSError as exc:              # a file-system failure nmsim did not turn into a UserError itself
        if args.debug:
            raise
        from nmsim.io import os_error
        print(f"nmsim: error: {os_error(exc, exc.filename or '-', 'failed')}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
