"""The workspace commands: ``init``, ``add``, ``status``, ``checkout``,
``commit``, ``diff``, ``remove``, ``unprotect``, ``data status``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale.cli.common import (
    Commands,
    file_counts,
    git_add_hint,
    human_size,
    log_changes,
    open_repo,
    print_json,
    rel_cwd,
    say,
    scope_flags,
    scope_of,
    summary,
    tell,
)
from bale.console import warn

if TYPE_CHECKING:
    from bale.ops.checkout import CheckoutResult


#: dvc's words for a project that tracks nothing (dvc/commands/status.py).
EMPTY_PROJECT_MSG = (
    "There are no data or pipelines tracked in this project yet.\n"
    "See <https://dvc.org/doc/start> to get started!"
)


def _dvc_json(data: Any) -> None:
    """Prints ``data`` as dvc's ``ui.write_json`` does, for the commands whose
    ``--json`` mirrors dvc's: on one line (ASCII, json's default separators),
    indented only on a terminal."""
    print(json.dumps(data, indent=2 if sys.stdout.isatty() else None))


def cmd_init(args: argparse.Namespace) -> int:
    from bale.ops.init import init, made

    root = init(Path(args.path), no_scm=args.no_scm, hash_name=args.hash, force=args.force)
    say(args, made(root, hash_name=args.hash, no_scm=args.no_scm))
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from bale.ops.add import add

    repo = open_repo()
    results = add(repo, args.targets, glob=args.glob)
    if args.json:
        print_json([asdict(r) for r in results])
        return 0
    for r in results:
        files = f"{r.nfiles:,} files, " if r.nfiles is not None else ""
        tell(args, f"added {r.path} ({files}{human_size(r.size)}; {r.stored:,} newly cached)")
    if not repo.config.core_autostage() and not args.quiet:
        stage = sorted({r.dvcfile for r in results} | {r.gitignore for r in results if r.gitignore})
        from bale import scm

        if (repo.root / ".git").exists() and scm.uses_git(repo):
            print(git_add_hint(repo.root, stage))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from bale.ops.status import has_stages, status

    if args.cloud:
        return _cloud_status(args)
    repo = open_repo()
    result = status(repo, args.targets, granular=args.granular)
    for line in result.warnings:
        warn(line)
    shown = _from_cwd(repo.root, result.to_dvc_json(granular=args.granular), result.dvcfiles)
    if args.json:
        _dvc_json(shown)
        return 0
    if args.quiet:
        return int(not result.clean)
    if result.clean:
        print(EMPTY_PROJECT_MSG if not has_stages(repo) else "Data and pipelines are up to date.")
        return 0
    _show_status(shown)
    return 0


def _cloud_status(args: argparse.Namespace) -> int:
    from bale.ops.status import cloud_status, has_stages

    repo = open_repo()
    result = cloud_status(
        repo, args.targets, remote=args.remote, jobs=args.jobs, scope=scope_of(args)
    )
    if args.json:
        _dvc_json(result.to_dvc_json())
        return 0
    if args.quiet:
        return int(not result.clean)
    if result.clean:
        if not has_stages(repo):
            print(EMPTY_PROJECT_MSG)
            return 0
        names = ", ".join(f"'{r}'" for r in result.remotes) or "(none)"
        say(args, f"Cache and remote {names} are in sync.")
        return 0
    for name, state in result.states.items():
        print(f"\t{state + ':':<20}{name}")
    return 0


def _from_cwd(root: Path, status: dict[str, Any], dvcfiles: set[str]) -> dict[str, Any]:
    """A status structure whose ``.dvc`` files (``dvcfiles``) and their
    outputs, repository-relative, are named from the current directory as dvc
    names them (``../data.dvc``); stages are named so already."""
    out: dict[str, Any] = {}
    for key, entries in status.items():
        if key not in dvcfiles:
            out[key] = entries
            continue
        # Only "changed outs" names paths ("files", with --granular, names
        # states whose entries are relative to their output).
        out[rel_cwd(root, key)] = [
            {
                w: {rel_cwd(root, k): v for k, v in changed.items()}
                if w == "changed outs"
                else changed
                for w, changed in e.items()
            }
            if isinstance(e, dict)
            else e  # "changed checksum"
            for e in entries
        ]
    return out


def _show_status(status: Any, indent: int = 0) -> None:
    """Prints a ``dvc status --json`` structure as dvc's text: states padded
    to 20 columns, one tab per level."""
    ind = "\t" * indent
    if isinstance(status, str):
        print(f"{ind}{status}")
    elif isinstance(status, list):
        for entry in status:
            _show_status(entry, indent)
    else:
        for key, value in status.items():
            if key == "files":  # --granular: each file under its own output
                (out,) = status["changed outs"]
                for kind, paths in value.items():
                    for p in paths:
                        print(f"{ind}\t\t{kind + ':':<16}{out}/{p}")
            elif isinstance(value, str):
                print(f"{ind}{value + ':':<20}{key}")
            elif value:
                print(f"{ind}{key}:")
                _show_status(value, indent + 1)


def cmd_checkout(args: argparse.Namespace) -> int:
    from bale.ops.checkout import CheckoutConflictsError, CheckoutIncompleteError, checkout

    repo = open_repo()
    try:
        r = checkout(repo, args.targets, force=args.force, relink=args.relink)
    except (CheckoutIncompleteError, CheckoutConflictsError) as e:
        # dvc names what it did check out before it fails.
        if not args.json and not args.quiet:
            _report_checkout(args, repo.root, e.result)
        raise
    if args.json:
        print_json({"added": r.added, "modified": r.modified, "deleted": r.deleted})
        return 0
    if not args.quiet:
        _report_checkout(args, repo.root, r)
        if args.relink:
            print("Relinked successfully")
    return 0


def _report_checkout(args: argparse.Namespace, root: Path, r: CheckoutResult) -> None:
    if args.summary:
        print(summary(file_counts(r)) or "No changes.")
    else:
        log_changes(root, r)


def cmd_commit(args: argparse.Namespace) -> int:
    from bale.ops.commit import commit

    for r in commit(open_repo(), args.targets):
        tell(args, f"committed {r.path} ({r.stored:,} newly cached)")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from bale.ops.diff import diff

    # dvc's CmdDiff: between two revisions "not in cache" is not shown.
    hide_missing = bool(args.b_rev) or args.hide_missing
    result = diff(open_repo(), args.a_rev, args.b_rev, args.targets)
    r = result.to_dvc_json(hide_missing, args.show_hash)
    if args.json:
        _dvc_json(r)
        return 0
    states = ["added", "deleted", "renamed", "modified"] + (
        [] if hide_missing else ["not in cache"]
    )
    if args.markdown:
        from bale.pipeline.compare import format_table

        headers = ["Status", "Hash", "Path"] if args.show_hash else ["Status", "Path"]
        rows = [
            [state, _digest(e.get("hash")), _diff_path(e)]
            if args.show_hash
            else [state, _diff_path(e)]
            for state in states
            for e in r.get(state, [])
        ]
        print(format_table(headers, rows, markdown=True) + "\n")
        return 0
    counts = {}
    for state in states:
        entries = r.get(state, [])
        if entries:
            print(f"{state.capitalize()}:")
            for e in entries:
                digest = _digest(e.get("hash"))
                print(f"    {digest}{'  ' if digest else ''}{_diff_path(e)}")
            print()
        # files, not directories
        counts[state] = sum(not _diff_path(e).endswith("/") for e in entries)
    if any(counts.values()):
        print("files summary: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return 0


def _digest(checksum: Any) -> str:
    """dvc's short hash: 8 digits, ``old..new`` for a modification; a side
    with no hash (a stage output with no dvc.lock entry) shown as nothing,
    where dvc fails with a TypeError."""
    if not checksum:
        return ""
    if isinstance(checksum, str):
        return checksum[:8]
    return "{}..{}".format((checksum["old"] or "")[:8], (checksum["new"] or "")[:8])


def _diff_path(entry: dict[str, Any]) -> str:
    path = entry["path"]
    return f"{path['old']} -> {path['new']}" if isinstance(path, dict) else str(path)


def cmd_remove(args: argparse.Namespace) -> int:
    from bale.ops.remove import remove

    for p in remove(open_repo(), args.targets, outs=args.outs):
        tell(args, f"removed {p.name}")  # dvc prints nothing on stdout
    return 0


def cmd_unprotect(args: argparse.Namespace) -> int:
    from bale.ops.unprotect import unprotect

    n = unprotect(open_repo(), args.targets)
    say(args, f"unprotected {n:,} file(s)")
    return 0


#: dvc's titles and hints for ``data status`` (dvc/commands/data.py), hints
#: naming bale's commands.
DATA_LABELS = {
    "not_in_cache": ("Not in cache", ('use "bale fetch <file>..." to download files',)),
    "not_in_remote": ("Not in remote", ('use "bale push <file>..." to upload files',)),
    "committed": (
        "DVC committed changes",
        ("git commit the corresponding dvc files to update the repo",),
    ),
    "uncommitted": (
        "DVC uncommitted changes",
        (
            'use "bale commit <file>..." to track changes',
            'use "bale checkout <file>..." to discard changes',
        ),
    ),
    "untracked": (
        "Untracked files",
        ('use "git add <file> ..." or "bale add <file>..." to commit to git or to dvc',),
    ),
    "unchanged": ("DVC unchanged files", ()),
}


def _data_usage(args: argparse.Namespace) -> int:
    print("usage: bale data {status} ...  (see bale data --help)")
    return 2


def cmd_data_status(args: argparse.Namespace) -> int:
    from bale.ops.data_status import data_status

    repo = open_repo()
    untracked = args.untracked_files == "all"
    result = data_status(
        repo,
        args.targets,
        granular=args.granular,
        untracked_files=untracked,
        not_in_remote=args.not_in_remote,
        remote=args.remote,
        list_unchanged=args.unchanged,
    )
    shown = result.to_dvc_json(unchanged=args.unchanged, untracked=untracked)
    if args.json:
        _dvc_json(shown)
        return 0
    if not shown:
        empty = " in an empty git repo" if result.git.get("is_empty") else ""
        print(f"No changes{empty}.")
    for n, (category, entries) in enumerate(shown.items()):
        if n:
            print()
        title, hints = DATA_LABELS[category]
        print(f"{title}:")
        for hint in hints:
            print(f"  ({hint})")
        if isinstance(entries, dict):
            items = [
                f"{state}: " + (" -> ".join(e.values()) if isinstance(e, dict) else e)
                for state, changes in entries.items()
                for e in changes
            ]
        else:
            items = entries
        for item in items:
            print(" " * 8 + item)
    if result.git.get("is_dirty"):
        other = "other " if shown else ""
        print(f'(there are {other}changes not tracked by dvc, use "git status" to see)')
    return 0


def register(commands: Commands) -> None:
    command = commands.add
    p = command("init", cmd_init, "Create a repository here (or use an existing DVC one).")
    p.add_argument("path", nargs="?", default=".", help="where (default: here)")
    p.add_argument("--no-scm", action="store_true", help="do not use git")
    p.add_argument(
        "--hash",
        choices=("blake3", "md5"),
        default="blake3",
        help="blake3: bale-native, fastest (default); md5: readable by dvc",
    )
    p.add_argument(
        "-f", "--force", action="store_true", help="re-initialize an existing repository"
    )

    p = command(
        "add", cmd_add, "Track files or directories: store them in the cache, write .dvc files."
    )
    p.add_argument(
        "targets",
        nargs="+",
        help="files or directories; a path inside a tracked directory is recorded in that "
        "directory's .dvc file",
    )
    p.add_argument("--glob", action="store_true", help="expand wildcards in targets")
    p.add_argument("--json", action="store_true", help="print results as JSON")

    p = command("status", cmd_status, "Show tracked outputs that differ from their .dvc files.")
    p.add_argument("targets", nargs="*", help=".dvc files or outputs (default: all)")
    p.add_argument("--granular", action="store_true", help="list changed files inside directories")
    p.add_argument("--json", action="store_true", help="print as JSON ({} when up to date)")
    p.add_argument(
        "-c", "--cloud", action="store_true", help="compare the cache with the remote instead"
    )
    p.add_argument("-r", "--remote", help="remote to compare with (default: core.remote)")
    p.add_argument("-j", "--jobs", type=int, help="parallel requests to the remote")
    scope_flags(p, "with -c, compare the data")

    p = command(
        "checkout", cmd_checkout, "Make the workspace match the .dvc files, from the cache."
    )
    p.add_argument("targets", nargs="*", help=".dvc files, outputs, or paths inside them")
    p.add_argument(
        "-f", "--force", action="store_true", help="discard workspace changes not in the cache"
    )
    p.add_argument(
        "--relink", action="store_true", help="re-create links even where content matches"
    )
    p.add_argument(
        "--summary", action="store_true", help="print how many files changed, not which outputs"
    )
    p.add_argument("--json", action="store_true", help="print changed paths as JSON")

    p = command("commit", cmd_commit, "Record the current content of tracked outputs.")
    p.add_argument("targets", nargs="*", help=".dvc files or outputs (default: all)")
    p.add_argument("-f", "--force", action="store_true", help="accepted for dvc compatibility")

    p = command(
        "diff", cmd_diff, "Show tracked files changed between git revisions or the workspace."
    )
    p.add_argument("a_rev", nargs="?", help="old revision (default: HEAD)")
    p.add_argument("b_rev", nargs="?", help="new revision (default: the workspace)")
    p.add_argument("--json", action="store_true", help="print as JSON, like dvc diff --json")
    p.add_argument("--show-hash", action="store_true", help="show each entry's hash")
    p.add_argument(
        "--targets", nargs="*", metavar="<paths>", help="only these .dvc files, stages or paths"
    )
    p.add_argument(
        "--md", dest="markdown", action="store_true", help="print a Markdown (GFM) table"
    )
    p.add_argument(
        "--hide-missing", action="store_true", help="do not list what is not in the cache"
    )

    p = command(
        "remove", cmd_remove, "Stop tracking: delete .dvc files and their .gitignore lines."
    )
    p.add_argument("targets", nargs="+", help=".dvc files")
    p.add_argument("--outs", action="store_true", help="delete the outputs too")

    p = command("unprotect", cmd_unprotect, "Make linked workspace files private and writable.")
    p.add_argument("targets", nargs="+", help="files or directories")

    p = command(
        "data",
        _data_usage,
        "data status: what changed since the last commit, and what is not committed.",
    )
    sub = p.add_subparsers(dest="data_command", metavar="COMMAND")
    st = sub.add_parser(
        "status",
        help="changes between the last git commit, the .dvc files and the workspace",
        description="Show changes between the last git commit, the .dvc and dvc.lock files, "
        "and the workspace, as dvc data status.",
    )
    st.set_defaults(func=cmd_data_status)
    st.add_argument(
        "targets", nargs="*", help="only these tracked files or directories (default: all)"
    )
    st.add_argument("--json", action="store_true", help="print as JSON, like dvc's")
    st.add_argument(
        "--granular", action="store_true", help="list the files inside tracked directories too"
    )
    st.add_argument("--unchanged", action="store_true", help="list unchanged files too")
    st.add_argument(
        "--untracked-files",
        choices=("no", "all"),
        default="no",
        const="all",
        nargs="?",
        help="list the files git does not track too",
    )
    st.add_argument("--not-in-remote", action="store_true", help="list what the remote lacks")
    st.add_argument(
        "-r", "--remote", metavar="<name>", help="the remote to ask (with --not-in-remote)"
    )
    # dvc's flag to trust its cached listing of the remote: bale keeps none
    # and always asks the remote, so the flag changes nothing
    st.add_argument(
        "--no-remote-refresh",
        dest="remote_refresh",
        action="store_false",
        help="accepted for dvc compatibility (bale always asks the remote)",
    )
