"""The repository itself: ``root``, ``check-ignore``, ``move``, ``destroy``,
``install`` and the ``git-hook`` command its hooks run."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator

from bale.cli.common import Commands, git_add_hint, open_repo


def cmd_root(args: argparse.Namespace) -> int:
    from bale.repo import find_root

    # dvc's relpath: "." at the root, "../.." two levels below it.
    print(os.path.relpath(find_root()))
    return 0


def cmd_check_ignore(args: argparse.Namespace) -> int:
    from bale.exceptions import TargetError
    from bale.ops.check_ignore import check_ignore, details

    if not args.stdin and not args.targets:
        raise TargetError("check-ignore: name targets or give --stdin")
    if args.stdin and args.targets:
        raise TargetError("check-ignore: targets and --stdin cannot go together")
    if (args.non_matching or args.all) and not args.details:
        # dvc's rule: they only change what --details lists
        raise TargetError(f"check-ignore: {'-n' if args.non_matching else '-a'} needs --details")
    if args.details and args.quiet:
        raise TargetError("check-ignore: --details and --quiet cannot go together")
    repo = open_repo()
    found = False
    for target in _stdin_lines() if args.stdin else args.targets:
        check = check_ignore(repo, target)
        if args.details:
            # dvc's exit status with -d: 0 when some rule matched a target,
            # a negation (which re-includes it) too. One rule decides a path,
            # so -a (dvc's "all", hidden) lists the same line.
            rule = details(check)
            if rule is not None:
                found = True
                print(f"{rule}\t{target}", flush=args.stdin)
            elif args.non_matching:
                print(f"::\t{target}", flush=args.stdin)
        elif check.ignored:
            found = True
            if not args.quiet:
                print(target, flush=args.stdin)
    # dvc's exit status: 0 when some target is ignored, 1 when none is
    return 0 if found else 1


def cmd_move(args: argparse.Namespace) -> int:
    from bale import scm
    from bale.ops.move import move

    repo = open_repo()
    result = move(repo, args.src, args.dst)
    if not args.quiet and not repo.config.core_autostage() and scm.uses_git(repo):
        print(git_add_hint(repo.root, [str(p) for p in result.changed]))
    return 0


#: dvc's question (dvc/commands/destroy.py), asked unless -f.
DESTROY_QUESTION = (
    "This will destroy all information about your pipelines, all data files, "
    "as well as cache in .dvc/cache.\nAre you sure you want to continue? [y/n]: "
)


def cmd_destroy(args: argparse.Namespace) -> int:
    from bale.exceptions import BaleError
    from bale.ops.destroy import destroy

    repo = open_repo()
    if not args.force:
        # dvc asks only a terminal; without one it refuses, as here
        if not sys.stdin.isatty():
            raise BaleError(f"{repo.dvc_dir}: destroy needs a confirmation: use -f to force")
        if input(DESTROY_QUESTION).strip().lower() not in ("y", "yes"):
            raise BaleError(f"{repo.dvc_dir}: not destroyed without a confirmation")
    destroy(repo)
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from bale.ops.install import install

    install(open_repo(), use_pre_commit_tool=args.use_pre_commit_tool)
    return 0


def cmd_git_hook(args: argparse.Namespace) -> int:
    """What an installed hook runs (dvc/commands/git_hook.py): nothing
    outside a repository, else the command for that hook."""
    from bale.cli.main import main
    from bale.exceptions import NotARepositoryError
    from bale.repo import find_root

    try:
        find_root()
    except NotARepositoryError:
        return 0
    if args.hook == "pre-commit":
        return main(["status"])
    if args.hook == "pre-push":
        return main(["push"])
    # post-checkout: the pre-commit tool says in its environment what git
    # passes as the third argument: 1 for a branch checkout, 0 for files
    flag = os.environ.get("PRE_COMMIT_CHECKOUT_TYPE")
    if flag is None and len(args.args) >= 3:
        flag = args.args[2]
    # hooks run at the top of the work tree; a checkout in the middle of a
    # rebase must not be broken by one of the data
    if flag != "1" or os.path.isdir(os.path.join(".git", "rebase-merge")):
        return 0
    return main(["checkout"])


def _stdin_lines() -> Iterator[str]:
    """Targets, one a line, until an empty line or the end of input (dvc's
    interactive mode: each answer is printed before the next is read)."""
    for line in sys.stdin:
        target = line.rstrip("\n")
        if not target:
            return
        yield target


def register(commands: Commands) -> None:
    commands.add("root", cmd_root, "Print the relative path to the root of the repository.")
    p = commands.add(
        "check-ignore",
        cmd_check_ignore,
        "Check whether files or directories are excluded by .dvcignore. "
        "Exits 0 when some target is (with --details: when some pattern matched one, "
        "a !pattern too), 1 otherwise.",
    )
    p.add_argument(
        "-d",
        "--details",
        action="store_true",
        help="show the deciding pattern before each path: <.dvcignore>:<line>:<pattern>, "
        "a !pattern too (it re-includes the path)",
    )
    p.add_argument("-a", "--all", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "-n",
        "--non-matching",
        action="store_true",
        help="with --details, list the paths no pattern matches too",
    )
    p.add_argument(
        "--stdin",
        action="store_true",
        help="read paths from standard input, one a line, instead of TARGETS",
    )
    p.add_argument("targets", nargs="*", metavar="TARGETS", help="file or directory paths to check")
    p = commands.add(
        "move",
        cmd_move,
        "Rename or move a data file or directory that a .dvc file tracks. The .dvc file "
        "is updated, and renamed too when it is named after the data.",
        aliases=("mv",),
    )
    p.add_argument("src", help="the tracked file or directory")
    p.add_argument("dst", help="where it goes (into it, when it is a directory)")
    p = commands.add(
        "destroy",
        cmd_destroy,
        "Remove .dvc/ (config and cache), every .dvc file, dvc.yaml and dvc.lock, and "
        ".dvcignore, leaving the data in the workspace as plain files.",
    )
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    p = commands.add(
        "install",
        cmd_install,
        "Install git hooks that run bale: checkout after git checkout, status before "
        "a commit, push before git push.",
    )
    p.add_argument(
        "--use-pre-commit-tool",
        action="store_true",
        help="add the hooks to .pre-commit-config.yaml (https://pre-commit.com) instead",
    )
    p = commands.add("git-hook", cmd_git_hook, "Run a git hook (what bale install's hooks call).")
    hooks = p.add_subparsers(dest="hook", metavar="HOOK", required=True)
    for hook, what in (
        ("pre-commit", "bale status"),
        ("post-checkout", "bale checkout, after git checks out a branch"),
        ("pre-push", "bale push"),
    ):
        h = hooks.add_parser(hook, help=f"runs {what}", description=f"Runs {what}.")
        h.add_argument("args", nargs="*", help="the arguments git or the pre-commit tool passes")
