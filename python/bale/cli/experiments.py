"""``bale exp`` sub-commands; they call :mod:`bale.ops.exp` and print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from bale.cli.common import Commands, Handler, open_repo
from bale.console import debug


def cmd_exp_run(args: argparse.Namespace) -> int:
    from bale.ops import exp

    repo = open_repo()
    if args.run_all:
        res = exp.run_all(repo, jobs=args.jobs, echo=not args.quiet)
        for r in res.done:
            print(f"Ran experiment '{r.name}' ({r.commit[:7]}, baseline {r.baseline[:7]})")
        for ref, why in res.failed.items():
            print(f"FAILED {ref}: {why}")
        return 1 if res.failed else 0
    r = exp.run(
        repo,
        args.targets,
        set_params=args.set_param,
        name=args.name,
        queue=args.queue,
        force=args.force,
        jobs=args.jobs,
        echo=not args.quiet,
    )
    if r.queued:
        # dvc's words; 'queue start' runs it in the background, 'exp run --run-all' here
        print(f"Queued experiment '{r.name or r.commit[:7]}' for future execution.")
    elif not args.quiet:
        # dvc's words; which commit holds the experiment is for -v
        print(f"\nRan experiment(s): {r.name}")
        print("Experiment results have been applied to your workspace.")
        debug(f"experiment '{r.name}' is commit {r.commit}, baseline {r.baseline}")
    return 0


def cmd_exp_show(args: argparse.Namespace) -> int:
    from bale.experiments import table
    from bale.ops import exp_queue
    from bale.pipeline.compare import render_json

    states = exp_queue.show(
        open_repo(),
        all_commits=args.all_commits,
        all_branches=args.all_branches,
        all_tags=args.all_tags,
        revs=args.rev,
        num=args.num,
        hide_workspace=args.hide_workspace,
        sha_only=args.sha,
        param_deps=args.param_deps,
    )
    if args.json:
        print(render_json([s.dumpd() for s in states]), end="")
        return 0
    # As dvc 3.67.1 does: --precision rounds CSV only (its table always shows
    # 5 significant digits; CSV without --precision shows every digit).
    precision = (args.precision or None) if args.csv else 5
    td, headers = table.tabulate(
        states,
        fill="" if args.csv else "-",
        precision=precision,
        iso=args.csv,
        sort_by=args.sort_by,
        sort_order=args.sort_order,
    )
    text = table.render(
        td,
        headers,
        keep=args.keep,
        drop=args.drop,
        csv_out=args.csv,
        markdown=args.md,
        only_changed=args.only_changed,
    )
    sys.stdout.write(text)
    return 0


def cmd_exp_diff(args: argparse.Namespace) -> int:
    from bale.experiments.table import render_diff
    from bale.ops import exp
    from bale.pipeline.compare import render_json

    d = exp.diff(
        open_repo(), args.a_rev, args.b_rev, with_unchanged=args.all, param_deps=args.param_deps
    )
    if args.json:
        print(render_json(d), end="")
        return 0
    text = render_diff(
        d,
        a_rev=args.a_rev or "HEAD",
        b_rev=args.b_rev or "workspace",
        markdown=args.md,
        no_path=args.no_path,
        precision=args.precision,
    )
    sys.stdout.write(text)
    return 0


def cmd_exp_apply(args: argparse.Namespace) -> int:
    from bale.ops import exp

    exp.apply(open_repo(), args.experiment, force=args.force)
    # dvc's words, naming the experiment as the user did
    print(
        f"Changes for experiment '{args.experiment}' have been applied to your current workspace."
    )
    return 0


def cmd_exp_branch(args: argparse.Namespace) -> int:
    from bale.ops import exp

    r = exp.branch(open_repo(), args.experiment, args.branch)
    print(f"Git branch '{args.branch}' created from experiment '{r.name}' ({r.commit[:7]})")
    return 0


def cmd_exp_list(args: argparse.Namespace) -> int:
    from bale.exceptions import BaleError
    from bale.experiments.show import describe
    from bale.ops import exp

    if args.sha_only and args.git_remote:
        raise BaleError("--sha-only not supported with git_remote.")  # dvc's words
    repo = open_repo()
    found = exp.ls(
        repo,
        revs=args.rev,
        all_commits=args.all_commits,
        num=args.num,
        git_remote=args.git_remote,
    )
    plain = not (args.name_only or args.sha_only)
    names = describe(repo, list(found)) if plain else {}
    for baseline, exps in found.items():
        if plain:
            print(f"{names.get(baseline) or baseline[:7]}:")
        for name, commit in exps:
            if args.name_only:
                print(name)
            elif args.sha_only:
                print(commit)
            elif commit:
                print(f"\t{commit[:7]} [{name}]")
            else:  # a remote's: its commit is not known here
                print(f"\t{name}")
    return 0


def cmd_exp_save(args: argparse.Namespace) -> int:
    from bale.ops import exp_save
    from bale.pipeline.compare import render_json

    r = exp_save.save(
        open_repo(),
        args.targets,
        recursive=args.recursive,
        name=args.name,
        force=args.force,
        include_untracked=args.include_untracked,
        message=args.message,
    )
    if args.json:
        print(render_json({"ref": r.commit}), end="")  # dvc's key for the commit id
    else:
        print(f"Experiment has been saved as: {r.name}")
    return 0


def cmd_exp_export(args: argparse.Namespace) -> int:
    import os
    from collections import Counter

    from bale.exceptions import BaleError

    if not args.mlflow:
        raise BaleError("say where to export to: --mlflow (the only target so far)")
    # MLflow retries a refused connection 7 times, backing off for minutes:
    # an unreachable server is said within seconds unless the environment
    # asks for more patience
    for name, value in (
        ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"),
        ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1"),
        ("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0"),
        ("MLFLOW_HTTP_REQUEST_TIMEOUT", "30"),
    ):
        os.environ.setdefault(name, value)
    try:
        import bale.mlflow
    except ImportError as e:
        raise BaleError(f"MLflow is not installed ({e}): pip install 'bale[mlflow]'") from None
    from bale.pipeline.compare import render_json

    done = bale.mlflow.export_experiments(
        open_repo(), args.experiment, tracking_uri=args.tracking_uri, experiment=args.to
    )
    if args.json:
        # by name; a name two baselines share, by ref (as exp push takes them)
        counts = Counter(run.experiment for run in done)
        keyed = {(r.experiment if counts[r.experiment] == 1 else r.ref): r.dumpd() for r in done}
        print(render_json(keyed), end="")
        return 0
    if args.quiet:
        return 0
    for run in done:
        print(f"{run.experiment}: run {run.run_id} ({run.status})")
    if not done:
        print("No experiments to export.")
    return 0


def _join(names: list[str], sort: bool = True) -> str:
    """dvc's ``humanize.join``: "a, b and c" (sorted where dvc's order is a set's)."""
    names = sorted(names) if sort else names
    return f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else "".join(names)


