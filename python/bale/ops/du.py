"""``bale du``: how many bytes the tracked data holds, and how many the
cache and a remote spend on it (chunked files and repeated content stored
once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bale.console import debug
from bale.index import WORKSPACE, Scope, in_scope

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
    roots = sorted({(t.algo, t.out.oid) for t in outs if t.out.oid})
    absent = [t for t in outs if not repo.workspace.exists(t.algo, t.out.oid or "")]
    rem = None
    if cloud:
        # The remote machinery (asyncio, ssl, aiohttp) only when a remote is asked about.
        from bale.remotes import resolve_remote

        rem = resolve_remote(repo, remote)
        from bale.redact import mask_url

        debug(f"measuring what remote '{rem.name}' ({mask_url(rem.url)}) stores")
    debug(
        f"{len(outs)} output(s) of {len(roots)} distinct id(s), {len(absent)} not in the cache "
        f"{repo.cache_dir}"
    )
    local, native = repo.workspace.stored(roots, _packed_indexes(repo, rem, roots, jobs))
    return DiskUsage(
        len(outs),
        sum(t.out.size or 0 for t in outs),
        local,
        None if rem is None else (native or 0) + _dvc_layout_remote(repo, rem, roots, jobs),
        None if rem is None else rem.name,
        not_cached=len(absent),
        not_cached_bytes=sum(t.out.size or 0 for t in absent),
    )


def _packed_indexes(
    repo: Repo, rem: Remote | None, roots: list[tuple[str, str]], jobs: int | None
) -> Path | None:
    """The local copies of ``rem``'s pack indexes, brought up to date when
    blake3 outputs are measured (``None`` without a remote)."""
    if rem is None:
        return None
    from bale.remotes import packed
    from bale.remotes.sync import Session, store_jobs

    paths = packed.PackedPaths.for_remote(repo.tmp_dir, rem)
    if any(algo == "blake3" for algo, _ in roots):
        n = store_jobs(rem, jobs)
        with Session(rem, n) as s:
            s.run(packed.refresh_indexes(s.store, paths, n))
    return paths.indexes


def _dvc_layout_remote(
    repo: Repo, rem: Remote, roots: list[tuple[str, str]], jobs: int | None
) -> int:
    """md5 data is stored whole, one remote object per object: the listing's
    sizes of the keys the outputs use."""
    dvc_roots = [r for r in roots if r[0] != "blake3"]
    if not dvc_roots:
        return 0
    from bale.remotes.movers import open_mover

    files, dirs = repo.workspace.sync_plan(dvc_roots)
    keys = {f.key for f in files} | {d.object.key for d in dirs}
    moving = open_mover(repo.workspace, rem, jobs)
    try:
        return sum(size for key, size in moving.listing() if key in keys)
    finally:
        moving.close()
