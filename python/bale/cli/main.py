"""Entry point: the error boundary (the grammar is in `bale.cli.parser`).

Every failure bale expects ends as one line ``ERROR: <file>: <what>`` on
stderr and exit status 1; Ctrl-C exits 130 with nothing half-written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from bale import __version__


def main(argv: Sequence[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else list(argv)
    if args_in == ["--version"]:
        # Scripts call this often: answered before the parser and the
        # commands are even imported.
        print(__version__)
        return 0
    from bale.cli.parser import build_parser

    first = next((a for a in args_in if not a.startswith("-")), None)
    parser = build_parser(first)
    args = parser.parse_args(args_in)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _exit_cleanly_on_termination()
    if getattr(args, "quiet", False):
        from bale.progress import silence

        silence()
    if getattr(args, "verbose", False):
        from bale.console import set_verbose

        set_verbose()
        _tell_start(args_in)
    start = time.monotonic()
    status = 1
    try:
        status = _run(args)
    except SystemExit as e:  # SIGTERM or SIGHUP, or a command's own exit
        status = e.code if isinstance(e.code, int) else 1
        raise
    finally:
        # With -v, as the last line: how long the command took (dvc's -v
        # stamps every line with the time instead).
        if getattr(args, "verbose", False):
            from bale.console import debug

            took = time.monotonic() - start
            debug(f"{args.command} finished in {took:.3f} s, exit status {status}")
    return status


def _run(args: argparse.Namespace) -> int:
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


def _tell_start(argv: Sequence[str]) -> None:
    """With ``-v``, first: which bale runs, on what, and the command line,
    as dvc's first two ``-v`` lines say."""
    import platform
    import shlex

    from bale.console import debug

    debug(
        f"bale {__version__}, {platform.python_implementation()} "
        f"{platform.python_version()} on {platform.platform()}"
    )
    from bale.redact import mask_argv

    debug(f"command: bale {shlex.join(mask_argv(list(argv)))} (in {os.getcwd()})")


def _exit_cleanly_on_termination() -> None:
    """SIGTERM and SIGHUP end bale as Ctrl-C does: the engine stops at its
    next file and every temp file is removed on the way out (the default
    action would kill the process where it stands, leaving them)."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
