"""Entry point: the parser and the error boundary.

Every failure bale expects ends as one line ``ERROR: <file>: <what>`` on
stderr and exit status 1; Ctrl-C exits 130 with nothing half-written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else list(argv)
    if args_in == ["--version"]:
        # Scripts call this often; skip building every sub-command's parser.
        print(__version__)
        return 0
    first = next((a for a in args_in if not a.startswith("-")), None)
    parser = build_parser(first)
    args = parser.parse_args(args_in)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from bale.exceptions import BaleError

    try:
        return int(args.func(args) or 0)
    except BaleError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ERROR: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
    except OSError as e:
        # What the Python side writes (downloads, metafiles) can still hit a
        # full disk or a permission: one line, like every other failure.
        where = f"{e.filename}: " if e.filename else ""
        print(f"ERROR: {where}{e.strerror or e}", file=sys.stderr)
        return 1
