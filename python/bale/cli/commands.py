"""One handler per command. Handlers parse nothing and decide nothing: they
call :mod:`bale.ops` and print what came back."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale.console import debug, warn
from bale.exceptions import BaleError

if TYPE_CHECKING:
    from bale.ops.outputs import Scope

Handler = Callable[[argparse.Namespace], int]


def _repo() -> Any:
    from bale.repo import Repo

    return Repo()


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text)


def _tell(args: argparse.Namespace, text: str) -> None:
    """What bale did where dvc shows only a progress bar (add, commit): on
    stderr, so that stdout is what dvc prints, for a script that reads it."""
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr)


def _warn(warning: str | None) -> None:
    if warning:
        warn(warning)


def _json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def cmd_init(args: argparse.Namespace) -> int:
    from bale.ops.init import init, made

    repo = init(Path(args.path), no_scm=args.no_scm, hash_name=args.hash, force=args.force)
    _say(args, made(repo.root, hash_name=args.hash, no_scm=args.no_scm))
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from bale.ops.add import add

    repo = _repo()
    results = add(repo, args.targets, glob=args.glob)
    if args.json:
        _json([asdict(r) for r in results])
        return 0
    for r in results:
        files = f"{r.nfiles:,} files, " if r.nfiles is not None else ""
        _tell(args, f"added {r.path} ({files}{human_size(r.size)}; {r.stored:,} newly cached)")
    if not repo.config.core_autostage() and not args.quiet:
        stage = sorted({r.dvcfile for r in results} | {r.gitignore for r in results if r.gitignore})
        from bale import scm

        if (repo.root / ".git").exists() and scm.uses_git(repo):
            print(git_add_hint(repo.root, stage))
    return 0


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


def _cloud_status(args: argparse.Namespace) -> int:
    from bale.ops.status import cloud_status, has_stages

    repo = _repo()
    result = cloud_status(
        repo, args.targets, remote=args.remote, jobs=args.jobs, scope=_scope(args)
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
        _say(args, f"Cache and remote {names} are in sync.")
        return 0
    for name, state in result.states.items():
        print(f"\t{state + ':':<20}{name}")
    return 0


def git_add_hint(root: Path, files: Iterable[str]) -> str:
    """dvc's hint to stage what a command changed (and to let bale do it):
    repository-relative ``files`` named from the current directory and
    shell-quoted, so that pasting it works for any name."""
    import shlex

    # sorted: dvc names them in the order of a Python set, which changes from run to run
    named = sorted(_rel_cwd(root, f) for f in files)
    return (
        "\nTo track the changes with git, run:\n\n\tgit add "
        + " ".join(map(shlex.quote, named))
        # dvc's words, naming bale's own command as bale's hints do
        + "\n\nTo enable auto staging, run:\n\n\tbale config core.autostage true"
    )


def cmd_status(args: argparse.Namespace) -> int:
    from bale.ops.status import has_stages, status

    if args.cloud:
        return _cloud_status(args)
    repo = _repo()
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


def _rel_cwd(root: Path, path: str) -> str:
    """A repository-relative path as dvc prints it: relative to where it runs."""
    return Path(os.path.relpath(root / path)).as_posix()


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
        out[_rel_cwd(root, key)] = [
            {
                w: {_rel_cwd(root, k): v for k, v in changed.items()}
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


def _summary(counts: Iterable[tuple[str, int]]) -> str:
    """dvc's ``get_summary``: "4 files fetched, 1 file modified and 2 files
    added", leaving out the zeros ("" when all are)."""
    words = [f"{n} file{'s' if n > 1 else ''} {what}" for what, n in counts if n]
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


def _log_changes(root: Path, r: Any) -> None:
    """dvc's ``log_changes``: one line per changed output, modified ones
    first, then added; directories first in each, with a trailing slash.
    dvc writes a tab, which its console (rich) expands to spaces."""
    for kind in ("modified", "added", "deleted"):
        paths = [
            _rel_cwd(root, o.path) + ("/" if o.is_dir else "") for o in r.outputs if o.kind == kind
        ]
        for p in sorted(paths, key=lambda p: (not p.endswith("/"), p)):
            print(f"{kind[0].upper():<8}{p}")


