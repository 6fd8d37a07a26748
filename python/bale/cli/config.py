"""Settings: ``cache dir``, ``cache migrate`` and ``config`` (dvc's config
files and bale's own)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bale.cli.common import Commands, level_flags, open_repo, say, warn_if
from bale.exceptions import BaleError

if TYPE_CHECKING:
    from bale.config import Config
    from bale.repo import Repo


def _cache_usage(args: argparse.Namespace) -> int:
    args.cache_parser.print_help()
    return 2


def cmd_cache_migrate(args: argparse.Namespace) -> int:
    from bale.ops.cache_migrate import legacy_dvcfiles, legacy_stages, migrate

    repo = open_repo()
    result = migrate(repo, dry=args.dry)
    # dvc's words
    if args.dry:
        say(
            args,
            f"{result.found} files will be re-hashed and migrated to the DVC 3.0 cache location.",
        )
    else:
        say(args, f"Migrated {result.migrated} files to DVC 3.0 cache location.")
    if args.dvc_files:
        _migrate_dvcfiles(args, repo, legacy_dvcfiles(repo), legacy_stages(repo))
    return 0


def _migrate_dvcfiles(
    args: argparse.Namespace, repo: Repo, dvcfiles: list[Path], stages: list[str]
) -> None:
    """``--dvc-files``, as dvc/repo/commit.py ``commit_2_to_3`` prints it."""
    from bale import scm
    from bale.cli.common import git_add_hint, rel_cwd
    from bale.ops.cache_migrate import migrate_dvcfiles

    if stages:
        # refused before anything changes: a half-migrated project is worse
        raise BaleError(
            f"{stages[0]}: stage outputs hashed by DVC 2.x are not migrated by bale yet "
            "(bale commit of the stage records them again)"
        )
    names = [rel_cwd(repo.root, str(p.relative_to(repo.root))) for p in dvcfiles]
    if not dvcfiles:
        say(args, "No DVC files in the repo to migrate to the 3.0 format.")
        return
    if args.dry:
        say(args, "Entries in following DVC files will be migrated to the 3.0 format:")
        say(args, "\n".join(f"\t{n}" for n in sorted(names)))
        return
    changed = migrate_dvcfiles(repo, dvcfiles)
    for name in names:
        say(args, f"Updating DVC file '{name}'")
    if not args.quiet and not repo.config.core_autostage() and scm.uses_git(repo):
        print(git_add_hint(repo.root, [str(p) for p in changed]))


def cmd_cache_dir(args: argparse.Namespace) -> int:
    repo = open_repo()
    level = args.level or "repo"
    if args.unset:
        repo.config.unset("cache.dir", level=level)
    elif args.value is not None:
        repo.config.set("cache.dir", args.value, level=level)
    else:
        print(repo.cache_dir)
    return 0


def _config_for(args: argparse.Namespace) -> Config:
    from bale.config import Config
    from bale.repo import find_root

    try:
        return Config.load(find_root() / ".dvc")
    except BaleError:
        if args.level in ("global", "system"):
            return Config.load(None)
        raise


def _shown_origin(config: Config, path: Path | None) -> str:
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
        for key, setting, path in config.entries(level):
            if args.show_origin:
                print(f"{_shown_origin(config, path)}\t{key}={setting}")
            else:
                print(f"{key}={setting}")
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
    warn_if(warning)
    return 0


def register(commands: Commands) -> None:
    command = commands.add
    p = command("cache", _cache_usage, "Cache settings.")
    cache_sub = p.add_subparsers(dest="cache_command", metavar="COMMAND")
    p.set_defaults(cache_parser=p)
    d = cache_sub.add_parser("dir", help="Show or set the cache directory.")
    d.set_defaults(func=cmd_cache_dir, quiet=False)
    d.add_argument("value", nargs="?", help="new cache directory")
    m = cache_sub.add_parser(
        "migrate",
        help="Give DVC 2.x cache objects their DVC 3 (md5) names.",
        description="Hash every DVC 2.x cache object again with md5 and link it to its "
        "DVC 3 place in the cache (files/md5/), as dvc cache migrate.",
    )
    m.set_defaults(func=cmd_cache_migrate)
    m.add_argument("--dry", action="store_true", help="only count what would be migrated")
    m.add_argument(
        "--dvc-files",
        action="store_true",
        help="record the outputs of .dvc files with md5 too (their data must be in the workspace)",
    )
    d.add_argument("-u", "--unset", action="store_true", help="back to the default")
    level_flags(d)

    p = command(
        "config", cmd_config, "Get, set or list configuration (dvc's files and bale's own)."
    )
    p.add_argument("name", nargs="?", help="section.option, e.g. cache.type or core.hash")
    p.add_argument("value", nargs="?", help="new value")
    p.add_argument("-u", "--unset", action="store_true", help="remove the option")
    p.add_argument("-l", "--list", action="store_true", help="list every option")
    p.add_argument("--show-origin", action="store_true", help="name the file each value comes from")
    level_flags(p)
