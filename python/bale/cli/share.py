"""Data from other repositories: ``get``, ``import``, ``update`` and ``ls``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bale.cli.common import (
    Commands,
    git_add_hint,
    open_repo,
    remote_options,
    say,
    source_remote_args,
    tell,
)

if TYPE_CHECKING:
    from bale.ops.importing import ImportResult
    from bale.source import Source


def _open_source(args: argparse.Namespace) -> Source:
    """The repository ``args.url`` names, at ``args.rev``."""
    from bale.repo import Repo
    from bale.source import Source, load_config

    config = getattr(args, "config", None)
    return Source.open(
        args.url,
        args.rev,
        repo_type=Repo,
        remote=getattr(args, "remote", None),
        config=load_config(config) if config else None,
        remote_config=remote_options(args),
    )


def cmd_get(args: argparse.Namespace) -> int:
    from bale.ops.get import get

    with _open_source(args) as src:
        r = get(src, args.path, args.out, jobs=args.jobs, force=args.force)
    say(args, f"{args.path} -> {r.path.name} ({r.files:,} file{'s' if r.files != 1 else ''})")
    return 0


def _hint(args: argparse.Namespace, results: list[ImportResult]) -> None:
    """dvc's "To track the changes with git" hint, unless autostage did it."""
    from bale import scm

    repo = open_repo()
    if repo.config.core_autostage() or args.quiet or not results:
        return
    stage = sorted({r.dvcfile for r in results} | {r.gitignore for r in results if r.gitignore})
    if (repo.root / ".git").exists() and scm.uses_git(repo):
        print(git_add_hint(repo.root, stage))


def cmd_import(args: argparse.Namespace) -> int:
    from bale.ops.importing import import_

    repo = open_repo()
    r = import_(
        repo,
        args.url,
        args.path,
        args.out,
        rev=args.rev,
        no_exec=args.no_exec,
        no_download=args.no_download,
        force=args.force,
        jobs=args.jobs,
        remote=args.remote,
        config=args.config,
        remote_config=remote_options(args),
    )
    tell(args, f"Importing '{r.source}' -> '{r.path}'")
    _hint(args, [r])
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from bale.ops.importing import update

    repo = open_repo()
    results = update(
        repo,
        args.targets,
        rev=args.rev,
        recursive=args.recursive,
        no_download=args.no_download,
        jobs=args.jobs,
    )
    for r in results:
        if r.changed:
            tell(args, f"Importing '{r.source}' -> '{r.path}'")
        else:
            tell(args, f"'{r.dvcfile}' didn't change, skipping")
    _hint(args, [r for r in results if r.changed])
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    import json

    from bale.ops.ls import ls

    with _open_source(args) as src:
        entries = ls(src, args.path, recursive=args.recursive, dvc_only=args.dvc_only)
    if args.json:
        # On one line, as dvc ls --json prints it.
        print(json.dumps([e.to_json() for e in entries]))
        return 0
    if not args.size:
        for e in entries:
            print(e.path)
        return 0
    sizes = [_size(e.size) for e in entries]
    width = max(map(len, sizes), default=0)
    for size, e in zip(sizes, entries, strict=True):
        print(f"{size:>{width}}  {e.path}")
    return 0


def _size(n: int | None) -> str:
    """A size as dvc ls --size shows it: bytes below 1 KiB, else 4.00k, 1.50M..."""
    if n is None:
        return ""
    if n < 1024:
        return str(n)
    value = float(n)
    for unit in "kMGTPE":
        value /= 1024
        if value < 1024 or unit == "E":
            break
    return f"{value:.2f}{unit}"


def _source_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "url", metavar="URL", help="the repository: a local path or any URL git clone takes"
    )
    p.add_argument(
        "path", metavar="PATH", help=f"the file or directory to {what}, in that repository"
    )
    p.add_argument("-o", "--out", help="where to put it (default: PATH's name, here)")
    p.add_argument(
        "--rev",
        help="git revision (default: a local path's HEAD, a URL's default branch)",
    )


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
    source_remote_args(p)

    p = command(
        "import",
        cmd_import,
        "Download a file or directory from another repository and track it here "
        "with an import .dvc file (dvc import's), so 'bale update' can move it "
        "to a newer version.",
    )
    _source_args(p, "import")
    p.add_argument(
        "--no-exec",
        action="store_true",
        help="only write the .dvc file: no revision resolved, no data",
    )
    p.add_argument(
        "--no-download",
        action="store_true",
        help="resolve the revision and record the hash, but do not download the data",
    )
    p.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("-j", "--jobs", type=int, help="parallel downloads")
    source_remote_args(p)

    p = command(
        "update",
        cmd_update,
        "Move imports to the newest commit of their revision (or to --rev), "
        "downloading only what changed.",
    )
    p.add_argument(
        "targets", nargs="+", metavar="TARGET", help="import .dvc files (or their outputs)"
    )
    p.add_argument("--rev", help="git revision to move the imports to (then recorded as their rev)")
    p.add_argument(
        "-R",
        "--recursive",
        action="store_true",
        help="update every import in the directories given",
    )
    p.add_argument(
        "--no-download", action="store_true", help="record the new hashes without downloading"
    )
    p.add_argument("-j", "--jobs", type=int, help="parallel downloads")

    p = command(
        "ls",
        cmd_ls,
        "List what a repository holds (files in git and outputs tracked by bale or dvc), "
        "without downloading data.",
    )
    p.add_argument(
        "url", metavar="URL", help="the repository: a local path or any URL git clone takes"
    )
    p.add_argument(
        "path", metavar="PATH", nargs="?", help="a directory or file in it (default: the top)"
    )
    p.add_argument(
        "--rev",
        help="git revision (default: a local path's HEAD, a URL's default branch)",
    )
    p.add_argument("-R", "--recursive", action="store_true", help="list every file below PATH")
    p.add_argument(
        "--dvc-only", action="store_true", help="list only outputs tracked by bale or dvc"
    )
    p.add_argument("--json", action="store_true", help="print the entries as JSON, as dvc ls does")
    p.add_argument("--size", action="store_true", help="show sizes")
