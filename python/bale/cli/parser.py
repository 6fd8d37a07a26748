"""The command line's grammar: bale's options, and the command groups'
sub-parsers in the order ``bale --help`` lists them."""

from __future__ import annotations

import argparse

from bale import __version__
from bale.cli import (
    about,
    config,
    dag,
    data,
    experiments,
    metrics,
    pipeline,
    remote,
    storage,
    sync,
)
from bale.cli.common import Commands, Parser

#: One module per command group; each adds its commands with ``register``.
GROUPS = (data, storage, config, sync, remote, pipeline, metrics, dag, experiments, about)


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
    for group in GROUPS:
        group.register(commands)
    if only is not None and not commands.built:
        return build_parser()
    return parser
