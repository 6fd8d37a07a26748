"""``bale freeze`` / ``bale unfreeze``: mark a pipeline stage or a ``.dvc``
file ``frozen: true`` (or take the mark off), as ``dvc freeze`` does.

A frozen stage is not run by ``repro`` (its outputs are only recorded
again) and its dependencies are left out of ``status``; a frozen import is
not updated. :mod:`bale.ops.repro` and :mod:`bale.ops.status` read the mark.

The file is edited in round-trip mode: only the ``frozen`` key changes, and
comments and formatting stay, as dvc's ``apply_diff`` leaves them (the key
is added at the end of the stage's entry, where dvc adds it). ``dvc.lock``
is not touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale.exceptions import MetafileError, StageNotFoundError, TargetNotFoundError
from bale.index import abspath, inside_repo
from bale.metafiles import yaml12
from bale.metafiles._fs import atomic_write
from bale.pipeline.stage import PROJECT_FILE

if TYPE_CHECKING:
    from bale.repo import Repo


@dataclass(frozen=True)
class Frozen:
    """One stage whose mark :func:`set_frozen` wrote."""

    #: The file edited: a ``dvc.yaml`` or a ``.dvc`` file (absolute).
    path: Path
    #: The stage's name in a ``dvc.yaml``; None for a ``.dvc`` file.
    name: str | None


def parse_target(target: str) -> tuple[Path, str | None]:
    """dvc's stage addressing: ``file.dvc``, ``name`` (in the current
    directory's ``dvc.yaml``), or ``path/dvc.yaml:name`` (``path:name`` for
    a directory's ``dvc.yaml``); paths are relative to the current directory."""
    if ":" in target:
        where, name = target.rsplit(":", 1)
        path = abspath(where or ".")
        if path.is_dir():
            path = path / PROJECT_FILE
        return path, name
    if target.endswith(".dvc"):
        return abspath(target), None
    return abspath(PROJECT_FILE), target


def set_frozen(repo: Repo, target: str, frozen: bool) -> Frozen:
    """Freezes (``frozen``) or unfreezes the stage ``target`` names.

    >>> set_frozen(Repo("."), "train", True)  # doctest: +SKIP
    Frozen(path=PosixPath('/project/dvc.yaml'), name='train')
    """
    path, name = parse_target(target)
    rel = inside_repo(repo, path)
    with repo.locked():
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TargetNotFoundError(f"{rel}: does not exist") from None
        data = yaml12.load_roundtrip(text)
        if not isinstance(data, dict):
            raise MetafileError(f"{rel}: expected a mapping at the top level")
        entry = data if name is None else _stage_entry(data, name, rel)
        if frozen:
            entry["frozen"] = True
        else:
            # dvc writes the key only when true
            entry.pop("frozen", None)
        atomic_write(path, yaml12.dumps(data).encode("utf-8"))
    return Frozen(path, name)


def _stage_entry(data: dict[str, Any], name: str, rel: str) -> Any:
    stages = data.get("stages")
    if not isinstance(stages, dict):
        stages = {}
    entry = stages.get(name)
    if isinstance(entry, dict) and not ({"foreach", "matrix"} & set(entry)):
        return entry
    group = stages.get(name.split("@", 1)[0])
    if "@" in name and isinstance(group, dict) and {"foreach", "matrix"} & set(group):
        # one definition makes every stage of the group: dvc will not edit it for one
        raise MetafileError(f"{rel}: cannot change the parametrized stage '{name}'")
    raise StageNotFoundError(f"{rel}: stage '{name}' not found")
