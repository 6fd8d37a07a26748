"""The command line's grammar: bale's options, and the command groups'
sub-parsers in the order ``bale --help`` lists them."""

from __future__ import annotations

import argparse
import importlib

from bale import __version__
from bale.cli.common import Commands, Parser

#: One module per command group, each adding these commands with
#: ``register``, in ``bale --help``'s order. Only the group of the command
#: being run is imported (tests/unit/test_cli_groups.py keeps this in step).
GROUPS = {
    "data": (
        "init",
        "add",
        "status",
        "checkout",
        "commit",
        "diff",
        "remove",
        "unprotect",
        "data",
    ),
    "storage": ("gc", "du", "serve"),
    "config": ("cache", "config"),
    "sync": ("push", "fetch", "pull"),
    "share": ("get", "import", "update", "ls"),
    "urls": ("import-url", "get-url", "ls-url", "list-url"),
    "remote": ("remote",),
    "pipeline": ("repro", "stage", "freeze", "unfreeze", "lineage"),
    "metrics": ("metrics", "params"),
    "dag": ("dag",),
    "plots": ("plots",),
    "experiments": ("exp", "queue"),
    "registry": ("artifacts", "model"),
    "project": ("root", "check-ignore", "move", "destroy", "install", "git-hook"),
    "about": ("version", "doctor", "completion"),
}

#: Other names of commands, as dvc's: the parser builds the command they name.
ALIASES = {"mv": "move"}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only``, just that command's sub-parser is
    built (the others cost tens of milliseconds at every start), unless it
    names no command: then all are, for argparse's message."""
    parser = Parser(
        prog="bale",
        description=(
            "Fast, DVC-compatible data version control. bale works inside DVC 3.x "
            "repositories: same .dvc files, same cache, same remotes."
        ),
    )
    parser.add_argument("--version", action="version", version=__version__)
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="print more")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands = Commands(sub, only)
    for group, names in GROUPS.items():
        if only is None or ALIASES.get(only, only) in names:
            importlib.import_module(f"bale.cli.{group}").register(commands)
    if only is not None and not commands.built:
        return build_parser()
    for command in sub.choices.values():
        _verbosity_below(command)
    return parser


def _verbosity_below(parser: argparse.ArgumentParser) -> None:
    """``-q``/``-v`` on every subcommand too (``bale remote add -v``), as
    dvc takes them at any level; a command's own sub-parsers are made by
    its module, so they get them here. SUPPRESS keeps what an outer level
    set."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in {id(c): c for c in action.choices.values()}.values():
            options = child._option_string_actions
            if "-v" not in options and "--verbose" not in options:
                keep = argparse.SUPPRESS
                child.add_argument(
                    "-v", "--verbose", action="store_true", default=keep, help="print more"
                )
            if "-q" not in options and "--quiet" not in options:
                keep = argparse.SUPPRESS
                child.add_argument(
                    "-q", "--quiet", action="store_true", default=keep, help="print only errors"
                )
            _verbosity_below(child)
