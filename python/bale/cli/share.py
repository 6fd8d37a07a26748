"""Data from other repositories: ``get``, ``import``, ``update`` and ``ls``."""

from __future__ import annotations

import argparse

from bale.cli.common import Commands, say


def cmd_get(args: argparse.Namespace) -> int:
    from bale.ops.get import get

    r = get(args.url, args.path, args.out, rev=args.rev, jobs=args.jobs, force=args.force)
    say(args, f"{args.path} -> {r.path.name} ({r.files:,} file{'s' if r.files != 1 else ''})")
    return 0


def _source_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "url", metavar="URL", help="the repository: a local path or any URL git clone takes"
    )
    p.add_argument(
        "path", metavar="PATH", help=f"the file or directory to {what}, in that repository"
    )
    p.add_argument("-o", "--out", help="where to put it (default: PATH's name, here)")
    p.add_argument("--rev", help="git revision of the repository (default: its default branch)")


def register(commands: Commands) -> None:
    command = commands.add
    p = command(
        "get",
        cmd_get,
        "Download a file or directory from another repository (tracked there by "
        "bale, dvc or git), untracked.",
    )
    _source_args(p, "download")
    p.add_argument("-j", "--jobs", type=int, help="parallel downloads")
    p.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