def _sync_args(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "all_commits": args.all_commits,
        "revs": args.rev,
        "num": args.num,
        "force": args.force,
        "cache": args.cache,
        "dvc_remote": args.dvc_remote,
        "jobs": args.jobs,
        "run_cache": args.run_cache,
    }


def cmd_exp_push(args: argparse.Namespace) -> int:
    from bale.cli.common import summary
    from bale.ops import exp_sync

    remote = args.git_remote
    r = exp_sync.push(open_repo(), remote, args.experiment, **_sync_args(args))
    if r.diverged:
        print(
            f"Local experiment {_join(r.diverged)} has diverged from remote experiment "
            "with the same name. To override the remote experiment re-run with '--force'.",
            file=sys.stderr,
        )
    # dvc's words
    if r.up_to_date:
        verb = "are" if len(r.up_to_date) > 1 else "is"
        print(f"Experiment {_join(r.up_to_date)} {verb} up to date on Git remote {remote!r}.")
    if r.success:
        print(f"Pushed experiment {_join(r.success)} to Git remote {remote!r}.")
    if not r.up_to_date and not r.success:
        print("No experiments to push.")
    if r.moved:
        print(summary([("uploaded", r.moved)]))
    if not args.cache:
        print(
            "To push cached outputs for this experiment to DVC remote storage, "
            "re-run this command without '--no-cache'."
        )
    return 0


