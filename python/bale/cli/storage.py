"""What the cache and the remotes hold: ``gc``, ``du``, and ``serve``,
which serves a remote folder over HTTP."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from bale.cli.common import (
    Commands,
    human_size,
    open_repo,
    print_json,
    say,
    scope_flags,
    scope_of,
)
from bale.exceptions import BaleError

_Number = TypeVar("_Number", int, float)


def cmd_gc(args: argparse.Namespace) -> int:
    from bale.ops.gc import gc

    repo = open_repo()
    scope = replace(
        scope_of(args, workspace=args.workspace),
        all_experiments=args.all_experiments,
        commit_date=args.date,
        num=1 if args.num is None else args.num,
        skip_failed=args.skip_failed,
    )
    if not (scope.workspace or scope.revisions):
        raise BaleError(
            "gc needs a scope: use -w, -a, -T, -A, --all-experiments, --date or --rev "
            "to say what to keep"
        )
    if args.num is not None and not (args.rev or args.all_branches):
        raise BaleError("gc: -n/--num can only be used with --rev or -a/--all-branches")
    if not args.dry and not args.force:
        if not sys.stdin.isatty():
            raise BaleError("gc deletes data: confirm with -f (or preview with --dry)")
        where = "the cache and the remote" if args.cloud else "the cache"
        answer = input(
            f"This will remove everything from {where} except what the chosen revisions use. "
            "Are you sure you want to proceed? [y/n] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            return 1
    r = gc(
        repo,
        scope=scope,
        cloud=args.cloud,
        remote=args.remote,
        dry=args.dry,
        force=True,
        jobs=args.jobs,
        compact=args.compact,
        not_in_remote=args.not_in_remote,
        projects=[Path(p) for p in args.projects or ()],
    )
    if args.json:
        print_json(
            {
                "removed": r.removed,
                "bytes": r.bytes,
                "kept": r.kept,
                "dry": r.dry,
                "compacted": r.compacted,
                "compacted_bytes": r.compacted_bytes,
                "chunk_bytes": r.chunk_bytes,
                "remotes": {g.remote: {"removed": g.removed, "bytes": g.bytes} for g in r.remotes},
            }
        )
        return 0
    verb = "would remove" if r.dry else "removed"
    say(
        args,
        f"{verb} {r.removed:,} objects ({human_size(r.bytes)}) from the cache; kept {r.kept:,}",
    )
    if r.compacted:
        compacted = "would compact" if r.dry else "compacted"
        say(
            args,
            f"{compacted} {r.compacted:,} files not in the workspace to chunks: "
            f"{human_size(r.compacted_bytes)} freed, {human_size(r.chunk_bytes)} of chunks written",
        )
    for g in r.remotes:
        say(args, f"{verb} {g.removed:,} objects ({human_size(g.bytes)}) from remote '{g.remote}'")
    return 0


def cmd_du(args: argparse.Namespace) -> int:
    from bale.ops.du import du

    r = du(
        open_repo(),
        args.targets,
        scope=scope_of(args),
        cloud=args.cloud or args.remote is not None,
        remote=args.remote,
        jobs=args.jobs,
    )
    if args.json:
        print_json(
            {
                "outputs": r.outputs,
                "logical": r.logical,
                "local": r.local,
                "local_ratio": r.local_ratio,
                "not_cached": r.not_cached,
                "not_cached_bytes": r.not_cached_bytes,
                "remote": None
                if r.remote_name is None
                else {"name": r.remote_name, "bytes": r.remote, "ratio": r.remote_ratio},
            }
        )
        return 0

    def ratio(x: float | None) -> str:
        return "" if x is None else f"  ({x:.2f}x dedup)"

    versions = "output" if r.outputs == 1 else "outputs"
    print(f"logical        {human_size(r.logical):>10}  in {r.outputs:,} {versions}")
    print(f"cache          {human_size(r.local):>10}{ratio(r.local_ratio)}")
    if r.not_cached:
        print(f"               ({r.not_cached:,} {versions} not in the cache)")
    if r.remote_name is not None:
        label = f"remote {r.remote_name}"
        print(f"{label:<14} {human_size(r.remote or 0):>10}{ratio(r.remote_ratio)}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from bale.remotes.serve import resolve_token, serve

    token = resolve_token(args.token, args.token_file)
    host = f"[{args.host}]" if ":" in args.host else args.host

    def ready(port: int) -> None:
        say(args, f"Serving {args.folder} at http://{host}:{port}/ (Ctrl-C to stop)")

    if args.verbose:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        logging.getLogger("bale.remotes.serve").setLevel(logging.DEBUG)
    serve(
        Path(args.folder),
        host=args.host,
        port=args.port,
        token=token,
        read_only=args.read_only,
        ready=ready,
        max_connections=args.max_connections,
        timeout=args.timeout,
        max_unverified_size=args.max_unverified_size,
    )
    return 0


def _size_arg(text: str) -> int:
    """A size in bytes, or with a K, M or G suffix (powers of 1024)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    digits = text.rstrip("KMGkmg")
    try:
        n = int(digits)
        unit = units[text[len(digits) :].upper()]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 65536, 512K, 64M)") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return n * unit


