"""``bale gc``: delete cached (and with ``-c``, remote) objects nothing references."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bale import _core
from bale.console import debug
from bale.exceptions import BaleError, CorruptObjectError, ObjectMissingError
from bale.index import WORKSPACE, Scope, Tracked, in_scope
from bale.progress import Bar
from bale.remotes.plan import by_layout, roots

# The remote machinery (asyncio, ssl, aiohttp) is imported by the functions
# that reach a remote: a local gc does not pay for it at start.
if TYPE_CHECKING:
    from bale.remotes import Remote
    from bale.remotes.movers import Mover
    from bale.repo import Repo


@dataclass(frozen=True)
class RemoteGc:
    """What gc removed from one remote (or would, with ``dry``)."""

    remote: str
    removed: int
    bytes: int


@dataclass(frozen=True)
class GcResult:
    """What gc removed from the cache (or would, with ``dry``); ``compacted``
    files are now kept as chunks only, which freed ``compacted_bytes`` and
    wrote ``chunk_bytes`` of chunks no kept whole file holds."""

    removed: int
    bytes: int
    kept: int
    dry: bool
    remotes: list[RemoteGc] = field(default_factory=list)
    compacted: int = 0
    compacted_bytes: int = 0
    chunk_bytes: int = 0


def gc(
    repo: Repo,
    *,
    scope: Scope = WORKSPACE,
    cloud: bool = False,
    remote: str | None = None,
    dry: bool = False,
    force: bool = False,
    jobs: int | None = None,
    compact: bool = False,
    not_in_remote: bool = False,
    projects: Sequence[Path] = (),
) -> GcResult:
    """Keeps every object the ``.dvc`` files of ``scope`` reach (directories
    through their manifests) and deletes the rest from the cache, and with
    ``cloud`` from the remote too. Nothing is deleted unless proven
    unreferenced: an unreadable ``.dvc`` file or manifest stops gc first.
    Deleting from a remote needs ``force``.

    With ``compact``, every kept chunked file (bale-native, 4 MiB or more)
    that the workspace does not use is kept as its chunk list and the chunks
    no other kept file holds (DESIGN.md §13.0): ten versions of a large file
    that differ a little cost about one copy. Checking one out rebuilds it.

    With ``not_in_remote``, only what the scope uses and its remote lacks is
    kept: an output whose every object the remote holds may go from the
    cache (``pull`` brings it back). ``projects`` are other repositories
    sharing this cache: what their workspace (and ``scope``'s revisions) use
    is kept too."""
    if not (scope.workspace or scope.revisions):
        raise BaleError("gc needs a scope: use -w, -a, -T, -A, --all-experiments, --date or --rev")
    if scope.num != 1 and not (scope.revs or scope.all_branches):
        raise BaleError("gc: -n/--num can only be used with --rev or -a/--all-branches")
    if not_in_remote and cloud:
        raise BaleError("gc: --not-in-remote and -c/--cloud exclude each other")
    # What the workspace uses is kept whatever the scope, as dvc's gc keeps
    # it: -T alone must not delete the data of uncommitted work.
    scope = replace(scope, workspace=True)
    if cloud and not (force or dry):
        raise BaleError(
            "gc -c deletes data from the remote for good: nothing was deleted; "
            "see what would go with --dry, then run again with -f"
        )
    with repo.locked():
        # Imports' objects are kept too, unlike dvc's gc -w, which deletes those
        # of import outputs: their source may have moved on or gone, and the
        # data is nowhere else (README, "differs from dvc on purpose").
        outs = in_scope(repo, None, scope)
        for other in projects:
            outs += _project_outs(repo, other, scope)
        remotes = [_remote_gc(repo, outs, remote, dry, jobs)] if cloud else []
        if not_in_remote:
            outs = _not_on_remote(repo, outs, scope, remote, jobs)
        keep = [(t.algo, t.out.oid) for t in outs if t.out.oid]
        debug(f"keeping what {len(keep)} output(s) use, in the cache {repo.cache_dir}")
        whole = []
        if compact:
            used = in_scope(repo, None, WORKSPACE)
            whole = [(t.algo, t.out.oid) for t in used if t.out.oid]
        try:
            r = repo.workspace.gc(keep, dry, compact, whole)
        except (ObjectMissingError, CorruptObjectError) as e:
            raise BaleError(
                f"gc stopped before deleting anything: a tracked directory's manifest "
                f"cannot be read ({e})"
            ) from None
    return GcResult(
        r.removed,
        r.bytes,
        r.kept,
        dry,
        remotes,
        compacted=r.compacted,
        compacted_bytes=r.compacted_bytes,
        chunk_bytes=r.chunk_bytes,
    )


def _project_outs(repo: Repo, path: Path, scope: Scope) -> list[Tracked]:
    """What another repository (one sharing this cache) uses in ``scope``."""
    # made as type(repo): ops never import the facade they serve (no cycle)
    return in_scope(type(repo)(path.resolve()), None, scope)


def _not_on_remote(
    repo: Repo, outs: list[Tracked], scope: Scope, remote: str | None, jobs: int | None
) -> list[Tracked]:
    """The outputs of ``outs`` whose data is not all on their remote: the
    only ones ``--not-in-remote`` keeps. Outputs that never sync (``push:
    false``, imports, no cache) are kept; so is a file whose chunks could
    not all be checked."""
    from bale.ops.status import presence
    from bale.remotes.plan import group

    ws = repo.workspace
    synced: dict[tuple[Path, str | None], bool] = {}
    for rem, grouped in group(repo, None, scope, remote, pushing=True).items():
        known, unsure = presence(repo, rem, grouped, jobs)
        for t in grouped:
            assert t.out.oid is not None
            oids = [t.out.oid]
            if t.out.is_dir and known.get(t.out.oid, (False, False))[0]:
                oids += [o for _r, o, _s, _x in ws.manifest(t.algo, t.out.oid)]
            whole = all(known.get(o, (False, False))[1] and o not in unsure for o in oids)
            synced[(t.path, t.out.oid)] = whole
    return [t for t in outs if not synced.get((t.path, t.out.oid), False)]


def _remote_gc(
    repo: Repo, outs: list[Tracked], name: str | None, dry: bool, jobs: int | None
) -> RemoteGc:
    """Both layouts are planned before anything is deleted, so a failure in
    either deletes nothing."""
    from bale.redact import mask_url
    from bale.remotes import resolve_remote
    from bale.remotes.movers import open_mover

    rem = resolve_remote(repo, name)
    moving = open_mover(repo.workspace, rem, jobs)
    try:
        garbage = _dvc_layout_garbage(repo, rem, moving, outs)
        packs = _pack_garbage(repo, rem, outs, jobs)
        # A folder remote also keeps what killed pushes were writing.
        temps = _core.remote_temps(rem.path) if rem.kind == "folder" and rem.path else []
        debug(
            f"remote '{rem.name}' ({mask_url(rem.url)}): {len(garbage)} unused object(s) in "
            f"DVC's layout, {packs.objects} in packs, {len(temps)} temp file(s) "
            + ("would be removed (--dry)" if dry else "to remove")
        )
        if not dry:
            moving.delete([k for k, _n in garbage])
            _collect_packs(repo, rem, outs, packs, jobs)
            for path, _n in temps:
                path.unlink(missing_ok=True)
    finally:
        moving.close()
    return RemoteGc(
        rem.name,
        len(garbage) + packs.objects + len(temps),
        sum(n for _k, n in garbage) + packs.bytes + sum(n for _p, n in temps),
    )


def _dvc_layout_garbage(
    repo: Repo, rem: Remote, moving: Mover, outs: list[Tracked]
) -> list[tuple[str, int]]:
    """Remote objects in DVC's layout that no kept md5 output references,
    manifests first (as dvc does: a half-collected directory must never look
    complete)."""
    ws = repo.workspace
    wanted = roots(by_layout(outs)[0])
    files, dirs = ws.sync_plan(wanted)
    lacking = [d.object for d in dirs if d.object.size is None]
    if lacking:
        # A kept directory's files are known only from its .dir.
        with Bar(f"Fetching manifests from {rem.name}") as bar:
            moving.receive(lacking, bar)
        files, dirs = ws.sync_plan(wanted)
    unknown = [d.object.key for d in dirs if d.object.size is None]
    if unknown:
        raise BaleError(
            f"gc -c stopped before deleting anything: the manifest {unknown[0]} of a kept "
            f"directory is neither in the cache nor on remote '{rem.name}'"
        )
    keep = {f.key for f in files} | {d.object.key for d in dirs}
    garbage = [(k, n) for k, n in moving.listing() if k not in keep]
    garbage.sort(key=lambda kn: not _core.is_tree(kn[0]))
    return garbage


@dataclass
class _PackGarbage:
    """What gc -c removes from a remote's packed layout."""

    #: ``(pack key, index key)`` of packs nothing uses.
    dead: list[tuple[str, str]] = field(default_factory=list)
    #: ``(pack key, index key)`` of packs still in use that hold a tree or
    #: chunk list nothing uses: rewritten without the unused objects.
    repack: list[tuple[str, str]] = field(default_factory=list)
    #: Indexes whose pack the remote lacks (damage): they only mislead.
    orphans: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0


def _pack_garbage(repo: Repo, rem: Remote, outs: list[Tracked], jobs: int | None) -> _PackGarbage:
    """Packs none of whose objects a kept blake3 output uses, and packs to
    rewrite: a used pack keeps an unused tree or list only if nothing it
    names is deleted, which gc cannot promise without reading it (DESIGN.md
    11.1: a tree implies its members, a list its chunks), so such a pack is
    rewritten without them. Other packs still partly used are kept whole:
    their unused files and chunks claim nothing."""
    from bale.remotes import packed
    from bale.remotes.sync import Session, store_jobs

    ws = repo.workspace
    native = roots(by_layout(outs)[1])
    n = store_jobs(rem, jobs)
    paths = packed.PackedPaths.for_remote(repo.tmp_dir, rem)
    found = _PackGarbage()
    with Session(rem, n) as s, Bar(f"Fetching trees from {rem.name}") as bar:
        found.orphans = s.run(packed.refresh_indexes(s.store, paths, n))
        # Which objects are live is known only once every kept tree is here.
        while True:
            absent = [
                ("blake3", oid)
                for oid, cached, _remote, _checked in ws.pack_presence(native, paths.indexes)
                if _core.is_tree(oid) and not cached
            ]
            if not absent:
                break
            moved = s.run(packed.fetch_shallow(s.store, ws, absent, paths, n, bar))
            if moved.missing:
                raise BaleError(
                    f"gc -c stopped before deleting anything: the tree {moved.missing[0]} of a "
                    f"kept directory is neither in the cache nor on remote '{rem.name}'"
                )
    for pack, index, nbytes, live, total, repack, unused in ws.pack_usage(native, paths.indexes):
        if not live:
            found.dead.append((pack, index))
            found.objects += total
            found.bytes += nbytes
        elif repack:
            found.repack.append((pack, index))
            found.objects += total - live
            found.bytes += unused
    return found


def _collect_packs(
    repo: Repo, rem: Remote, outs: list[Tracked], garbage: _PackGarbage, jobs: int | None
) -> None:
    """Rewrites, then deletes. A rewritten pack and its index are uploaded
    before the old index and pack go, so every used object stays listed
    throughout; then indexes go before their packs, so an index never names
    a missing pack."""
    from bale.remotes import packed
    from bale.remotes.sync import Session, store_jobs

    if not (garbage.dead or garbage.repack or garbage.orphans):
        return
    paths = packed.PackedPaths.for_remote(repo.tmp_dir, rem)
    with Session(rem, store_jobs(rem, jobs)) as s:
        if garbage.repack:
            native = roots(by_layout(outs)[1])
            s.run(packed.repack(s.store, repo.workspace, native, paths, garbage.repack, jobs or 4))
        gone = garbage.dead + garbage.repack
        s.run(s.store.delete(garbage.orphans + [index for _p, index in gone]))
        s.run(s.store.delete([pack for pack, _i in gone]))
    for _p, index in garbage.dead + garbage.repack:
        (paths.indexes / index.rsplit("/", 1)[-1]).unlink(missing_ok=True)
