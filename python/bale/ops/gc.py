"""``bale gc``: delete cached (and with ``-c``, remote) objects nothing references."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bale.exceptions import BaleError, CorruptObjectError, ObjectMissingError
from bale.ops.outputs import WORKSPACE, Scope, Tracked, in_scope, pipeline_files
from bale.progress import Bar

if TYPE_CHECKING:
    from bale.repo import Repo


@dataclass(frozen=True)
class RemoteGc:
    """What gc removed from one remote (or would, with ``dry``)."""

    remote: str
    removed: int
    bytes: int


@dataclass(frozen=True)
class GcResult:
    removed: int
    bytes: int
    kept: int
    dry: bool
    remotes: list[RemoteGc] = field(default_factory=list)


def gc(
    repo: Repo,
    *,
    scope: Scope = WORKSPACE,
    cloud: bool = False,
    remote: str | None = None,
    dry: bool = False,
    force: bool = False,
    jobs: int | None = None,
) -> GcResult:
    """Keeps every object the ``.dvc`` files of ``scope`` reach (directories
    through their manifests) and deletes the rest from the cache, and with
    ``cloud`` from the remote too. Nothing is deleted unless proven
    unreferenced: an unreadable ``.dvc`` file or manifest stops gc first.
    Deleting from a remote needs ``force``."""
    if not (scope.workspace or scope.revisions):
        raise BaleError("gc needs a scope: use -w, -a, -T, -A or --rev")
    if cloud and not (force or dry):
        raise BaleError(
            "gc -c deletes data from the remote for good: nothing was deleted; "
            "see what would go with --dry, then run again with -f"
        )
    pipelines = pipeline_files(repo)
    if pipelines:
        # Their outputs live in dvc.lock, which bale does not read yet: without
        # them the keep-list would be incomplete, so nothing is collected.
        rel = pipelines[0].relative_to(repo.root)
        raise BaleError(
            f"{rel}: gc cannot run in a repository with pipelines yet "
            "(bale does not read dvc.lock); use 'dvc gc'"
        )
    with repo.locked():
        outs = in_scope(repo, None, scope, imports=True)
        remotes = [_remote_gc(repo, outs, remote, dry, jobs)] if cloud else []
        keep = [(t.algo, t.out.oid) for t in outs if t.out.oid]
        try:
            r = repo.workspace.gc(keep, dry)
        except (ObjectMissingError, CorruptObjectError) as e:
            raise BaleError(
                f"gc stopped before deleting anything: a tracked directory's manifest "
                f"cannot be read ({e})"
            ) from None
    return GcResult(r.removed, r.bytes, r.kept, dry, remotes)


def _remote_gc(
    repo: Repo, outs: list[Tracked], name: str | None, dry: bool, jobs: int | None
) -> RemoteGc:
    from bale.ops.transfer import mover
    from bale.remotes import resolve_remote

    rem = resolve_remote(repo, name)
    ws = repo.workspace
    roots = [(t.algo, t.out.oid) for t in outs if t.out.oid and t.algo != "blake3"]
    moving = mover(repo, rem, jobs)
    try:
        files, dirs = ws.sync_plan(roots)
        lacking = [d[:4] for d in dirs if d[3] is None]
        if lacking:
            # A kept directory's files are known only from its .dir.
            with Bar(f"Fetching manifests from {rem.name}") as bar:
                moving.receive(lacking, bar)
            files, dirs = ws.sync_plan(roots)
        unknown = [d[2] for d in dirs if d[3] is None]
        if unknown:
            raise BaleError(
                f"gc -c stopped before deleting anything: the manifest {unknown[0]} of a kept "
                f"directory is neither in the cache nor on remote '{rem.name}'"
            )
        keep = {f[2] for f in files} | {d[2] for d in dirs}
        garbage = [(k, n) for k, n in moving.listing() if k not in keep]
        # Manifests first, as dvc does: a half-collected directory must never
        # look complete.
        garbage.sort(key=lambda kn: not kn[0].endswith(".dir"))
        if not dry:
            moving.delete([k for k, _n in garbage])
    finally:
        moving.close()
    return RemoteGc(rem.name, len(garbage), sum(n for _k, n in garbage))
