"""``remote``: add, remove, modify, rename, list remotes and pick the
default (written to dvc's config files, as dvc writes them)."""

from __future__ import annotations

import argparse

from bale.cli.common import Commands, level_flags, open_repo, warn_if


def cmd_remote(args: argparse.Namespace) -> int:
    from bale.ops import remote

    repo = open_repo()
    level = args.level or "repo"
    if args.remote_command == "add":
        warn_if(
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
        warn_if(remote.modify(repo, args.name, args.option, value, level=level))
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


def register(commands: Commands) -> None:
    p = commands.add("remote", cmd_remote, "Manage remotes (written to .dvc/config as dvc does).")
    level_flags(p)
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
        level_flags(sp, sub=True)
