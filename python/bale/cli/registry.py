"""``artifacts``: the model registry's artifacts (dvc's ``artifacts get``),
found through GTO's git tags (:mod:`bale.registry`)."""

from __future__ import annotations

import argparse
import sys

from bale.cli.common import Commands, say
from bale.exceptions import BaleError


def cmd_artifacts(args: argparse.Namespace) -> int:
    if args.artifacts_command == "get":
        return _get(args)
    print("usage: bale artifacts {get} ...", file=sys.stderr)
    return 2


def _get(args: argparse.Namespace) -> int:
    try:
        return _download(args)
    except BaleError as e:
        # dvc's words: what could not be got, from where, and why
        raise BaleError(f"failed to get '{args.name}' from '{args.url}' - {e}") from None


def _download(args: argparse.Namespace) -> int:
    from bale.ops import artifacts
    from bale.repo import Repo

    if args.show_url:
        from bale.api import get_url

        found = artifacts.find(args.url, args.name, args.rev, args.stage, repo_type=Repo)
        print(get_url(found.path, repo=args.url, rev=found.commit, remote=args.remote))
        return 0
    result, out = artifacts.get(
        args.url,
        args.name,
        args.rev,
        args.stage,
        args.out,
        force=args.force,
        jobs=args.jobs,
        remote=args.remote,
        repo_type=Repo,
    )
    say(args, f"Downloaded {result.files} file(s) to '{out}'")
    return 0


def register(commands: Commands) -> None:
    p = commands.add("artifacts", cmd_artifacts, "The model registry's artifacts.")
    sub = p.add_subparsers(dest="artifacts_command", metavar="COMMAND")
    get = sub.add_parser(
        "get",
        help="Download an artifact of a repository: a version, a stage's, or the latest.",
        description=(
            "Download artifact NAME (dvc.yaml's artifacts:) of the repository at URL, "
            "at the commit its registry's git tags name (GTO's: NAME@v1.2.0, "
            "NAME#prod#N): --rev's version, --stage's latest assignment, or by "
            "default the greatest version. NAME@v1.2.0 and NAME#prod name them too."
        ),
    )
    get.add_argument(
        "url", metavar="URL", help="the repository: a local path or any URL git clone takes"
    )
    get.add_argument("name", metavar="NAME", help="the artifact (dir:name for one in dir/dvc.yaml)")
    get.add_argument("--rev", metavar="<version>", help="the version (v1.2.0)")
    get.add_argument("--stage", metavar="<stage>", help="the stage: its latest assignment")
    get.add_argument(
        "-o", "--out", metavar="<path>", help="where to put it (default: its name, here)"
    )
    get.add_argument(
        "--show-url", action="store_true", help="print where its data is stored, and exit"
    )
    get.add_argument("-j", "--jobs", type=int, metavar="<number>", help="parallel downloads")
    get.add_argument("-f", "--force", action="store_true", help="replace the output if it exists")
    get.add_argument(
        "--remote", help="the repository's remote to download from (default: its default remote)"
    )
