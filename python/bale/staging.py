"""Staging directories: where a download is put together beside its
destination before one rename publishes it (``get``, ``import``,
``import-url``, ``get-url``).

Apart from :mod:`bale.ops` so that every verb can use it without importing
another verb (``status`` checks import-url sources through
:mod:`bale.ops.urls`, which must not reach :mod:`bale.repo`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bale.exceptions import TargetError

__all__ = [
    "COPY_TYPES",
    "checked_destination",
    "destination",
    "publish",
    "staging_dir",
    "sweep_dead",
]

#: Link types a copy out of a cache may use: never a link a later edit of
#: the copy could write through into the cache.
COPY_TYPES = ["reflink", "copy"]


def destination(name: str, out: str | os.PathLike[str] | None, named: str) -> Path:
    """Where a download called ``name`` (the basename of what is copied)
    lands, as dvc places it: at ``out``, inside it when it is an existing
    directory (as ``cp``), else ``name`` in the current directory; checked
    by :func:`checked_destination` (``named``: what the user gave)."""
    if not out:
        dest = Path(name)
    elif os.path.isdir(out):
        dest = Path(out) / name
    else:
        dest = Path(out)
    return checked_destination(Path(os.path.abspath(dest)), os.fspath(out or named))


def checked_destination(dest: Path, named: str) -> Path:
    """``dest`` (absolute), unless writing it could take what holds the
    user's work: no name (``.``, a bucket's root), or the current directory
    or one above it, which a replace (``-f``) would delete. ``named`` is what
    the user gave, for the message."""
    here = Path.cwd()
    if dest.name in ("", ".", "..") or here.is_relative_to(dest):
        raise TargetError(
            f"{named}: names no file or directory to write here ({dest}); give one with -o"
        )
    return dest


def publish(staged: Path, dest: Path) -> None:
    """Moves ``staged`` to ``dest``, replacing what is there: the old content
    is renamed aside first and put back if the move fails, so ``dest`` is at
    every moment old or new; what was aside is then removed."""
    aside = staged.with_name(staged.name + ".old")
    replacing = os.path.lexists(dest)
    if replacing:
        os.replace(dest, aside)
    try:
        os.replace(staged, dest)
    except BaseException:
        if replacing:
            os.replace(aside, dest)
        raise
    if replacing:
        if aside.is_dir() and not aside.is_symlink():
            shutil.rmtree(aside)
        else:
            aside.unlink()


def staging_dir(parent: Path, verb: str) -> Path:
    """A new temp directory in ``parent`` (``.bale-<verb>-<pid>-*``), after
    removing those a killed ``bale`` left there (its pid is gone): a
    download interrupted half-way leaves nothing behind once rerun."""
    prefix = f".bale-{verb}-"
    sweep_dead(parent, prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def sweep_dead(parent: Path, prefix: str = "") -> None:
    """Removes the entries of ``parent`` named ``<prefix><pid>[-...]`` whose
    process is gone (a killed download, push or fetch: what it staged can be
    gigabytes); those of live processes, this one included, stay."""
    try:
        names = os.listdir(parent)
    except FileNotFoundError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(parent / name, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's
