"""Data at a URL: ``import-url``, ``get-url``, ``ls-url`` (``list-url``).

The flags are dvc 3.67.1's; those bale does not implement (``--to-remote``,
``-r``, ``--version-aware``) are accepted by the parser and refused by name,
never ignored.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from bale.cli.common import Commands, git_add_hint, open_repo, rel_cwd, say
from bale.exceptions import BaleError

if TYPE_CHECKING:
    from bale.remotes import Remote
    from bale.remotes.urls import Node


class _KeyValues(argparse.Action):
    """``--fs-config a=1 b=2`` as a mapping (dvc's ``DictAction``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        found = dict(getattr(namespace, self.dest, None) or {})
        for item in values if isinstance(values, list) else [values]:
            key, sep, value = str(item).partition("=")
            if not sep or not key:
                parser.error(f"{option_string}: expected <name>=<value>, got '{item}'")
            found[key] = value
        setattr(namespace, self.dest, found)


def _refuse(args: argparse.Namespace, *flags: tuple[str, str]) -> None:
    """Fails on a dvc flag bale does not implement, rather than ignoring it."""
    for dest, flag in flags:
        if getattr(args, dest, None):
            raise BaleError(f"{args.command}: {flag} is not supported by bale")


def cmd_import_url(args: argparse.Namespace) -> int:
    from bale.ops.urls import import_url

    _refuse(args, ("to_remote", "--to-remote"), ("remote", "--remote"))
    _refuse(args, ("version_aware", "--version-aware"))
    repo = open_repo()
    r = import_url(
        repo,
        args.url,
        args.out,
        no_exec=args.no_exec,
        no_download=args.no_download,
        jobs=args.jobs,
        force=args.force,
        fs_config=args.fs_config,
    )
    if not args.no_exec:
        say(args, f"Importing '{args.url}' -> '{rel_cwd(repo.root, r.path)}'")
    if not repo.config.core_autostage() and not args.quiet:
        from bale import scm

        if (repo.root / ".git").exists() and scm.uses_git(repo):
            print(git_add_hint(repo.root, [r.dvcfile, *([r.gitignore] if r.gitignore else [])]))
    return 0


def _remotes(url: str) -> Callable[[str], Remote] | None:
    """For a ``remote://`` URL, the repository's remotes (dvc reads them
    from the config of the repository around the current directory)."""
    if not url.startswith("remote://"):
        return None
    from bale.ops.urls import remotes_of

    return remotes_of(open_repo())


def cmd_get_url(args: argparse.Namespace) -> int:
    from bale.ops.urls import get_url

    get_url(
        args.url,
        args.out,
        jobs=args.jobs,
        force=args.force,
        fs_config=args.fs_config,
        remotes=_remotes(args.url),
    )
    return 0


def cmd_ls_url(args: argparse.Namespace) -> int:
    from bale.ops.urls import ls_url, ls_url_tree

    if args.tree:
        tree = ls_url_tree(
            args.url, maxdepth=args.level, fs_config=args.fs_config, remotes=_remotes(args.url)
        )
        rows = _tree_rows(tree)
    else:
        entries = ls_url(
            args.url,
            recursive=args.recursive,
            maxdepth=args.level,
            fs_config=args.fs_config,
            remotes=_remotes(args.url),
        )
        rows = [(_size(e.size, e.isdir), e.path) for e in entries]
    if args.size:
        width = max((len(size) for size, _ in rows), default=0)
        for size, name in rows:
            print(f"{size:>{width}}  {name}")
    elif rows:
        print("\n".join(name for _, name in rows))
    return 0


def _tree_rows(node: Node, depth: int = 0, prefix: str = "") -> list[tuple[str, str]]:
    """dvc's ``show_tree`` drawing: the root, then each level under
    ``├──``/``└──`` with ``│`` rails for the levels still open."""
    rows = [(_size(node.size, node.isdir), node.name)] if depth == 0 else []
    for i, child in enumerate(node.children):
        last = i == len(node.children) - 1
        rows.append(
            (_size(child.size, child.isdir), prefix + ("└── " if last else "├── ") + child.name)
        )
        rows += _tree_rows(child, depth + 1, prefix + ("    " if last else "│   "))
    return rows


def _size(size: int | None, isdir: bool) -> str:
    """dvc's ``naturalsize`` (tqdm's ``format_sizeof`` in units of 1024)."""
    if size is None or (size <= 0 and isdir):
        return ""
    num = float(size)
    if num < 1024:
        return f"{num:.0f}"
    for unit in ("", "k", "M", "G", "T", "P", "E", "Z"):
        if abs(num) < 999.5:
            if abs(num) < 99.95:
                return f"{num:1.2f}{unit}" if abs(num) < 9.995 else f"{num:2.1f}{unit}"
            return f"{num:3.0f}{unit}"
        num /= 1024
    return f"{num:3.1f}Y"


def _fs_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fs-config",
        nargs="*",
        action=_KeyValues,
        metavar="<name>=<value>",
        help="options for the URL's storage, as a remote's (endpointurl, keyfile, user, ...)",
    )


def _jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        metavar="<number>",
        help="parallel downloads (default 16 per core)",
    )


URL_HELP = (
    "a local path, file://, s3://bucket/key, gs://bucket/key, azure://container/key, "
    "ssh://[user@]host/path, webdav(s)://host/path, http(s)://host/path or "
    "remote://<name>/path"
)


def register(commands: Commands) -> None:
    p = commands.add(
        "import-url",
        cmd_import_url,
        "Download a file or directory from a URL and track it with an import .dvc file.",
    )
    p.add_argument("url", help=URL_HELP)
    p.add_argument("out", nargs="?", help="where to put it (default: the URL's last name here)")
    p.add_argument("--to-remote", action="store_true", help="(dvc's; not supported by bale)")
    p.add_argument("-r", "--remote", metavar="<name>", help="(dvc's; not supported by bale)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--no-exec", action="store_true", help="write the .dvc file only")
    g.add_argument(
        "--no-download",
        action="store_true",
        help="record the source's checksum in the .dvc file, download nothing",
    )
    _jobs(p)
    p.add_argument("-f", "--force", action="store_true", help="overwrite what is at the output")
    p.add_argument("--version-aware", action="store_true", help="(dvc's; not supported by bale)")
    _fs_config(p)

    p = commands.add("get-url", cmd_get_url, "Download a file or directory from a URL, untracked.")
    p.add_argument("url", help=URL_HELP)
    p.add_argument("out", nargs="?", help="where to put it (default: the URL's last name here)")
    _jobs(p)
    p.add_argument("-f", "--force", action="store_true", help="overwrite what is at the output")
    _fs_config(p)

    for name in ("ls-url", "list-url"):
        p = commands.add(name, cmd_ls_url, "List what a URL holds.")
        p.add_argument("url", help=URL_HELP)
        p.add_argument(
            "-R", "--recursive", action="store_true", help="list files in subdirectories"
        )
        p.add_argument("-T", "--tree", action="store_true", help="draw what it holds as a tree")
        p.add_argument(
            "-L", "--level", type=int, metavar="depth", help="list at most this many levels down"
        )
        p.add_argument("--size", action="store_true", help="show sizes")
        _fs_config(p)