def _positive(kind: type[_Number]) -> Callable[[str], _Number]:
    """An argument type: a finite number of ``kind`` above 0."""

    def parse(text: str) -> _Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be a finite number above 0: {text!r}")
        return value

    return parse


def register(commands: Commands) -> None:
    command = commands.add
    p = command("gc", cmd_gc, "Delete cached data nothing references.")
    p.add_argument("-w", "--workspace", action="store_true", help="keep what the workspace uses")
    scope_flags(p, "keep the data")
    p.add_argument(
        "-n",
        "--num",
        type=_positive(int),
        metavar="N",
        help="with --rev or -a: keep the data of each one's last N commits (default: 1)",
    )
    p.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="keep the data of every commit of that day or later",
    )
    p.add_argument(
        "-e",
        "--all-experiments",
        action="store_true",
        help="keep the data of every experiment",
    )
    p.add_argument(
        "--not-in-remote",
        action="store_true",
        help="keep only the data the remote lacks (pull brings the rest back)",
    )
    p.add_argument(
        "-c", "--cloud", action="store_true", help="also delete unused data from the remote"
    )
    p.add_argument("-r", "--remote", help="remote for -c or --not-in-remote (default: core.remote)")
    p.add_argument(
        "--skip-failed",
        action="store_true",
        help="warn of a revision whose .dvc files cannot be read, instead of stopping",
    )
    p.add_argument(
        "-p",
        "--projects",
        nargs="*",
        metavar="PATH",
        help="also keep what these repositories (sharing this cache) use",
    )
    p.add_argument("-j", "--jobs", type=int, help="parallel requests to the remote")
    p.add_argument("--dry", action="store_true", help="only count what would be removed")
    p.add_argument(
        "--compact",
        action="store_true",
        help="keep large files the workspace does not use (older versions) as chunks only",
    )
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")

    p = command(
        "du",
        cmd_du,
        "Show how much data the outputs hold and what the cache and a remote store for it.",
    )
    p.add_argument("targets", nargs="*", help=".dvc files or outputs (default: all)")
    scope_flags(p, "count the outputs")
    p.add_argument(
        "-c", "--cloud", action="store_true", help="also measure the remote (default: core.remote)"
    )
    p.add_argument("-r", "--remote", help="remote to measure (implies -c)")
    p.add_argument("-j", "--jobs", type=int, help="parallel requests to the remote")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")

    p = command(
        "serve",
        cmd_serve,
        "Serve a remote folder over HTTP, to dvc and bale (DVC's http remote protocol).",
    )
    p.add_argument("folder", help="the remote folder to serve (DVC's remote layout)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    p.add_argument(
        "--port", type=int, default=8080, help="port (default: 8080; 0 picks a free one)"
    )
    p.add_argument(
        "--token-file",
        metavar="PATH",
        help="require 'Authorization: Bearer TOKEN' on every request, TOKEN being this "
        "file's content (trailing newline ignored); or set the token in BALE_SERVE_TOKEN. "
        "For dvc: auth = custom, custom_auth_header = Authorization, "
        "password = 'Bearer TOKEN'",
    )
    p.add_argument(
        "--token",
        help="the token itself (not recommended: every user of the machine sees it in ps); "
        "use --token-file or BALE_SERVE_TOKEN",
    )
    p.add_argument("--read-only", action="store_true", help="refuse uploads and deletes (403)")
    p.add_argument(
        "--max-connections",
        type=_positive(int),
        metavar="N",
        help="open connections at most (default: 1000, fewer if the open-file limit is low); "
        "at the limit the longest idle one is closed to make room",
    )
    p.add_argument(
        "--timeout",
        type=_positive(float),
        default=60.0,
        metavar="SECONDS",
        help="close a connection idle (no request, or request headers still arriving) "
        "this long, and refuse a request body that brings less than 64 KiB in this long "
        "(default: 60)",
    )
    p.add_argument(
        "--max-unverified-size",
        type=_size_arg,
        default="64M",
        metavar="SIZE",
        help="largest upload accepted under a key that is not a content hash the server "
        "can check, such as a run-cache entry (default: 64M; 0 refuses them all)",
    )
