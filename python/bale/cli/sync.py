"""Moving data to and from a remote: ``push``, ``fetch``, ``pull``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bale.cli.common import (
    Commands,
    file_counts,
    log_changes,
    open_repo,
    print_json,
    say,
    scope_flags,
    scope_of,
    summary,
)

if TYPE_CHECKING:
    from bale.ops.transfer import TransferResult


def cmd_push(args: argparse.Namespace) -> int:
    from bale.ops.transfer import push

    return _push_or_fetch(args, push, "pushed")


def cmd_fetch(args: argparse.Namespace) -> int:
    from bale.ops.transfer import fetch

    return _push_or_fetch(args, fetch, "fetched")


def _push_or_fetch(args: argparse.Namespace, op: Callable[..., TransferResult], verb: str) -> int:
    from bale.ops import transfer

    try:
        r = op(
            open_repo(),
            args.targets,
            remote=args.remote,
            jobs=args.jobs,
            scope=scope_of(args),
            run_cache=args.run_cache,
        )
    except transfer.TransferIncompleteError as e:
        # What was moved is said first, as dvc says it (dvc then warns of
        # the missing data and exits 0; bale fails: see the README).
        if not args.json:
            _transfer_summary(args, verb, e.result)
        raise
    _transfer_summary(args, verb, r)
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from bale.ops.transfer import PullConflictError, PullIncompleteError, pull

    repo = open_repo()
    try:
        r = pull(
            repo,
            args.targets,
            remote=args.remote,
            force=args.force,
            jobs=args.jobs,
            scope=scope_of(args),
            run_cache=args.run_cache,
        )
    except PullIncompleteError as e:
        # dvc reports what it did fetch and check out before it fails.
        if not args.json:
            _transfer_summary(args, "fetched", e.result, repo.root)
        raise
    except PullConflictError as e:
        # dvc checks out nothing then, and says nothing before its error;
        # bale checks out the other outputs (see the README), and names
        # them, but does not call a failed pull "up to date".
        if not args.json:
            _transfer_summary(args, "fetched", e.result, repo.root, quiet_if_none=True)
        raise
    _transfer_summary(args, "fetched", r, repo.root)
    return 0


def _transfer_summary(
    args: argparse.Namespace,
    verb: str,
    r: TransferResult,
    root: Path | None = None,
    quiet_if_none: bool = False,
) -> None:
    """What a push, fetch or pull did (a pull also names the outputs it
    checked out, relative to ``root``), as dvc says it."""
    if args.json:
        print_json(
            {
                "copied": r.copied,
                "bytes": r.bytes,
                "present": r.present,
                "seconds": round(r.seconds, 3),
                "remotes": r.remotes,
            }
        )
        return
    # dvc's words: "4 files pushed", its "files" counting a directory's .dir
    # object too; the bytes and the time are told with -v (by the transfer).
    counts = [(verb, r.copied)]
    if r.checked_out is not None and root is not None:
        if not args.quiet:
            log_changes(root, r.checked_out)
        counts += file_counts(r.checked_out)
    if summary(counts) or not quiet_if_none:
        say(args, summary(counts) or "Everything is up to date.")


def register(commands: Commands) -> None:
    for name, handler, help in (
        ("push", cmd_push, "Upload tracked data from the cache to a remote."),
        ("fetch", cmd_fetch, "Download tracked data from a remote into the cache."),
        ("pull", cmd_pull, "Fetch tracked data from a remote and check it out."),
    ):
        p = commands.add(name, handler, help)
        p.add_argument("targets", nargs="*", help=".dvc files or outputs (default: all)")
        p.add_argument("-r", "--remote", help="remote name (default: core.remote)")
        p.add_argument("-j", "--jobs", type=int, help="parallel transfers (default: per core)")
        p.add_argument("--json", action="store_true", help="print the counts as JSON")
        scope_flags(p, "the data")
        p.add_argument(
            "--run-cache", action="store_true", help="the run cache too (runs/ on the remote)"
        )
        if name == "pull":
            p.add_argument("-f", "--force", action="store_true", help="discard workspace changes")