def cmd_exp_pull(args: argparse.Namespace) -> int:
    from bale.console import warn
    from bale.ops import exp_sync

    remote = args.git_remote
    r = exp_sync.pull(open_repo(), remote, args.experiment, **_sync_args(args))
    if r.diverged:
        warn(
            f"Local experiment '{_join(r.diverged)}' has diverged from remote experiment "
            "with the same name. To override the local experiment re-run with '--force'."
        )
    # dvc's words, but the names as a sentence (dvc prints a Python list: '['a']')
    if r.success:
        print(f"Pulled experiment '{_join(r.success)}' from Git remote '{remote}'.")
    else:
        print("No experiments to pull.")
    if not args.cache:
        print(
            "To pull cached outputs for this experiment from DVC remote storage, "
            "re-run this command without '--no-cache'."
        )
    return 0


def cmd_exp_remove(args: argparse.Namespace) -> int:
    from bale.exceptions import BaleError
    from bale.ops import exp

    if bool(args.all_commits or args.rev or args.queue) == bool(args.experiment):
        raise BaleError(  # dvc's words
            "Either provide an `experiment` argument, or use the "
            "`--rev` or `--all-commits` or `--queue` flag."
        )
    removed = exp.remove(
        open_repo(),
        args.experiment,
        all_commits=args.all_commits,
        revs=args.rev,
        num=args.num,
        queue=args.queue,
        git_remote=args.git_remote,
        keep=args.keep,
    )
    if removed:
        print(f"Removed experiments: {_join([repr(n) for n in removed], sort=False)}")
    else:
        print("No experiments to remove.")
    return 0


def cmd_exp_rename(args: argparse.Namespace) -> int:
    from bale.ops import exp

    if not (args.experiment and args.name):
        from bale.exceptions import BaleError

        raise BaleError("An experiment to rename and a new experiment name are required.")
    renamed = exp.rename(
        open_repo(), args.experiment, args.name, force=args.force, git_remote=args.git_remote
    )
    if renamed:
        print(f"Renamed experiments: {_join([repr(n) for n in renamed])}")
    else:
        print("No experiments to rename.")
    return 0


def cmd_exp_clean(args: argparse.Namespace) -> int:
    from bale.ops import exp

    # dvc's two lines; what went is for -v
    if not args.quiet:
        print("Cleaning up experiments' temporary files...")
    from bale.ops import exp_queue

    repo = open_repo()
    for path in [*exp.clean(repo), *exp_queue.clean(repo)]:
        debug(f"removed {path}")
    if not args.quiet:
        print("Done!")
    return 0


def cmd_queue_status(args: argparse.Namespace) -> int:
    from bale.experiments.table import format_time
    from bale.ops import exp_queue
    from bale.pipeline.compare import format_table

    repo = open_repo()
    tasks = exp_queue.tasks(repo)
    if tasks:
        rows = [
            [t.rev[:7], t.name or "", format_time(t.timestamp, "", False), t.status] for t in tasks
        ]
        print(format_table(["Task", "Name", "Created", "Status"], rows, markdown=False))
    else:
        print("No experiment tasks in the queue.")
    print()
    active, idle = exp_queue.worker_status(repo)
    if not (active or idle):  # an 'exp run --run-all' in the foreground: one per task it runs
        active = sum(t.status == "Running" for t in tasks)
    print(f"Worker status: {active} active, {idle} idle")
    return 0