def _file_counts(r: Any) -> list[tuple[str, int]]:
    """The files a checkout changed, by kind, in dvc's order."""
    return [("modified", len(r.modified)), ("added", len(r.added)), ("deleted", len(r.deleted))]


def cmd_checkout(args: argparse.Namespace) -> int:
    from bale.ops.checkout import CheckoutIncompleteError, checkout

    repo = _repo()
    try:
        r = checkout(repo, args.targets, force=args.force, relink=args.relink)
    except CheckoutIncompleteError as e:
        # dvc names what it did check out before it fails.
        if not args.json and not args.quiet:
            _report_checkout(args, repo.root, e.result)
        raise
    if args.json:
        _json({"added": r.added, "modified": r.modified, "deleted": r.deleted})
        return 0
    if not args.quiet:
        _report_checkout(args, repo.root, r)
        if args.relink:
            print("Relinked successfully")
    return 0


def _report_checkout(args: argparse.Namespace, root: Path, r: Any) -> None:
    if args.summary:
        print(_summary(_file_counts(r)) or "No changes.")
    else:
        _log_changes(root, r)


def cmd_commit(args: argparse.Namespace) -> int:
    from bale.ops.commit import commit

    for r in commit(_repo(), args.targets):
        _tell(args, f"committed {r.path} ({r.stored:,} newly cached)")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from bale.ops.diff import diff

    # dvc's CmdDiff: between two revisions "not in cache" is not shown.
    hide_missing = bool(args.b_rev) or args.hide_missing
    result = diff(_repo(), args.a_rev, args.b_rev, args.targets)
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

    for p in remove(_repo(), args.targets, outs=args.outs):
        _say(args, f"removed {p.name}")
    return 0


