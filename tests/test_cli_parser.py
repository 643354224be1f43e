"""The command map the CLI uses to import only the named command's module matches what the modules register."""
from __future__ import annotations

import argparse
import importlib

import pytest

from nmsim.cli import COMMANDS, build_parser, main


def _choices(parser: argparse.ArgumentParser) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_full_parser_has_every_mapped_command_in_order():
    assert _choices(build_parser()) == list(COMMANDS)


@pytest.mark.parametrize("module", sorted(set(COMMANDS.values())))
def test_each_module_registers_exactly_its_mapped_commands(module):
    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).register(sub)
    assert sorted(sub.choices) == sorted(c for c, m in COMMANDS.items() if m == module)


@pytest.mark.parametrize("argv", [["price", "llama-2-7b", "--hardware", "a100", "--mode", "prefill"],
                                  ["--debug", "compare", "llama-2-7b", "--patterns", "dense,2:4"],
                                  ["hardware", "show", "a100"], ["cache", "info"]])
def test_lazy_parser_parses_as_the_full_one(argv):
    lazy = build_parser(argv)
    assert _choices(lazy) == [c for c, m in COMMANDS.items() if m == COMMANDS[argv[argv[0] == "--debug"]]]
    assert vars(lazy.parse_args(argv)) == vars(build_parser().parse_args(argv))


def test_unknown_command_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["pricee", "llama-2-7b"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("nmsim: error: nmsim: argument COMMAND: invalid choice: 'pricee' (choose from ")
    assert all(f"'{c}'" in err for c in COMMANDS)


def test_recipe_flags_are_defined_once_and_match_the_recipes():
    """train, sweep and schedule share nmsim.cli.recipe_flags, made from the recipes' own parameters."""
    from nmsim.cli.recipe_flags import NAMES
    from nmsim.recipes import RECIPES
    assert NAMES == ("srste_lambda", "finetune_rule", "beta", "zero_threshold", "beta_rule", "k", "intervals")
    assert {n for cls in RECIPES.values() for n in cls.param_names} == set(NAMES) | {"boundaries"}
