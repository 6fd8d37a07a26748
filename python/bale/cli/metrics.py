"""``metrics show/diff`` and ``params diff``: the pipelines' metrics and
params at revisions and in the workspace, printed as dvc prints them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bale.cli.common import Commands, open_repo, rel_cwd
from bale.exceptions import BaleError

if TYPE_CHECKING:
    from bale.repo import Repo


def _out(text: str) -> None:
    """Prints a rendered table or text, ending it with one newline."""
    if text:
        print(text, end="" if text.endswith("\n") else "\n")


def cmd_metrics(args: argparse.Namespace) -> int:
    from bale.ops import metrics
    from bale.pipeline.compare import render_json, render_show_table, show_json

    repo = open_repo()
    if args.metrics_command == "show" and (
        args.all_branches or args.all_tags or args.all_commits or args.rev
    ):
        return _show_revisions(args, repo)
    if args.metrics_command == "show":
        found = metrics.show_or_error(repo, args.targets)
        if isinstance(found, BaleError):
            # dvc's shape for a revision it could not load; the table is empty.
            _say_failed([""])
            if args.json:
                error = {"type": type(found).__name__, "msg": str(found)}
                print(render_json({"": {"error": error}}), end="")
            return 0
        shown = _files_from_cwd(repo.root, found)
        from bale.pipeline.revision import loaded

        ok = loaded(shown, metrics=True)
        errors = {f: d for f, d in shown.items() if f not in ok}
        _say_failed([""] if errors else [])  # dvc names the workspace '' here
        if args.json:
            print(render_json(show_json(ok, errors=errors, order=list(shown))), end="")
            return 0
        # A file that could not be read is a row of "-", as dvc prints it.
        table = {f: ok.get(f, {}) for f in shown}
        _out(render_show_table(table, markdown=args.md, precision=args.precision))
        return 0
    if args.metrics_command == "diff":
        return _diff(args, "metrics")
    print("usage: bale metrics {show,diff} ...")
    return 2


def _show_revisions(args: argparse.Namespace, repo: Repo) -> int:
    """``metrics show -a/-T/-A``: one block per revision, as dvc prints them."""
    from bale.ops import metrics
    from bale.pipeline.compare import render_json, render_show_table, show_json
    from bale.pipeline.revision import loaded

    found = metrics.show_revisions(
        repo,
        args.targets,
        all_branches=args.all_branches,
        all_tags=args.all_tags,
        all_commits=args.all_commits,
        revs=args.rev,
    )
    as_json: dict[str, Any] = {}
    tables: dict[str, dict[str, Any]] = {}
    failed = []
    for rev, files in found.items():
        if isinstance(files, BaleError):
            failed.append(rev)
            as_json[rev] = {"error": {"type": type(files).__name__, "msg": str(files)}}
            continue
        shown = _files_from_cwd(repo.root, files)
        ok = loaded(shown, metrics=True)
        errors = {f: d for f, d in shown.items() if f not in ok}
        if errors:
            failed.append(rev)
        as_json.update(show_json(ok, errors=errors, rev=rev, order=list(shown)))
        tables[rev] = {f: ok.get(f, {}) for f in shown}
    _say_failed(failed)
    if args.json:
        print(render_json(as_json), end="")
        return 0
    _out(render_show_table({}, markdown=args.md, precision=args.precision, revisions=tables))
    return 0


def _say_failed(revs: list[str]) -> None:
    """dvc's line for revisions with files it could not read (it says
    "metrics" for params too)."""
    if revs:
        names = ", ".join(revs)
        line = f"bale failed to load some metrics for following revisions: '{names}'."
        print(line, file=sys.stderr)


def _files_from_cwd(root: Path, per_file: dict[str, Any]) -> dict[str, Any]:
    """Repository-relative file keys named from the current directory, as
    dvc's metrics and params commands name them."""
    return {rel_cwd(root, k): v for k, v in per_file.items()}


