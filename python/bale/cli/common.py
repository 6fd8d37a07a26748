"""What every command group shares: the registrar that builds a command's
sub-parser, the repository opener, the flags several commands take, and
the printing helpers that make bale's output dvc's.

Handlers import their :mod:`bale.ops` module (and :mod:`bale.repo`) when
they run, not at the top of their module: importing every verb costs about
0.4 s at each start, against 0.05 s for the one being run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale.console import human_size as human_size  # the commands that print sizes import it here
from bale.console import warn
from bale.exceptions import BaleError

if TYPE_CHECKING:
    from bale.index import Scope
    from bale.ops.checkout import CheckoutResult
    from bale.repo import Repo

Handler = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """bale's parsers: a usage error is the usage and one ``ERROR:`` line,
    exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"ERROR: {message}", file=sys.stderr)
        raise SystemExit(2)


class _Skipped:
    """Stands in for the parser of a command that is not being run: every
    call on it is accepted and does nothing."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self

    def __iter__(self) -> Any:
        return iter(())


class Commands:
    """bale's sub-parsers, as the command groups add to them. With ``only``
    (the command being run) only that command's parser is built: building
    them all costs tens of milliseconds at every start."""

    def __init__(self, sub: argparse._SubParsersAction[Parser], only: str | None) -> None:
        self.sub = sub
        self.only = only
        self.built: list[str] = []

    def add(
        self, name: str, handler: Handler, help: str, aliases: Sequence[str] = ()
    ) -> argparse.ArgumentParser:
        """The sub-parser of command ``name`` (also called ``aliases``, as
        dvc's ``mv`` is ``move``), run by ``handler``."""
        if self.only is not None and self.only not in (name, *aliases):
            return _Skipped()  # type: ignore[return-value]
        self.built.append(name)
        p = self.sub.add_parser(name, help=help, description=help, aliases=list(aliases))
        p.set_defaults(func=handler)
        # SUPPRESS: not given after the command, they keep what was given
        # before it ("bale -v pull"), as dvc takes them in either place.
        keep = argparse.SUPPRESS
        p.add_argument("-q", "--quiet", action="store_true", default=keep, help="print only errors")
        p.add_argument("-v", "--verbose", action="store_true", default=keep, help="print more")
        return p


def open_repo() -> Repo:
    """The repository around the current directory."""
    from bale.repo import Repo

    return Repo()


# ---------------------------------------------------------------------------
# flags more than one command takes


def scope_flags(p: argparse.ArgumentParser, what: str) -> None:
    """``-a/-T/-A/--rev``: the revisions whose data a command also covers."""
    p.add_argument(
        "-a", "--all-branches", action="store_true", help=f"{what} of every branch's head too"
    )
    p.add_argument("-T", "--all-tags", action="store_true", help=f"{what} of every tag too")
    p.add_argument("-A", "--all-commits", action="store_true", help=f"{what} of every commit too")
    p.add_argument("--rev", action="append", metavar="REV", help=f"{what} of this git revision too")


def scope_of(args: argparse.Namespace, workspace: bool = True) -> Scope:
    """The :class:`Scope` that :func:`scope_flags` asked for."""
    from bale.index import Scope

    return Scope(
        workspace=workspace,
        all_branches=args.all_branches,
        all_tags=args.all_tags,
        all_commits=args.all_commits,
        revs=tuple(args.rev or ()),
    )


def level_flags(p: argparse.ArgumentParser, sub: bool = False) -> None:
    """``--global/--system/--project/--local``: which config file (``level``)."""
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


# ---------------------------------------------------------------------------
# printing


def say(args: argparse.Namespace, text: str) -> None:
    """Prints ``text`` unless ``-q``."""
    if not getattr(args, "quiet", False):
        print(text)


def tell(args: argparse.Namespace, text: str) -> None:
    """What bale did where dvc shows only a progress bar (add, commit): on
    stderr, so that stdout is what dvc prints, for a script that reads it."""
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr)


def warn_if(warning: str | None) -> None:
    if warning:
        warn(warning)


def print_json(data: Any) -> None:
    """bale's own ``--json``: indented, non-ASCII kept."""
    print(json.dumps(data, indent=2, ensure_ascii=False))


def rel_cwd(root: Path, path: str) -> str:
    """A repository-relative path as dvc prints it: relative to where it runs."""
    return Path(os.path.relpath(root / path)).as_posix()


def git_add_hint(root: Path, files: Iterable[str]) -> str:
    """dvc's hint to stage what a command changed (and to let bale do it):
    repository-relative ``files`` named from the current directory and
    shell-quoted, so that pasting it works for any name."""
    # sorted: dvc names them in the order of a Python set, which changes from run to run
    named = sorted(rel_cwd(root, f) for f in files)
    return (
        "\nTo track the changes with git, run:\n\n\tgit add "
        + " ".join(map(shlex.quote, named))
        # dvc's words, naming bale's own command as bale's hints do
        + "\n\nTo enable auto staging, run:\n\n\tbale config core.autostage true"
    )


def summary(counts: Iterable[tuple[str, int]]) -> str:
    """dvc's ``get_summary``: "4 files fetched, 1 file modified and 2 files
    added", leaving out the zeros ("" when all are)."""
    words = [f"{n} file{'s' if n > 1 else ''} {what}" for what, n in counts if n]
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


def file_counts(r: CheckoutResult) -> list[tuple[str, int]]:
    """The files a checkout changed, by kind, in dvc's order."""
    return [("modified", len(r.modified)), ("added", len(r.added)), ("deleted", len(r.deleted))]


def log_changes(root: Path, r: CheckoutResult) -> None:
    """dvc's ``log_changes``: one line per changed output, modified ones
    first, then added; directories first in each, with a trailing slash.
    dvc writes a tab, which its console (rich) expands to spaces."""
    for kind in ("modified", "added", "deleted"):
        paths = [
            rel_cwd(root, o.path) + ("/" if o.is_dir else "") for o in r.outputs if o.kind == kind
        ]
        for p in sorted(paths, key=lambda p: (not p.endswith("/"), p)):
            print(f"{kind[0].upper():<8}{p}")


def source_remote_args(p: argparse.ArgumentParser) -> None:
    """dvc's ``--remote``, ``--config`` and ``--remote-config`` of ``get``,
    ``import`` and ``artifacts get``: where the source's data comes from."""
    p.add_argument(
        "--remote", help="the source's remote to download from (default: its default remote)"
    )
    p.add_argument(
        "--config",
        metavar="<path>",
        help="a config file merged over the source repository's config",
    )
    p.add_argument(
        "--remote-config",
        nargs="*",
        metavar="KEY=VALUE",
        help="options merged over the source's remote's (--remote's, else its default)",
    )


def remote_options(args: argparse.Namespace) -> dict[str, str] | None:
    """``--remote-config``'s ``key=value`` pairs (None: not given)."""
    pairs = getattr(args, "remote_config", None)
    if pairs is None:
        return None
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BaleError(f"--remote-config: '{pair}' is not KEY=VALUE")
        options[key] = value
    return options