def cmd_queue_remove(args: argparse.Namespace) -> int:
    from bale.exceptions import BaleError
    from bale.ops import exp_queue

    flags = args.all or args.queued or args.success or args.failed
    if bool(flags) == bool(args.task):
        raise BaleError(  # dvc's words
            "Either provide an `tasks` argument, or use the "
            "`--all`, `--queued`, `--failed`, `--success` flag."
        )
    removed = exp_queue.remove(
        open_repo(),
        args.task,
        queued=args.all or args.queued,
        success=args.all or args.success,
        failed=args.all or args.failed,
    )
    if removed:
        print(f"Removed tasks in queue: {', '.join(removed)}")
    elif args.task:  # named, but running
        print(f"No tasks found named {', '.join(args.task)}")
    else:
        print("No experiment tasks in the queue.")
    return 0


def cmd_queue_start(args: argparse.Namespace) -> int:
    from bale.ops import exp_queue

    started = exp_queue.start(open_repo(), args.jobs)
    suffix = "s" if started > 1 else ""
    print(f"Started '{started}' new experiments task queue worker{suffix}.")  # dvc's words
    return 0


def cmd_queue_stop(args: argparse.Namespace) -> int:
    from bale.ops import exp_queue

    for name in exp_queue.stop(open_repo(), kill=args.kill):
        print(f"{name} has been killed.")
    # dvc's words (dvc runs its two sentences together, without a space)
    if args.kill:
        print("All running tasks in the queue have been killed. Queue workers are stopping.")
    else:
        print("Queue workers will stop after running tasks finish.")
    return 0


def cmd_queue_kill(args: argparse.Namespace) -> int:
    from bale.ops import exp_queue

    for name in exp_queue.kill(open_repo(), args.task, force=args.force):
        print(f"{name} has been killed.")  # dvc's words
    return 0


def cmd_queue_logs(args: argparse.Namespace) -> int:
    import locale

    from bale.ops import exp_queue

    repo = open_repo()
    task = exp_queue.find_started(repo, args.task)
    encoding = args.encoding or locale.getpreferredencoding()
    if args.follow:
        print(  # dvc's words
            f"Following logs for experiment '{args.task}'. Use Ctrl+C to stop "
            "following logs (experiment execution will continue).\n",
            flush=True,
        )
        try:
            for chunk in exp_queue.follow(repo, task):
                sys.stdout.write(chunk.decode(encoding, errors="replace"))
                sys.stdout.flush()
        except KeyboardInterrupt:
            pass
        return 0
    from bale.exceptions import BaleError

    path = exp_queue.log_path(repo, task)
    if not path.exists():
        raise BaleError(f"No output logs found for experiment '{args.task}'")  # dvc's words
    print(path.read_bytes().decode(encoding, errors="replace"))
    return 0


def _queue_usage(args: argparse.Namespace) -> int:
    print("usage: bale queue {start,stop,status,logs,kill,remove} ...  (see bale queue --help)")
    return 2


def _usage(args: argparse.Namespace) -> int:
    print("usage: bale exp COMMAND ...  (see bale exp --help for the commands)")
    return 2


def _rev_selection(p: argparse.ArgumentParser, verb: str) -> None:
    """dvc's ``-A/--rev/-n``: which baselines' experiments a command takes."""
    p.add_argument(
        "-A",
        "--all-commits",
        action="store_true",
        help=f"{verb} the experiments of every baseline (overrides --rev and --num)",
    )
    p.add_argument(
        "--rev",
        action="append",
        metavar="<commit>",
        help=f"{verb} the experiments of this baseline (default HEAD)",
    )
    p.add_argument(
        "-n",
        "--num",
        type=int,
        default=1,
        metavar="<num>",
        help="and of that many first parents of it (negative: all of them)",
    )


def register(commands: Commands) -> None:
    _register_exp(commands)
    _register_queue(commands)


