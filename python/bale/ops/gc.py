"""``bale gc``: delete cached objects nothing references."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bale.exceptions import BaleError, CorruptObjectError, ObjectMissingError
from bale.ops.outputs import collect, pipeline_files

if TYPE_CHECKING:
    from bale.repo import Repo


@dataclass(frozen=True)
class GcResult:
    removed: int
    bytes: int
    kept: int
    dry: bool


def gc(repo: Repo, *, workspace: bool = True, dry: bool = False) -> GcResult:
    """Keeps every object the workspace's ``.dvc`` files reach (directories
    through their manifests) and deletes the rest. An unreadable ``.dvc`` file
    or manifest stops it before anything is deleted."""
    if not workspace:
        raise BaleError("gc needs a scope: use -w/--workspace")
    pipelines = pipeline_files(repo)
    if pipelines:
        # Their outputs live in dvc.lock, which bale does not read yet: without
        # them the keep-list would be incomplete, so nothing is collected.
        rel = pipelines[0].relative_to(repo.root)
        raise BaleError(
            f"{rel}: gc cannot run in a repository with pipelines yet "
            "(bale does not read dvc.lock); use 'dvc gc -w'"
        )
    with repo.locked():
        keep = [(t.algo, t.out.oid) for t in collect(repo, imports=True) if t.out.oid]
        try:
            r = repo.workspace.gc(keep, dry)
        except (ObjectMissingError, CorruptObjectError) as e:
            raise BaleError(
                f"gc stopped before deleting anything: a tracked directory's manifest "
                f"cannot be read ({e})"
            ) from None
    return GcResult(removed=r.removed, bytes=r.bytes, kept=r.kept, dry=dry)
