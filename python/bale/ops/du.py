"""``bale du``: how many bytes the tracked data holds, and how many the
cache and a remote spend on it (chunked files and repeated content stored
once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bale.ops.outputs import WORKSPACE, Scope, in_scope

if TYPE_CHECKING:
    from bale.remotes import Remote
    from bale.repo import Repo


@dataclass(frozen=True)
class DiskUsage:
    """``logical`` is what the outputs hold, each version in scope counted in
    full (what a copy per version would take); ``local`` and ``remote`` are
    the bytes actually stored for them, each object once."""

    outputs: int
    logical: int
    local: int
    remote: int | None = None
    remote_name: str | None = None
    #: Outputs whose data the cache does not hold, and their logical bytes
    #: (left out of the cache's ratio).
    not_cached: int = 0
    not_cached_bytes: int = 0

    @staticmethod
    def _ratio(logical: int, stored: int | None) -> float | None:
        return None if not stored else logical / stored

    @property
    def local_ratio(self) -> float | None:
        """Logical bytes per byte in the cache (2.0: half the space of copies)."""
        return self._ratio(self.logical - self.not_cached_bytes, self.local)

    @property
    def remote_ratio(self) -> float | None:
        return self._ratio(self.logical, self.remote)


def du(
    repo: Repo,
    targets: Sequence[str | Path] | None = None,
    *,
    scope: Scope = WORKSPACE,
    cloud: bool = False,
    remote: str | None = None,
    jobs: int | None = None,
) -> DiskUsage:
    """Sizes of the outputs ``targets`` name (default: all) in every revision
    of ``scope``; with ``cloud``, also what the remote stores for them."""
    outs = [t for t in in_scope(repo, targets, scope) if t.out.oid]
    logical = sum(t.out.size or 0 for t in outs)
    roots = sorted({(t.algo, t.out.oid) for t in outs if t.out.oid})
    absent = [t for t in outs if not repo.workspace.exists(t.algo, t.out.oid or "")]
    not_cached, not_cached_bytes = len(absent), sum(t.out.size or 0 for t in absent)
    if not cloud:
        local, _ = repo.workspace.stored(roots)
        return DiskUsage(
            len(outs), logical, local, not_cached=not_cached, not_cached_bytes=not_cached_bytes
        )
    from bale.remotes import resolve_remote

    rem = resolve_remote(repo, remote)
    local, native = _native_remote(repo, rem, roots, jobs)
    remote_bytes = native + _dvc_layout_remote(repo, rem, roots, jobs)
    return DiskUsage(
        len(outs),
        logical,
        local,
        remote_bytes,
        rem.name,
        not_cached=not_cached,
        not_cached_bytes=not_cached_bytes,
    )


def _native_remote(
    repo: Repo, rem: Remote, roots: list[tuple[str, str]], jobs: int | None
) -> tuple[int, int]:
    """The cache's bytes, and the packed remote's for the blake3 objects."""
    from bale.ops.transfer import store_jobs
    from bale.remotes import packed
    from bale.remotes.sync import Session

    paths = packed.PackedPaths.for_remote(repo.tmp_dir, rem)
    if any(algo == "blake3" for algo, _ in roots):
        n = store_jobs(rem, jobs)
        with Session(rem, n) as s:
            s.run(packed.refresh_indexes(s.store, paths, n))
    local, native = repo.workspace.stored(roots, paths.indexes)
    return local, native or 0


def _dvc_layout_remote(
    repo: Repo, rem: Remote, roots: list[tuple[str, str]], jobs: int | None
) -> int:
    """md5 data is stored whole, one remote object per object: the listing's
    sizes of the keys the outputs use."""
    from bale.ops.transfer import mover

    dvc_roots = [r for r in roots if r[0] != "blake3"]
    if not dvc_roots:
        return 0
    files, dirs = repo.workspace.sync_plan(dvc_roots)
    keys = {f[2] for f in files} | {d[2] for d in dirs}
    moving = mover(repo, rem, jobs)
    try:
        return sum(size for key, size in moving.listing() if key in keys)
    finally:
        moving.close()
