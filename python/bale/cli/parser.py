"""The command line's grammar: bale's options and its commands' sub-parsers."""

from __future__ import annotations

import argparse
import sys

from bale import __version__
from bale.cli import commands


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"ERROR: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only``, just that command's sub-parser is
    built (the others cost tens of milliseconds at every start)."""
    parser = _Parser(
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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.register(sub, only)
    return parser