def _register_queue(commands: Commands) -> None:
    p = commands.add(
        "queue",
        _queue_usage,
        "Run queued experiments ('exp run --queue') in background workers, and see them.",
    )
    qsub = p.add_subparsers(dest="queue_command", metavar="COMMAND")

    def sub(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        sp = qsub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=handler)
        return sp

    sub(
        "status",
        cmd_queue_status,
        "Show the queue's tasks (running, queued, failed, succeeded) and its workers.",
    )
    st = sub(
        "start",
        cmd_queue_start,
        "Start workers in the background that run the queued experiments, one at a time each.",
    )
    st.add_argument(
        "-j", "--jobs", type=int, default=1, metavar="<number>", help="how many workers (default 1)"
    )
    sp = sub("stop", cmd_queue_stop, "Stop the workers once their running tasks finish.")
    sp.add_argument("--kill", action="store_true", help="kill the running tasks first")
    lg = sub("logs", cmd_queue_logs, "Show what a running or finished task printed.")
    lg.add_argument("task", metavar="<task>", help="its name or task id")
    lg.add_argument("-e", "--encoding", metavar="<encoding>", help="the log's text encoding")
    lg.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing while the task runs (Ctrl+C stops following, not the task)",
    )
    kl = sub("kill", cmd_queue_kill, "Interrupt running tasks, as Ctrl-C would.")
    kl.add_argument("task", nargs="*", metavar="<task>", help="names or task ids")
    kl.add_argument("-f", "--force", action="store_true", help="kill at once (SIGKILL)")
    rm = sub("remove", cmd_queue_remove, "Remove queued and finished tasks (a running one stays).")
    rm.add_argument("task", nargs="*", metavar="<task>", help="names or task ids")
    rm.add_argument("--all", action="store_true", help="every task but the running ones")
    rm.add_argument("--queued", action="store_true", help="every queued task")
    rm.add_argument("--success", action="store_true", help="every task that succeeded")
    rm.add_argument("--failed", action="store_true", help="every task that failed")


