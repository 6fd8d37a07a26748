"""Pipeline commands: ``repro``, ``stage add/list``, ``freeze``, ``unfreeze``,
``lineage``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from bale.cli.common import Commands, git_add_hint, open_repo
from bale.exceptions import BaleError

if TYPE_CHECKING:
    from bale.ops.lineage import Lineage


def cmd_repro(args: argparse.Namespace) -> int:
    from bale import scm
    from bale.ops.repro import repro, summary

    repo = open_repo()
    result = repro(
        repo,
        args.targets,
        force=args.force,
        force_downstream=args.force_downstream,
        single=args.single_item,
        dry=args.dry,
        downstream=args.downstream,
        all_pipelines=args.all_pipelines,
        jobs=args.jobs,
        run_cache=not args.no_run_cache,
        echo=not (args.quiet or args.json),
        verbose=getattr(args, "verbose", False),
    )
    if args.json:
        print(json.dumps(summary(result), indent=2))
        return 0
    if args.quiet:
        return 0
    files = set(result.changed_files)
    if files and not args.dry and not repo.config.core_autostage() and scm.uses_git(repo):
        print(git_add_hint(repo.root, files))
    # dvc's closing line: whether any stage ran (or, dry, would run)
    if result.ran or result.restored or result.committed:
        print("Use `bale push` to send your updates to remote storage.")
    else:
        print("Data and pipelines are up to date.")
    return 0


def _stage_usage(args: argparse.Namespace) -> int:
    print("usage: bale stage {add,list} ...  (see bale stage --help)")
    return 2


def cmd_stage_add(args: argparse.Namespace) -> int:
    from bale.ops.stage import StageSpec, add_stage

    cmd = " ".join(args.command) if len(args.command) > 1 else args.command[0]
    spec = StageSpec(
        name=args.name,
        cmd=cmd,
        deps=args.deps,
        params=args.params,
        outs=args.outs,
        outs_no_cache=args.outs_no_cache,
        outs_persist=args.outs_persist,
        outs_persist_no_cache=args.outs_persist_no_cache,
        metrics=args.metrics,
        metrics_no_cache=args.metrics_no_cache,
        plots=args.plots,
        plots_no_cache=args.plots_no_cache,
        wdir=args.wdir,
        always_changed=args.always_changed,
        desc=args.desc,
    )
    repo = open_repo()
    stage, changed = add_stage(repo, spec, force=args.force)
    label = stage.addressing(repo.root)
    if not args.quiet:
        print(f"Added stage '{label}' in '{stage.dvcyaml.relative_to(repo.root).as_posix()}'")
        from bale import scm

        if not repo.config.core_autostage() and scm.uses_git(repo):
            print(git_add_hint(repo.root, [p.relative_to(repo.root).as_posix() for p in changed]))
    if args.run:
        from bale.ops.repro import repro

        repro(repo, [label], single=True, force=True, echo=not args.quiet)
    return 0


def cmd_stage_list(args: argparse.Namespace) -> int:
    from bale.ops.stage import list_stages, to_json
    from bale.pipeline.compare import format_table

    infos = list_stages(
        open_repo(), args.targets, everything=args.all, recursive=args.recursive, fail=args.fail
    )
    if args.json:
        print(json.dumps(to_json(infos), indent=2))
        return 0
    if infos:  # dvc's ui.table: tabulate's plain format, nothing for no rows
        rows = [[i.name, "" if args.name_only else i.description] for i in infos]
        print(format_table([], rows, markdown=False))
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from bale.ops.lineage import lineage

    if args.mlflow is not None:
        return _mlflow_lineage(args)
    if args.target is None:
        raise BaleError("lineage: give an output path or a stage (or --mlflow RUN_ID)")
    result = lineage(open_repo(), args.target, rev=args.rev)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False, default=str))
        return 0
    print(render_lineage(result))
    return 0


def _mlflow_lineage(args: argparse.Namespace) -> int:
    """``--mlflow RUN_ID``: each input the run recorded, its lineage at the
    commit it was recorded at."""
    if args.target is not None or args.rev is not None:
        raise BaleError("lineage --mlflow reads the run's inputs: give no TARGET nor --rev")
    from bale.mlflow.lineage import run_lineage

    found = run_lineage(open_repo(), args.mlflow, args.tracking_uri)
    if args.json:
        print(json.dumps(found.to_json(), indent=2, ensure_ascii=False, default=str))
        return 0
    r = found.run
    at = f"commit {r.commit[:8]}" if r.commit else "no commit"
    ref = f", experiment {r.exp_ref.rsplit('/', 1)[-1]}" if r.exp_ref else ""
    print(f"MLflow run {r.run_id}: {at}{ref}, {len(found.inputs)} input(s)")
    for i in found.inputs:
        print()
        if i.in_git:
            same = {True: "as MLflow recorded", False: "not as MLflow recorded", None: ""}
            print(
                f"{i.path}: kept in git at {i.commit and i.commit[:8]} {same[i.matches]}".rstrip()
            )
            continue
        if i.lineage is None:
            print(f"{i.path}: {i.error}")
            continue
        if i.matches is False:
            print(f"{i.path}: MLflow recorded {i.recorded_hash}, the commit records another")
        print(render_lineage(i.lineage))
    return 0


def _commit_line(commit: dict[str, str] | None) -> str:
    if not commit:
        return "not in git"
    if not commit.get("commit"):
        return commit.get("note", "never committed")
    line = f"{commit['commit'][:8]} by {commit['author']} on {commit['date']}"
    return line + (f" ({commit['note']})" if commit.get("note") else "")


def render_lineage(r: Lineage) -> str:
    lines = []
    if r.rev:
        name, short = r.rev["name"], r.rev["commit"][:8]
        lines.append(f"at {name}" + (f" ({short})" if name != short else ""))
    lines.append(f"{r.path}" + (f"  {r.hash} {r.md5}" if r.md5 else ""))
    if r.remote:
        lines.append(f"  remote:     {r.remote['name']} ({r.remote['url']})")
    if r.produced_by is None:
        src = r.imported_from
        if src and "path" in src:
            at = src["rev_lock"] or src["rev"]
            how = f"imported from {src['path']} in {src['url']}" + (f" at {at}" if at else "")
            if src["rev"]:
                how += f" (rev {src['rev']})"
        elif src:
            how = f"imported from {src['url']}"
        else:
            how = "added by hand, not produced by a stage"
        lines.append(f"  tracked by: {r.tracked_by} ({how})")
        lines.append(f"  recorded:   {_commit_line(r.commit)}")
        lines.append(f"  up to date: {'yes' if r.up_to_date else 'no'}")
        return "\n".join(lines)
    for i, rec in enumerate([r.produced_by, *reversed(r.upstream)]):
        head = "produced by" if i == 0 else "upstream"
        lines.append("")
        lines.append(f"{head} stage '{rec.stage}' ({rec.file}, wdir {rec.wdir})")
        cmds = rec.cmd if isinstance(rec.cmd, list) else [rec.cmd]
        for c in cmds:
            lines.append(f"  cmd:        {c}")
        lines.append(f"  recorded:   {_commit_line(rec.commit)}")
        for f, values in rec.params.items():
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            lines.append(f"  params:     {f}: {shown}")
        for inp in rec.inputs:
            where = (
                f"from stage '{inp.produced_by}'"
                if inp.produced_by
                else f"tracked by {inp.tracked_by}"
                if inp.tracked_by
                else "in git"
            )
            size = f", {inp.nfiles} files" if inp.nfiles else ""
            if inp.produced_by or inp.tracked_by:
                where += "; cached" if inp.in_cache else "; not cached"
                where += f", remote {inp.remote['name']}" if inp.remote else ", no remote"
            lines.append(f"  input:      {inp.path}  md5 {inp.md5 or '?'}{size} ({where})")
        for f, values in rec.metrics.items():
            lines.append(f"  metrics:    {f}: {json.dumps(values, default=str)}")
        state = "yes" if rec.up_to_date else "no: " + json.dumps(rec.changes)
        lines.append(f"  up to date: {state}")
    lines.append("")
    why = (
        ""
        if r.up_to_date
        else "  (the workspace has changed)"
        if r.rev is None
        else f"  (at {r.rev['name']}, dvc.lock does not match what it records)"
    )
    first = "" if r.rev is None else f"git checkout {r.rev['name']} && bale pull && "
    lines.append(f"reproduce:  {first}bale repro {r.produced_by.stage}{why}")
    return "\n".join(lines)


def cmd_freeze(args: argparse.Namespace) -> int:
    return _set_frozen(args, True)


def cmd_unfreeze(args: argparse.Namespace) -> int:
    return _set_frozen(args, False)


def _set_frozen(args: argparse.Namespace, frozen: bool) -> int:
    """dvc's way: every target is tried, a failure is reported and the next
    one still done; the exit status is 1 if any failed."""
    from bale.cli.common import rel_cwd
    from bale.exceptions import BaleError
    from bale.ops.freeze import set_frozen

    repo = open_repo()
    failed = False
    for target in args.targets:
        try:
            done = set_frozen(repo, target, frozen)
        except BaleError as e:
            print(f"ERROR: {e}", file=sys.stderr)
            failed = True
            continue
        if done.name is not None and not args.quiet:
            where = rel_cwd(repo.root, str(done.path.relative_to(repo.root)))
            print(f"Modifying stage '{done.name}' in '{where}'")
    return int(failed)


def register(commands: Commands) -> None:
    command = commands.add
    p = command(
        "repro",
        cmd_repro,
        "Reproduce pipeline stages whose deps, params or command changed, upstream first.",
    )
    p.add_argument(
        "targets", nargs="*", help="stages, dvc.yaml files or outputs (default: ./dvc.yaml)"
    )
    p.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="run the targets and the stages they need, even if unchanged",
    )
    p.add_argument(
        "-F",
        "--force-downstream",
        action="store_true",
        help="also run every stage after one that ran",
    )
    p.add_argument(
        "-s", "--single-item", action="store_true", help="only the targets, not their upstream"
    )
    p.add_argument("--dry", action="store_true", help="print what would run, run nothing")
    p.add_argument(
        "--downstream", action="store_true", help="the targets and the stages after them"
    )
    p.add_argument(
        "-P", "--all-pipelines", action="store_true", help="every stage of every dvc.yaml"
    )
    p.add_argument("-j", "--jobs", type=int, default=1, help="stages to run at once (default 1)")
    p.add_argument(
        "--no-run-cache",
        action="store_true",
        help="do not restore outputs from earlier runs (only from the stage's own dvc.lock)",
    )
    p.add_argument("--json", action="store_true", help="print which stages ran, as JSON")

    p = command("stage", _stage_usage, "Add or list pipeline stages.")
    ssub = p.add_subparsers(dest="stage_command", metavar="COMMAND")
    a = ssub.add_parser(
        "add", help="Add a stage to ./dvc.yaml.", description="Add a stage to ./dvc.yaml."
    )
    a.set_defaults(func=cmd_stage_add)
    a.add_argument("-n", "--name", required=True, help="the stage's name")
    a.add_argument("-d", "--deps", action="append", default=[], metavar="PATH", help="a dependency")
    a.add_argument(
        "-p",
        "--params",
        action="append",
        default=[],
        metavar="[FILE:]KEYS",
        help="params the stage reads: key,key (params.yaml) or file:key,key",
    )
    for flag, long, dest, help in (
        ("-o", "--outs", "outs", "an output, cached"),
        ("-O", "--outs-no-cache", "outs_no_cache", "an output, not cached (git-tracked)"),
        (None, "--outs-persist", "outs_persist", "an output kept between runs, cached"),
        (None, "--outs-persist-no-cache", "outs_persist_no_cache", "an output kept between runs"),
        ("-m", "--metrics", "metrics", "a metrics file, cached"),
        ("-M", "--metrics-no-cache", "metrics_no_cache", "a metrics file, not cached"),
        (None, "--plots", "plots", "a plots file, cached"),
        (None, "--plots-no-cache", "plots_no_cache", "a plots file, not cached"),
    ):
        names = [n for n in (flag, long) if n]
        a.add_argument(*names, dest=dest, action="append", default=[], metavar="PATH", help=help)
    a.add_argument("-w", "--wdir", help="directory to run the command in")
    a.add_argument("-f", "--force", action="store_true", help="overwrite a stage of that name")
    a.add_argument("--always-changed", action="store_true", help="always consider it changed")
    a.add_argument("--desc", help="a description")
    a.add_argument("--run", action="store_true", help="run it right away")
    a.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    a.add_argument("command", nargs=argparse.REMAINDER, help="the command to run")
    ls = ssub.add_parser("list", help="List stages.", description="List stages.")
    ls.set_defaults(func=cmd_stage_list)
    ls.add_argument(
        "targets",
        nargs="*",
        help="stages, dvc.yaml/.dvc files or directories (default: ./dvc.yaml)",
    )
    ls.add_argument("--all", action="store_true", help="every stage of the project")
    ls.add_argument(
        "--fail", action="store_true", help="fail on a dvc.yaml or .dvc file that does not load"
    )
    ls.add_argument(
        "-R", "--recursive", action="store_true", help="every stage inside the target directories"
    )
    ls.add_argument("--name-only", "--names-only", action="store_true", help="names only")
    ls.add_argument("--json", action="store_true", help="print as JSON")

    for name, handler, verb in (
        ("freeze", cmd_freeze, "Freeze"),
        ("unfreeze", cmd_unfreeze, "Unfreeze"),
    ):
        what = "not reproduced by repro" if name == "freeze" else "reproduced again"
        p = command(name, handler, f"{verb} stages or .dvc files: {what}.")
        p.add_argument(
            "targets",
            nargs="+",
            help="stage names, path/dvc.yaml:name, or .dvc files",
        )

    p = command(
        "lineage",
        cmd_lineage,
        "Where an output came from: stage, command, commit, params, inputs, metrics.",
    )
    p.add_argument("target", nargs="?", help="an output path (a model file), or a stage")
    p.add_argument(
        "--mlflow",
        metavar="RUN_ID",
        help="the inputs an MLflow run recorded (bale.mlflow datasets, exp export), "
        "each at the commit it was recorded at",
    )
    p.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="with --mlflow: the tracking server (default: MLflow's, MLFLOW_TRACKING_URI)",
    )
    p.add_argument(
        "--rev",
        metavar="REV",
        help="answer for this git revision (branch, tag, commit or experiment), read from "
        "git and the cache without checking it out",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
