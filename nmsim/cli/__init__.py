"""Command line: argument parsing only. Each subcommand module registers a parser and calls into the API.

Every subcommand module exposes ``register(subparsers)`` which adds its parser(s) and sets ``func``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from nmsim.errors import UserError

# One module per subcommand group; each owns its own file.
COMMAND_MODULES = (
    "nmsim.cli.trace",
    "nmsim.cli.hardware",
    "nmsim.cli.price",
    "nmsim.cli.budget",
    "nmsim.cli.train",
    "nmsim.cli.report",
    "nmsim.cli.schedule",
)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (``nmsim: error: ...``) with exit status 2."""

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"nmsim: error: {self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="nmsim", description="N:M sparse training cost, accelerator and accuracy model")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a subcommand not built yet
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except UserError as exc:
        if args.debug:
            raise
        print(f"nmsim: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
