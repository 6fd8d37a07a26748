"""The table of command groups the parser imports from says what each
group really registers, in the order ``bale --help`` lists them."""

from __future__ import annotations

import argparse
import importlib

from bale.cli.common import Commands
from bale.cli.parser import ALIASES, GROUPS, build_parser


def test_each_group_registers_the_commands_the_table_names() -> None:
    for group, names in GROUPS.items():
        commands = Commands(argparse.ArgumentParser().add_subparsers(), None)
        importlib.import_module(f"bale.cli.{group}").register(commands)
        assert tuple(commands.built) == names, group


def test_a_command_builds_only_its_own_parser_and_an_unknown_one_builds_all() -> None:
    def built(only: str | None) -> list[str]:
        sub = next(a for a in build_parser(only)._actions if a.dest == "command")
        return list(sub.choices)  # type: ignore[union-attr]

    every = [n for names in GROUPS.values() for n in names]
    aliases = set(ALIASES)
    assert [n for n in built(None) if n not in aliases] == every
    assert built("push") == ["push"]
    for alias, name in ALIASES.items():
        assert set(built(alias)) == {name, alias}
    assert built("nosuchcommand") == built(None)
