"""The model registry: ``artifacts`` (dvc's ``artifacts get``) and ``model``
(GTO's ``register``, ``assign``, ``deprecate``, ``show``, ``history``), in
GTO's git tags (:mod:`bale.registry`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bale.cli.common import Commands, remote_options, say, source_remote_args
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
    from bale.source import load_config

    if args.show_url:
        from bale.api import get_url

        found = artifacts.find(args.url, args.name, args.rev, args.stage, repo_type=Repo)
        print(
            get_url(
                found.path,
                repo=args.url,
                rev=found.commit,
                remote=args.remote,
                config=load_config(args.config) if args.config else None,
                remote_config=remote_options(args),
            )
        )
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
        config=load_config(args.config) if args.config else None,
        remote_config=remote_options(args),
        repo_type=Repo,
    )
    say(args, f"Downloaded {result.files} file(s) to '{out}'")
    return 0


def register(commands: Commands) -> None:
    _register_artifacts(commands)
    _register_model(commands)


def _register_artifacts(commands: Commands) -> None:
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
    source_remote_args(get)


def cmd_model(args: argparse.Namespace) -> int:
    from bale.cli.common import open_repo

    command = args.model_command
    if command is None:
        print("usage: bale model {register,assign,deprecate,show,history} ...", file=sys.stderr)
        return 2
    repo = open_repo()
    if command in ("show", "history"):
        return _show(repo, args) if command == "show" else _history(repo, args)
    from bale.ops import model

    if command == "register":
        bump = next((b for b in ("major", "minor", "patch") if getattr(args, f"bump_{b}")), None)
        made = [
            model.register(
                repo,
                args.name,
                args.rev or "HEAD",
                version=args.version,
                bump=bump,
                message=args.message,
                force=args.force,
            )
        ]
    elif command == "assign":
        made = model.assign(
            repo,
            args.name,
            args.stage,
            version=args.version,
            rev=args.rev,
            message=args.message,
            force=args.force,
        )
    else:
        made = [
            model.deprecate(
                repo, args.name, args.version, args.stage, message=args.message, force=args.force
            )
        ]
    for c in made:
        say(args, f"Created git tag '{c.tag}' that {c.did}")
    say(args, model.push_hint(made))
    return 0


def _show(repo: Any, args: argparse.Namespace) -> int:
    from bale.ops import model
    from bale.registry import show
    from bale.registry.artifacts import ArtifactNotFoundError, parse_shortcut

    if args.lineage:
        return _show_lineage(repo, args)
    reg = model.load(repo)
    options = {
        "registered_only": args.registered_only,
        "deprecated": args.deprecated,
        "sort": args.sort,
    }
    if args.name is None:
        stages = reg.stages(model.allowed_stages(repo))
        table = show.registry(reg, stages, **options)
        if args.json:
            print(json.dumps(table, indent=4))
            return 0
        head = ["name", "latest", *(f"#{s}" for s in stages)]
        rows = [
            [n + ("" if d["registered"] else "*"), d["version"], *d["stage"].values()]
            for n, d in sorted(table.items())
        ]
        print(_table(head, rows) if rows else "Nothing found in the current workspace")
        return 0
    name, _v, _s = parse_shortcut(args.name)
    artifact = reg.find(name)
    if artifact is None:
        raise ArtifactNotFoundError(name)
    shortcut = args.name[len(name) :] or None
    versions = show.versions(artifact, shortcut, **options)
    if args.json:
        print(json.dumps(versions, indent=4))
        return 0
    rows = [
        [
            name if artifact.is_registered else f"{name}*",
            v["version"][:7] if len(v["version"]) == 40 else v["version"],
            ", ".join(dict.fromkeys(s["stage"] for s in v["stages"])),
            v["created_at"],
            v["ref"][:7] if v["ref"] == v["commit_hexsha"] else v["ref"],
        ]
        for v in versions
    ]
    head = ["artifact", "version", "stage", "created_at", "ref"]
    print(_table(head, rows) if rows else "Nothing found in the current workspace")
    return 0


def _show_lineage(repo: Any, args: argparse.Namespace) -> int:
    from bale.cli.pipeline import render_lineage
    from bale.ops import model

    if args.name is None:
        raise BaleError("--lineage shows one version: give NAME@v1.2.0, NAME#prod or NAME@latest")
    found = model.lineage_of(repo, args.name)
    if args.json:
        print(json.dumps(found.to_json(), indent=2, ensure_ascii=False, default=str))
        return 0
    stages = f", in {', '.join(found.stages)}" if found.stages else ""
    print(f"{found.artifact} {found.version} ({found.commit[:8]}{stages}): {found.path}")
    print(render_lineage(found.lineage))
    return 0


def _history(repo: Any, args: argparse.Namespace) -> int:
    from bale.ops import model
    from bale.registry import show

    events = show.history(model.load(repo), args.name, ascending=args.ascending)
    if args.json:
        print(json.dumps(events, indent=4))
        return 0
    keys = ["timestamp", "artifact", "event", "version", "stage", "commit", "ref"]
    rows = [[e[k][:7] if k == "commit" else e[k] for k in keys] for e in events]
    print(_table(keys, rows) if rows else "Nothing found in the current workspace")
    return 0


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = [head, *([("-" if c is None else str(c)) for c in r] for r in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _register_model(commands: Commands) -> None:
    p = commands.add(
        "model",
        cmd_model,
        "The model registry: versions and stages of artifacts, in git tags GTO reads.",
    )
    sub = p.add_subparsers(dest="model_command", metavar="COMMAND")

    def name(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "name", metavar="NAME", help="the artifact (dir:name for one in dir/dvc.yaml)"
        )

    def acting(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-m", "--message", help="the tag's message (default: GTO's)")

    reg = sub.add_parser(
        "register",
        help="Register a version of an artifact (tag NAME@vX.Y.Z).",
        description=(
            "Register a version of artifact NAME at REV (default: HEAD): --version's, or "
            "the latest bumped (patch unless told), or v0.0.1 for the first. The artifact "
            "must be declared in dvc.yaml at REV, its data committed there and on a "
            "remote, unless --force."
        ),
    )
    name(reg)
    reg.add_argument("rev", metavar="REV", nargs="?", help="the commit (default: HEAD)")
    bumps = reg.add_mutually_exclusive_group()
    bumps.add_argument("--version", metavar="<vX.Y.Z>", help="the version to register")
    for b in ("major", "minor", "patch"):
        bumps.add_argument(
            f"--bump-{b}", action="store_true", help=f"bump the latest version's {b} number"
        )
    acting(reg)
    reg.add_argument(
        "-f", "--force", action="store_true", help="register even if it cannot be got back"
    )

    assign = sub.add_parser(
        "assign",
        help="Assign a stage to a version (tag NAME#STAGE#N).",
        description=(
            "Assign STAGE to --version of NAME, or to its version at --rev (default: "
            "HEAD), registering one there first if there is none."
        ),
    )
    name(assign)
    assign.add_argument("stage", metavar="STAGE", help="the stage (prod, staging, ...)")
    assign.add_argument("--version", metavar="<vX.Y.Z>", help="the version")
    assign.add_argument("--rev", metavar="<rev>", help="the commit whose version it is")
    acting(assign)
    assign.add_argument(
        "-f", "--force", action="store_true", help="assign even if the version is in it"
    )

    dep = sub.add_parser(
        "deprecate",
        help="Deprecate an artifact, deregister a version, or unassign a stage.",
        description=(
            "Deprecate artifact NAME (tag NAME@deprecated); with VERSION, deregister it "
            "(NAME@VERSION!); with STAGE too, unassign the stage from it (NAME#STAGE!#N)."
        ),
    )
    name(dep)
    dep.add_argument("version", metavar="VERSION", nargs="?", help="the version")
    dep.add_argument("stage", metavar="STAGE", nargs="?", help="the stage")
    acting(dep)
    dep.add_argument("-f", "--force", action="store_true", help="tag even if already done")

    show = sub.add_parser(
        "show",
        help="Show the registry, or an artifact's versions and stages.",
        description=(
            "Show every artifact's latest version and stages, or NAME's versions "
            "(NAME@v1.2.0, NAME@latest, NAME#prod: that one); --json prints what "
            "'gto show --json' prints. With --lineage, where that version came from, "
            "as its commit records it (bale lineage --rev)."
        ),
    )
    show.add_argument("name", metavar="NAME", nargs="?", help="the artifact")
    show.add_argument("--json", action="store_true", help="print JSON (gto show's)")
    show.add_argument("--registered-only", action="store_true", help="only versions registered")
    show.add_argument("--deprecated", action="store_true", help="deprecated ones too")
    show.add_argument(
        "--lineage",
        action="store_true",
        help="the version's lineage (stage, command, params, inputs, metrics) at its commit",
    )
    show.add_argument(
        "--sort",
        choices=("timestamp", "semver"),
        default="timestamp",
        help="order stages' versions by time (default) or by version",
    )

    history = sub.add_parser(
        "history",
        help="Show the registry's events, newest first.",
        description="Every registration, assignment and deprecation, of NAME or of all.",
    )
    history.add_argument("name", metavar="NAME", nargs="?", help="the artifact")
    history.add_argument("--json", action="store_true", help="print JSON (gto history's)")
    history.add_argument("--ascending", action="store_true", help="oldest first")