def _register_exp(commands: Commands) -> None:
    p = commands.add(
        "exp", _usage, "Run and compare experiments (kept as git refs, as dvc keeps them)."
    )
    esub = p.add_subparsers(dest="exp_command", metavar="COMMAND")

    def sub_cmd(
        name: str, handler: Handler, help: str, aliases: Sequence[str] = ()
    ) -> argparse.ArgumentParser:
        sp = esub.add_parser(name, help=help, description=help, aliases=list(aliases))
        sp.set_defaults(func=handler)
        sp.add_argument("-q", "--quiet", action="store_true", help="print only errors")
        return sp

    r = sub_cmd("run", cmd_exp_run, "Run an experiment: set params, reproduce, keep the result.")
    r.add_argument("targets", nargs="*", help="stages to reproduce (default: all)")
    r.add_argument(
        "-S",
        "--set-param",
        action="append",
        default=[],
        metavar="[FILE:]KEY=VALUE",
        help="set a param for this experiment (+KEY=VALUE adds a new one)",
    )
    r.add_argument("-n", "--name", help="the experiment's name (default: a random one)")
    r.add_argument(
        "--queue",
        action="store_true",
        help="queue it instead, for 'queue start' (in the background) or --run-all",
    )
    r.add_argument("--run-all", action="store_true", help="run every queued experiment")
    r.add_argument("-j", "--jobs", type=int, default=1, help="experiments (or stages) at once")
    r.add_argument("-f", "--force", action="store_true", help="replace an experiment of that name")

    s = sub_cmd("show", cmd_exp_show, "Show experiments with their metrics and params.")
    fmt = s.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print as JSON")
    fmt.add_argument("--csv", action="store_true", help="print as CSV")
    fmt.add_argument("--md", action="store_true", help="print as a markdown table")
    s.add_argument("-A", "--all-commits", action="store_true", help="every commit as a baseline")
    s.add_argument("-a", "--all-branches", action="store_true", help="every branch's tip")
    s.add_argument("-T", "--all-tags", action="store_true", help="every tag")
    s.add_argument("--rev", action="append", metavar="<commit>", help="baseline (default HEAD)")
    s.add_argument(
        "-n", "--num", type=int, default=1, metavar="<num>", help="that many first parents"
    )
    s.add_argument("--hide-workspace", action="store_true", help="no workspace row")
    s.add_argument("--sha", action="store_true", help="commit ids, not branch or tag names")
    s.add_argument("--param-deps", action="store_true", help="only params stages depend on")
    s.add_argument("--only-changed", action="store_true", help="only columns whose values differ")
    s.add_argument("--sort-by", metavar="<metric/param>", help="sort each baseline's experiments")
    s.add_argument("--sort-order", choices=("asc", "desc"), default="asc")
    s.add_argument("--keep", action="append", default=[], metavar="<regex>", help="keep columns")
    s.add_argument("--drop", action="append", default=[], metavar="<regex>", help="drop columns")
    s.add_argument("--precision", type=int, metavar="<n>", help="digits of floats (default 5)")
    # bale never pages: accepted so that dvc's command lines run unchanged
    s.add_argument("--no-pager", action="store_true", help=argparse.SUPPRESS)

    d = sub_cmd("diff", cmd_exp_diff, "Compare the params and metrics of two experiments.")
    d.add_argument("a_rev", nargs="?", help="an experiment or revision (default: HEAD)")
    d.add_argument("b_rev", nargs="?", help="an experiment or revision (default: the workspace)")
    d.add_argument("--json", action="store_true", help="print as JSON")
    d.add_argument("--md", action="store_true", help="print as markdown tables")
    d.add_argument("--all", action="store_true", help="unchanged params and metrics too")
    d.add_argument("--no-path", action="store_true", help="no Path column")
    d.add_argument("--param-deps", action="store_true", help="only params stages depend on")
    d.add_argument("--precision", type=int, metavar="<n>", help="digits of metrics (default 5)")

    a = sub_cmd("apply", cmd_exp_apply, "Put an experiment's results into the workspace.")
    a.add_argument("experiment")
    a.add_argument(
        "-f", "--force", action="store_true", help="overwrite uncommitted changes to its files"
    )
    b = sub_cmd("branch", cmd_exp_branch, "Make a git branch from an experiment.")
    b.add_argument("experiment")
    b.add_argument("branch")
    ls = sub_cmd("list", cmd_exp_list, "List experiments, here or on a git remote.", aliases=["ls"])
    ls.add_argument(
        "git_remote",
        nargs="?",
        metavar="<git_remote>",
        help="a git remote's name or URL: list its experiments instead",
    )
    _rev_selection(ls, "List")
    shown = ls.add_mutually_exclusive_group()
    shown.add_argument(
        "--name-only", "--names-only", action="store_true", help="only experiment names"
    )
    shown.add_argument(
        "--sha-only", "--shas-only", action="store_true", help="only experiment commit ids"
    )

    sv = sub_cmd(
        "save", cmd_exp_save, "Save the workspace as an experiment of HEAD, without running."
    )
    sv.add_argument(
        "targets", nargs="*", help="commit only these stages and .dvc files (default: all)"
    )
    sv.add_argument(
        "-R",
        "--recursive",
        action="store_true",
        help="a directory target stands for every stage and .dvc file inside it",
    )
    sv.add_argument("-n", "--name", metavar="<name>", help="its name (default: a random one)")
    sv.add_argument("-f", "--force", action="store_true", help="replace an experiment of that name")
    sv.add_argument("--json", action="store_true", help="print its commit id as JSON")
    sv.add_argument(
        "-I",
        "--include-untracked",
        action="append",
        default=[],
        metavar="<path>",
        help="an untracked (or ignored) path to include in its commit",
    )
    sv.add_argument("-m", "--message", metavar="<message>", help="its commit message")
    sv.add_argument("-M", dest="message", help=argparse.SUPPRESS)  # dvc's obsolete spelling

    for verb, handler, help_ in (
        ("push", cmd_exp_push, "Push experiments to a git remote, and their data to a dvc remote."),
        (
            "pull",
            cmd_exp_pull,
            "Pull experiments from a git remote, and their data into the cache.",
        ),
    ):
        sp = sub_cmd(verb, handler, help_)
        _rev_selection(sp, verb.capitalize())
        sp.add_argument(
            "-f",
            "--force",
            action="store_true",
            help=f"replace the {'remote' if verb == 'push' else 'local'} experiment of that name",
        )
        sp.add_argument(
            "--no-cache",
            action="store_false",
            dest="cache",
            help=f"do not {verb} the experiments' cached outputs",
        )
        sp.add_argument(
            "-r", "--remote", dest="dvc_remote", metavar="<name>", help="the dvc remote to use"
        )
        sp.add_argument(
            "-j", "--jobs", type=int, metavar="<number>", help="transfers at once (dvc remote)"
        )
        sp.add_argument(
            "--run-cache",
            action=argparse.BooleanOptionalAction,
            default=False,
            help=f"{verb} the run cache of every stage too",
        )
        sp.add_argument("git_remote", metavar="<git_remote>", help="a git remote's name or URL")
        sp.add_argument("experiment", nargs="*", metavar="<experiment>", help="experiments")

    ex = sub_cmd(
        "export",
        cmd_exp_export,
        "Export experiments to MLflow: one run each, with params, metrics, data and models.",
    )
    ex.add_argument(
        "--mlflow",
        action="store_true",
        help="as MLflow runs (matched by commit on a re-run: nothing is logged twice)",
    )
    ex.add_argument(
        "--tracking-uri",
        metavar="<uri>",
        help="the MLflow tracking server or store (default: MLflow's, MLFLOW_TRACKING_URI); "
        "one retry unless MLFLOW_HTTP_REQUEST_MAX_RETRIES says otherwise",
    )
    ex.add_argument(
        "--experiment",
        dest="to",
        metavar="<name>",
        help="the MLflow experiment (default: the repository's directory name)",
    )
    ex.add_argument(
        "--json",
        action="store_true",
        help="print each experiment's run (id, created/updated/unchanged) as JSON, by name",
    )
    ex.add_argument(
        "experiment", nargs="*", metavar="<experiment>", help="experiments (default: all)"
    )

    rm = sub_cmd("remove", cmd_exp_remove, "Delete experiments.", aliases=["rm"])
    rm.add_argument("experiment", nargs="*", metavar="<experiment>", help="experiments to delete")
    _rev_selection(rm, "Remove")
    # before dvc's -A/--all-commits, bale spelled it --all: still taken
    rm.add_argument("--all", action="store_true", dest="all_commits", help=argparse.SUPPRESS)
    rm.add_argument(
        "--keep", action="store_true", help="delete every experiment but the selected ones"
    )
    where = rm.add_mutually_exclusive_group()
    where.add_argument("--queue", action="store_true", help="empty the queue")
    where.add_argument(
        "-g",
        "--git-remote",
        metavar="<git_remote>",
        help="delete the experiments on this git remote (a name or URL) instead",
    )

    sub_cmd(
        "clean",
        cmd_exp_clean,
        "Remove what killed experiment runs left behind (worktrees, temporary index files).",
    )

    rn = sub_cmd("rename", cmd_exp_rename, "Rename an experiment.")
    rn.add_argument("-f", "--force", action="store_true", help="replace an experiment of that name")
    rn.add_argument(
        "-g",
        "--git-remote",
        metavar="<git_remote>",
        help="the experiment must be one of this git remote's too (the remote keeps its name)",
    )
    # optional as in dvc, which says what is missing in its own words
    rn.add_argument(
        "experiment", nargs="?", metavar="<experiment>", help="the experiment to rename"
    )
    rn.add_argument("name", nargs="?", metavar="<name>", help="its new name")
