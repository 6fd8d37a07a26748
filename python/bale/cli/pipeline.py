"""Pipeline commands: ``repro``, ``stage add/list``, ``dag``. Like the other
handlers they call :mod:`bale.ops` and print what came back."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from bale.cli.commands import _repo


def _out(text: str) -> None:
    """Prints a rendered table or text, ending it with one newline."""
    if text:
        print(text, end="" if text.endswith("\n") else "\n")


def cmd_repro(args: argparse.Namespace) -> int:
    from bale.ops.repro import repro, summary

    result = repro(
        _repo(),
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
    repo = _repo()
    from bale import scm

    if files and not args.dry and not repo.config.core_autostage() and scm.uses_git(repo):
        from bale.cli.commands import git_add_hint

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
    repo = _repo()
    stage, changed = add_stage(repo, spec, force=args.force)
    label = stage.addressing(repo.root)
    if not args.quiet:
        print(f"Added stage '{label}' in '{stage.dvcyaml.relative_to(repo.root).as_posix()}'")
        from bale import scm
        from bale.cli.commands import git_add_hint

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
        _repo(), args.targets, everything=args.all, recursive=args.recursive, fail=args.fail
    )
    if args.json:
        print(json.dumps(to_json(infos), indent=2))
        return 0
    if infos:  # dvc's ui.table: tabulate's plain format, nothing for no rows
        rows = [[i.name, "" if args.name_only else i.description] for i in infos]
        print(format_table([], rows, markdown=False))
    return 0


def cmd_dag(args: argparse.Namespace) -> int:
    from bale import index
    from bale.pipeline import dagview

    if args.outs and args.collapse_foreach_matrix:
        from bale.exceptions import TargetError

        # dvc's InvalidArgumentError: an error line and a failure, not argparse's usage
        raise TargetError("`--outs` and `--collapse-foreach-matrix` are mutually exclusive")
    repo = _repo()
    pipes = index.load(repo)
    here = Path.cwd()  # dvc names nodes from the current directory
    graph = dagview.build(pipes.graph, outs=args.outs, here=here)
    targets: list[str] = []
    if args.target:
        chosen = pipes.select([args.target])
        if args.outs:
            # as dvc: a stage stands for its outputs
            targets = [Path(os.path.relpath(o, here)).as_posix() for n in chosen for o in n.outs]
        else:
            targets = [dagview.shown(n, repo.root, here) for n in chosen]
    graph = dagview.restrict(graph, targets, full=args.full)
    if args.collapse_foreach_matrix:
        graph = dagview.collapse_generated(graph)
    if args.dot:
        print(dagview.to_dot(graph))  # dvc's dot ends with a blank line
    elif args.mermaid or args.md:
        print(dagview.to_mermaid(graph, markdown=args.md))
    else:
        from bale.cli.pager import page

        page(dagview.to_ascii(graph) + "\n")
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


def register(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
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

    p = command(
        "lineage",
        cmd_lineage,
        "Where an output came from: stage, command, commit, params, inputs, metrics.",
    )
    p.add_argument("target", help="an output path (a model file), or a stage")
    p.add_argument("--json", action="store_true", help="print as JSON")

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

    p = command("dag", cmd_dag, "Show the pipeline graph.")
    p.add_argument("target", nargs="?", help="a stage or output (default: everything)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--dot", action="store_true", help="as Graphviz dot")
    fmt.add_argument("--mermaid", action="store_true", help="as a mermaid flowchart")
    fmt.add_argument("--md", action="store_true", help="as mermaid inside a markdown fence")
    p.add_argument(
        "--full",
        action="store_true",
        help="the whole pipeline the target belongs to, not only what it depends on",
    )
    p.add_argument("-o", "--outs", action="store_true", help="draw outputs instead of stages")
    p.add_argument(
        "--collapse-foreach-matrix",
        action="store_true",
        help="draw the stages of each foreach/matrix group as one node",
    )


def cmd_metrics(args: argparse.Namespace) -> int:
    from bale.exceptions import BaleError
    from bale.ops import metrics
    from bale.pipeline.compare import render_json, render_show_table, show_json

    repo = _repo()
    if args.metrics_command == "show" and (args.all_branches or args.all_tags or args.all_commits):
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


def _show_revisions(args: argparse.Namespace, repo: Any) -> int:
    """``metrics show -a/-T/-A``: one block per revision, as dvc prints them."""
    from bale.exceptions import BaleError
    from bale.ops import metrics
    from bale.pipeline.compare import render_json, render_show_table, show_json
    from bale.pipeline.revision import loaded

    found = metrics.show_revisions(
        repo,
        args.targets,
        all_branches=args.all_branches,
        all_tags=args.all_tags,
        all_commits=args.all_commits,
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
    from bale.cli.commands import _rel_cwd

    return {_rel_cwd(root, k): v for k, v in per_file.items()}


def cmd_params(args: argparse.Namespace) -> int:
    if args.params_command != "diff":
        print("usage: bale params diff ...")
        return 2
    return _diff(args, "params")


def _diff(args: argparse.Namespace, kind: Literal["metrics", "params"]) -> int:
    from bale.ops import metrics
    from bale.pipeline.compare import render_diff_table, render_json

    repo = _repo()
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


def cmd_lineage(args: argparse.Namespace) -> int:
    from bale.ops.lineage import lineage

    result = lineage(_repo(), args.target)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False, default=str))
        return 0
    print(_render_lineage(result))
    return 0


def _commit_line(commit: dict[str, str] | None) -> str:
    if not commit:
        return "not in git"
    if not commit.get("commit"):
        return commit.get("note", "never committed")
    line = f"{commit['commit'][:8]} by {commit['author']} on {commit['date']}"
    return line + (f" ({commit['note']})" if commit.get("note") else "")


def _render_lineage(r: Any) -> str:
    lines = [f"{r.path}" + (f"  md5 {r.md5}" if r.md5 else "")]
    if r.remote:
        lines.append(f"  remote:     {r.remote['name']} ({r.remote['url']})")
    if r.produced_by is None:
        lines.append(f"  tracked by: {r.tracked_by} (added by hand, not produced by a stage)")
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
    lines.append(
        "reproduce:  bale repro " + r.produced_by.stage
        if r.up_to_date
        else "reproduce:  bale repro " + r.produced_by.stage + "  (the workspace has changed)"
    )
    return "\n".join(lines)