def cmd_params(args: argparse.Namespace) -> int:
    if args.params_command != "diff":
        print("usage: bale params diff ...")
        return 2
    return _diff(args, "params")


def _diff(args: argparse.Namespace, kind: Literal["metrics", "params"]) -> int:
    from bale.ops import metrics
    from bale.pipeline.compare import render_diff_table, render_json

    repo = open_repo()
    failed: list[str] = []
    if kind == "metrics":
        found = metrics.diff(
            repo, args.a_rev, args.b_rev, all_=args.all, targets=args.targets, failed=failed
        )
    else:
        found = metrics.params_diff(
            repo,
            args.a_rev,
            args.b_rev,
            all_=args.all,
            targets=args.targets,
            deps_only=args.deps,
            failed=failed,
        )
    _say_failed(failed)
    d = _files_from_cwd(repo.root, found)
    if args.json:
        print(render_json(d), end="")
        return 0
    _out(
        render_diff_table(
            d,
            kind=kind,
            markdown=args.md,
            a_rev=args.a_rev,
            b_rev=args.b_rev,
            precision=getattr(args, "precision", None),
            no_path=args.no_path,
        )
    )
    return 0


def _diff_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("a_rev", nargs="?", help="old revision (default: HEAD)")
    p.add_argument("b_rev", nargs="?", help="new revision (default: the workspace)")
    p.add_argument("--all", action="store_true", help=f"include unchanged {what}")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument("--md", action="store_true", help="print as a markdown table")
    p.add_argument("--no-path", action="store_true", help="leave out the Path column")


def _recursive_flag(p: argparse.ArgumentParser) -> None:
    # dvc's -R: dvc expands a directory target whether it is given or not, and so does bale
    p.add_argument(
        "-R", "--recursive", action="store_true", help="a directory target stands for its files"
    )


def register(commands: Commands) -> None:
    command = commands.add
    p = command("metrics", cmd_metrics, "Show or compare metrics.")
    msub = p.add_subparsers(dest="metrics_command", metavar="COMMAND")
    ms = msub.add_parser("show", help="Show the workspace's metrics.")
    ms.add_argument(
        "targets", nargs="*", help="metrics files or directories to show (default: the pipelines')"
    )
    _recursive_flag(ms)
    for short, long, what in (
        ("-a", "--all-branches", "every branch"),
        ("-T", "--all-tags", "every tag"),
        ("-A", "--all-commits", "every commit"),
    ):
        ms.add_argument(short, long, action="store_true", help=f"also show {what}")
    # Not in dvc 3.x (its brancher takes revisions; the command line does not
    # pass them): a named revision without walking every branch or commit.
    ms.add_argument(
        "--rev",
        action="append",
        default=[],
        metavar="<commit>",
        help="also show this git revision (repeatable; not in dvc)",
    )
    ms.add_argument("--json", action="store_true", help="print as JSON")
    ms.add_argument("--md", action="store_true", help="print as a markdown table")
    ms.add_argument("--precision", type=int, help="decimals to round to (default 5)")
    md = msub.add_parser("diff", help="Compare metrics between revisions and the workspace.")
    _diff_flags(md, "metrics")
    md.add_argument("--precision", type=int, help="decimals to round to (default 5)")
    md.add_argument(
        "--targets",
        nargs="*",
        metavar="<paths>",
        help="metrics files or directories to compare (default: the pipelines')",
    )
    _recursive_flag(md)

    p = command("params", cmd_params, "Compare params.")
    psub = p.add_subparsers(dest="params_command", metavar="COMMAND")
    pd = psub.add_parser("diff", help="Compare params between revisions and the workspace.")
    _diff_flags(pd, "params")
    pd.add_argument(
        "--targets",
        nargs="*",
        metavar="<paths>",
        help="params files to compare whole, from the repository root (as dvc takes them)",
    )
    pd.add_argument("--deps", action="store_true", help="only the params that stages depend on")
