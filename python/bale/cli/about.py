"""About bale itself: ``version``, ``doctor`` and ``completion``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from bale import __version__
from bale.cli.common import Commands, open_repo, print_json
from bale.exceptions import BaleError


def cmd_version(args: argparse.Namespace) -> int:
    import platform

    print(f"bale {__version__}")
    print(f"Platform: Python {platform.python_version()} on {platform.platform()}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import platform

    from bale import _core

    report: dict[str, Any] = {
        "bale": __version__,
        "engine": _core.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "jobs": os.environ.get("BALE_JOBS") or os.cpu_count(),
    }
    try:
        repo = open_repo()
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
        print_json(report)
        return 0
    for k, v in report.items():
        print(f"{k + ':':<18}{', '.join(v) if isinstance(v, list) else v}")
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    from bale.cli.parser import build_parser

    # the whole grammar: this command's own parser was built alone
    parser = build_parser()
    _complete_files(parser, shtab.FILE)
    print(shtab.complete(parser, shell=args.shell), end="")
    return 0


def _complete_files(parser: argparse.ArgumentParser, files: Any) -> None:
    """Marks every positional argument without choices as a path, at every
    level of sub-commands: most are (targets, src, dst, URLs of local
    repositories), and for the others (a remote's name) files are what the
    shell would offer without a completion script at all."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _complete_files(sub, files)
        elif not action.option_strings and action.choices is None:
            action.complete = files  # type: ignore[attr-defined]


def register(commands: Commands) -> None:
    commands.add("version", cmd_version, "Show bale's version and platform.")
    p = commands.add(
        "doctor", cmd_doctor, "Show the platform, config files and which link types work here."
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p = commands.add(
        "completion",
        cmd_completion,
        "Print a shell tab-completion script, from bale's own grammar. "
        'Use: eval "$(bale completion -s bash)" in ~/.bashrc.',
    )
    p.add_argument(
        "-s",
        "--shell",
        choices=("bash", "zsh"),
        default="bash",
        help="the shell the script is for (default: bash)",
    )
