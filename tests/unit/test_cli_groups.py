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


def _leaves(parser: argparse.ArgumentParser, path: list[str]) -> list[list[str]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [path]
    found = []
    for name, child in subs[0].choices.items():
        found += _leaves(child, [*path, name])
    return found


def test_every_command_at_every_level_takes_v_and_q_as_dvc_does() -> None:
    parser = build_parser()
    leaves = _leaves(parser, [])
    assert ["remote", "add"] in leaves and ["exp", "run"] in leaves
    for path in leaves:
        parent = parser
        for name in path:
            sub = next(a for a in parent._actions if isinstance(a, argparse._SubParsersAction))
            parent = sub.choices[name]
        options = parent._option_string_actions
        assert "-v" in options and "-q" in options, path
