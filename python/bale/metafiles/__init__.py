"""DVC metafiles: ``.dvc`` files and ``.gitignore`` entries."""

from __future__ import annotations

from bale.metafiles.dvcfile import (
    DvcFile,
    Out,
    dump_dvcfile,
    dumps_dvcfile,
    dvcfile_path_for,
    load_dvcfile,
    loads_dvcfile,
)
from bale.metafiles.gitignore import git_ignored, ignore_in_git, unignore_in_git

__all__ = [
    "DvcFile",
    "Out",
    "dump_dvcfile",
    "dumps_dvcfile",
    "dvcfile_path_for",
    "git_ignored",
    "ignore_in_git",
    "load_dvcfile",
    "loads_dvcfile",
    "unignore_in_git",
]
