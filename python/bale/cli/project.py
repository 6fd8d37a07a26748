"""The repository itself: ``root``."""

from __future__ import annotations

import argparse
import os

from bale.cli.common import Commands


def cmd_root(args: argparse.Namespace) -> int:
    from bale.repo import find_root

    # dvc's relpath: "." at the root, "../.." two levels below it.
    print(os.path.relpath(find_root()))
    return 0


def register(commands: Commands) -> None:
    commands.add("root", cmd_root, "Print the relative path to the root of the repository.")