def cmd_unprotect(args: argparse.Namespace) -> int:
    from bale.ops.unprotect import unprotect

    n = unprotect(_repo(), args.targets)
    _say(args, f"unprotected {n:,} file(s)")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from bale.ops.gc import gc

    repo = _repo()
    scope = _scope(args, workspace=args.workspace)
    if not (scope.workspace or scope.revisions):
        raise BaleError("gc needs a scope: use -w, -a, -T, -A or --rev to say what to keep")
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
    )
    if args.json:
        _json(
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
    _say(
        args,
        f"{verb} {r.removed:,} objects ({human_size(r.bytes)}) from the cache; kept {r.kept:,}",
    )
    if r.compacted:
        compacted = "would compact" if r.dry else "compacted"
        _say(
            args,
            f"{compacted} {r.compacted:,} files not in the workspace to chunks: "
            f"{human_size(r.compacted_bytes)} freed, {human_size(r.chunk_bytes)} of chunks written",
        )
    for g in r.remotes:
        _say(args, f"{verb} {g.removed:,} objects ({human_size(g.bytes)}) from remote '{g.remote}'")
    return 0


def cmd_du(args: argparse.Namespace) -> int:
    from bale.ops.du import du

    r = du(
        _repo(),
        args.targets,
        scope=_scope(args),
        cloud=args.cloud or args.remote is not None,
        remote=args.remote,
        jobs=args.jobs,
    )
    if args.json:
        _json(
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


def _positive(kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be a finite number above 0: {text!r}")
        return value

    return parse


def cmd_serve(args: argparse.Namespace) -> int:
    from bale.remotes.serve import resolve_token, serve

    token = resolve_token(args.token, args.token_file)
    host = f"[{args.host}]" if ":" in args.host else args.host

    def ready(port: int) -> None:
        _say(args, f"Serving {args.folder} at http://{host}:{port}/ (Ctrl-C to stop)")

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


def cmd_cache_dir(args: argparse.Namespace) -> int:
    repo = _repo()
    level = args.level or "repo"
    if args.unset:
        repo.config.unset("cache.dir", level=level)
    elif args.value is not None:
        repo.config.set("cache.dir", args.value, level=level)
    else:
        print(repo.cache_dir)
    return 0


def _config_for(args: argparse.Namespace) -> Any:
    from bale.config import Config
    from bale.repo import find_root

    try:
        return Config.load(find_root() / ".dvc")
    except BaleError:
        if args.level in ("global", "system"):
            return Config.load(None)
        raise


def _shown_origin(config: Any, path: Path | None) -> str:
    """A config file as ``dvc config --show-origin`` names it: inside the
    repository relative to its root, elsewhere absolute."""
    if path is not None and config.dvc_dir is not None:
        root = config.dvc_dir.parent
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return str(path)


def cmd_config(args: argparse.Namespace) -> int:
    config = _config_for(args)
    level = args.level
    if args.list:
        for key, value, path in config.entries(level):
            if args.show_origin:
                print(f"{_shown_origin(config, path)}\t{key}={value}")
            else:
                print(f"{key}={value}")
        return 0
    if not args.name:
        raise BaleError("config: give a name (section.option), or -l to list")
    if args.unset:
        config.unset(args.name, level=level or "repo")
        return 0
    if args.value is None:
        value = config.get(args.name, level)
        if value is None:
            raise BaleError(f"config: '{args.name}' is not set")
        if args.show_origin:
            print(f"{_shown_origin(config, config.origin(args.name, level))}\t{value}")
        else:
            print(value)
        return 0
    from bale.ops.remote import check_setting

    # `config remote.<name>.<option>` is held to what `remote modify` is
    warning = check_setting(config, args.name, args.value)
    config.set(args.name, args.value, level=level or "repo")
    _warn(warning)
    return 0


def _transfer_summary(
    args: argparse.Namespace, verb: str, r: Any, root: Path | None = None
) -> None:
    """What a push, fetch or pull did (a pull also names the outputs it
    checked out, relative to ``root``), as dvc says it."""
    if args.json:
        _json(
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
    # object too; the bytes and the time are told with -v.
    debug(
        f"{verb} {r.copied:,} objects, {human_size(r.bytes)} in {r.seconds:.1f} s; "
        f"{r.present:,} were there already"
    )
    counts = [(verb, r.copied)]
    if r.checked_out is not None and root is not None:
        if not args.quiet:
            _log_changes(root, r.checked_out)
        counts += _file_counts(r.checked_out)
    _say(args, _summary(counts) or "Everything is up to date.")


def _scope(args: argparse.Namespace, workspace: bool = True) -> Scope:
    from bale.ops.outputs import Scope

    return Scope(
        workspace=workspace,
        all_branches=args.all_branches,
        all_tags=args.all_tags,
        all_commits=args.all_commits,
        revs=tuple(args.rev or ()),
    )


def _scope_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "-a", "--all-branches", action="store_true", help=f"{what} of every branch's head too"
    )
    p.add_argument("-T", "--all-tags", action="store_true", help=f"{what} of every tag too")
    p.add_argument("-A", "--all-commits", action="store_true", help=f"{what} of every commit too")
    p.add_argument("--rev", action="append", metavar="REV", help=f"{what} of this git revision too")


def cmd_push(args: argparse.Namespace) -> int:
    from bale.ops.transfer import push

    r = push(
        _repo(),
        args.targets,
        remote=args.remote,
        jobs=args.jobs,
        scope=_scope(args),
        run_cache=args.run_cache,
    )
    _transfer_summary(args, "pushed", r)
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from bale.ops.transfer import fetch

    repo = _repo()
    r = fetch(
        repo,
        args.targets,
        remote=args.remote,
        jobs=args.jobs,
        scope=_scope(args),
        run_cache=args.run_cache,
    )
    _transfer_summary(args, "fetched", r)
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from bale.ops.transfer import PullIncompleteError, pull

    repo = _repo()
    try:
        r = pull(
            repo,
            args.targets,
            remote=args.remote,
            force=args.force,
            jobs=args.jobs,
            scope=_scope(args),
            run_cache=args.run_cache,
        )
    except PullIncompleteError as e:
        # dvc reports what it did fetch and check out before it fails.
        if not args.json:
            _transfer_summary(args, "fetched", e.result, repo.root)
        raise
    _transfer_summary(args, "fetched", r, repo.root)
    return 0


def cmd_remote(args: argparse.Namespace) -> int:
    from bale.ops import remote

    repo = _repo()
    level = args.level or "repo"
    if args.remote_command == "add":
        _warn(
            remote.add(
                repo, args.name, args.url, default=args.default, force=args.force, level=level
            )
        )
        if args.default and not args.quiet:
            print(f"Setting '{args.name}' as a default remote.")  # dvc's words
    elif args.remote_command == "remove":
        remote.remove(repo, args.name, level=level)
    elif args.remote_command == "modify":
        value = None if args.unset else args.value
        _warn(remote.modify(repo, args.name, args.option, value, level=level))
    elif args.remote_command == "rename":
        remote.rename(repo, args.name, args.new, level=level)
    elif args.remote_command == "default" and args.unset:
        remote.unset_default(repo, level=level)
    elif args.remote_command == "default":
        name = remote.default(repo, args.name, level=level)
        if args.name is None:
            if name is None:
                print("No default remote set")  # dvc's words, on stdout, exit 1
                return 1
            print(name)
    else:
        for name, url, default in remote.listing(repo, args.level):
            # dvc writes the line through rich, which expands the tabs to
            # 8-column stops (and wraps it at the terminal's width, which bale
            # does not: a URL cut in two is no use to a script or a reader).
            print((f"{name}\t{url}" + ("\t(default)" if default else "")).expandtabs(8))
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    import platform

    from bale import __version__

    print(f"bale {__version__}")
    print(f"Platform: Python {platform.python_version()} on {platform.platform()}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import platform

    from bale import __version__, _core

    report: dict[str, Any] = {
        "bale": __version__,
        "engine": _core.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "jobs": os.environ.get("BALE_JOBS") or os.cpu_count(),
    }
    try:
        repo = _repo()
    except BaleError:
        repo = None
    if repo is not None:
        report["repo"] = str(repo.root)
        report["cache"] = str(repo.cache_dir)
        report["hash"] = repo.default_hash
        report["cache.type"] = repo.config.cache_types()
        report["links that work"] = _core.probe_links(str(repo.cache_dir), str(repo.root))
        files = [*repo.config.files.values(), *repo.config.bale_files.values()]
        report["config files"] = [str(p) for p in files if p.exists()]
    if args.json:
        _json(report)
        return 0
    for k, v in report.items():
        print(f"{k + ':':<18}{', '.join(v) if isinstance(v, list) else v}")
    return 0


class _Skipped:
    """Stands in for the parser of a command that is not being run: every
    call on it is accepted and does nothing."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self

    def __iter__(self) -> Any:
        return iter(())


def register(sub: Any, only: str | None = None) -> None:
    """Adds every command to the parser's sub-parsers; with ``only`` (the
    command being run), only that one is built, unless it names none."""
    built: list[str] = []

    def command(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        if only is not None and name != only:
            return _Skipped()  # type: ignore[return-value]
        built.append(name)
        p: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=handler)
        # SUPPRESS: not given after the command, they keep what was given
        # before it ("bale -v pull"), as dvc takes them in either place.
        keep = argparse.SUPPRESS
        p.add_argument("-q", "--quiet", action="store_true", default=keep, help="print only errors")
        p.add_argument("-v", "--verbose", action="store_true", default=keep, help="print more")
        return p

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
    _scope_flags(p, "with -c, compare the data")

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

    p = command("gc", cmd_gc, "Delete cached data nothing references.")
    p.add_argument("-w", "--workspace", action="store_true", help="keep what the workspace uses")
    _scope_flags(p, "keep the data")
    p.add_argument(
        "-c", "--cloud", action="store_true", help="also delete unused data from the remote"
    )
    p.add_argument("-r", "--remote", help="remote to collect with -c (default: core.remote)")
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
    _scope_flags(p, "count the outputs")
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

    p = command("cache", lambda a: (a.cache_parser.print_help(), 2)[1], "Cache settings.")
    cache_sub = p.add_subparsers(dest="cache_command", metavar="COMMAND")
    p.set_defaults(cache_parser=p)
    d = cache_sub.add_parser("dir", help="Show or set the cache directory.")
    d.set_defaults(func=cmd_cache_dir, quiet=False)
    d.add_argument("value", nargs="?", help="new cache directory")
    d.add_argument("-u", "--unset", action="store_true", help="back to the default")
    _levels(d)

    p = command(
        "config", cmd_config, "Get, set or list configuration (dvc's files and bale's own)."
    )
    p.add_argument("name", nargs="?", help="section.option, e.g. cache.type or core.hash")
    p.add_argument("value", nargs="?", help="new value")
    p.add_argument("-u", "--unset", action="store_true", help="remove the option")
    p.add_argument("-l", "--list", action="store_true", help="list every option")
    p.add_argument("--show-origin", action="store_true", help="name the file each value comes from")
    _levels(p)

    for name, handler, help in (
        ("push", cmd_push, "Upload tracked data from the cache to a remote."),
        ("fetch", cmd_fetch, "Download tracked data from a remote into the cache."),
        ("pull", cmd_pull, "Fetch tracked data from a remote and check it out."),
    ):
        p = command(name, handler, help)
        p.add_argument("targets", nargs="*", help=".dvc files or outputs (default: all)")
        p.add_argument("-r", "--remote", help="remote name (default: core.remote)")
        p.add_argument("-j", "--jobs", type=int, help="parallel transfers (default: per core)")
        p.add_argument("--json", action="store_true", help="print the counts as JSON")
        _scope_flags(p, "the data")
        p.add_argument(
            "--run-cache", action="store_true", help="the run cache too (runs/ on the remote)"
        )
        if name == "pull":
            p.add_argument("-f", "--force", action="store_true", help="discard workspace changes")

    p = command("remote", cmd_remote, "Manage remotes (written to .dvc/config as dvc does).")
    _levels(p)
    rsub = p.add_subparsers(dest="remote_command", metavar="COMMAND")
    r = rsub.add_parser("add", help="Add a remote.")
    r.add_argument("name")
    r.add_argument(
        "url", help="a folder path (kept relative if relative), s3://bucket/prefix or http(s)://…"
    )
    r.add_argument("-d", "--default", action="store_true", help="make it the default remote")
    r.add_argument("-f", "--force", action="store_true", help="replace an existing remote")
    r = rsub.add_parser("remove", help="Remove a remote.")
    r.add_argument("name")
    r = rsub.add_parser("modify", help="Set or unset an option of a remote.")
    r.add_argument("name")
    r.add_argument("option")
    r.add_argument("value", nargs="?")
    r.add_argument("-u", "--unset", action="store_true")
    r = rsub.add_parser("default", help="Show, set or unset the default remote.")
    r.add_argument("name", nargs="?")
    r.add_argument("-u", "--unset", action="store_true", help="no default remote any more")
    r = rsub.add_parser("rename", help="Rename a remote (and core.remote if it is the default).")
    r.add_argument("name")
    r.add_argument("new")
    r = rsub.add_parser("list", help="List remotes.")
    for sp in rsub.choices.values():
        _levels(sp, sub=True)

    from bale.cli import experiments, pipeline

    pipeline.register(sub, command)
    experiments.register(sub, command)

    command("version", cmd_version, "Show bale's version and platform.")
    p = command(
        "doctor", cmd_doctor, "Show the platform, config files and which link types work here."
    )
    p.add_argument("--json", action="store_true", help="print as JSON")

    if only is not None and not built:
        register(sub)  # not a command: build them all, for argparse's message


def _levels(p: argparse.ArgumentParser, sub: bool = False) -> None:
    g = p.add_mutually_exclusive_group()
    if not sub:
        g.set_defaults(level=None)
    for level, help in (
        ("global", "the user's config"),
        ("system", "the machine's config"),
        ("project", "the repository's config (.dvc/config)"),
        ("local", "the repository's untracked config (.dvc/config.local)"),
    ):
        g.add_argument(
            f"--{level}",
            dest="level",
            action="store_const",
            const="repo" if level == "project" else level,
            # dvc takes the level before or after the subcommand: the
            # subcommand's copy must not reset what the parent parsed.
            default=argparse.SUPPRESS if sub else None,
            help=help,
        )
