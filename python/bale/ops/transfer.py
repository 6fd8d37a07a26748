"""``bale push``, ``bale fetch`` and ``bale pull``.

md5 data goes in DVC's remote layout on every kind of remote. The engine
plans what moves (``Workspace.sync_plan``): each file object once, and each
directory's ``.dir`` with the files it lists. A ``.dir`` is uploaded only
after every one of its files, because DVC reads a remote ``.dir`` as "this
directory is complete". Every object is verified by hash: before it is
uploaded, and when it is downloaded, before it enters the cache. The movers
(:mod:`bale.remotes.movers`) carry the objects; blake3 data goes in bale's
packed layout (:mod:`bale.remotes.packed`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bale import _core
from bale.console import debug, human_size, verbose, warn
from bale.exceptions import CheckoutConflictError, ObjectMissingError, RemoteConfigError
from bale.index import WORKSPACE, Scope, Tracked
from bale.ops import imports
from bale.progress import Bar
from bale.remotes import Remote, resolve_remote
from bale.remotes.movers import Mover, open_mover
from bale.remotes.plan import by_layout, group, roots
from bale.remotes.sync import Moved, Session, store_jobs

if TYPE_CHECKING:
    from bale.metafiles import Out
    from bale.ops.checkout import CheckoutResult
    from bale.repo import Repo


@dataclass
class TransferResult(Moved):
    """What one push or fetch moved (counted as :class:`Moved` counts), and how."""

    seconds: float = 0.0
    remotes: list[str] = field(default_factory=list)
    #: Import outputs not in the cache whose data only their source has.
    at_source: list[Tracked] = field(default_factory=list)
    #: The outputs the sources of ``--no-download`` imports gave, by path.
    resolved: dict[Path, Out] = field(default_factory=dict)
    #: What a pull's checkout changed (None for a push or a fetch).
    checked_out: CheckoutResult | None = None


def _sync_runs(
    repo: Repo, remote: str | None, jobs: int | None, result: TransferResult, pushing: bool
) -> None:
    """Pushes or pulls the run cache (``runs/`` on the remote, as dvc's
    ``--run-cache``)."""
    from bale.remotes import runs

    rem = resolve_remote(repo, remote)
    n = store_jobs(rem, jobs)
    local = repo.cache_dir / "runs"
    with Session(rem, n) as s:
        if pushing:
            count, nbytes = s.run(runs.push(s.store, local, n))
        else:
            count, nbytes, bad = s.run(runs.pull(s.store, local, n))
            if bad:
                raise ObjectMissingError(
                    f"remote '{rem.name}': {len(bad)} run-cache entr"
                    f"{'y is' if len(bad) == 1 else 'ies are'} not what "
                    f"{'its name says' if len(bad) == 1 else 'their names say'} and "
                    f"{'was' if len(bad) == 1 else 'were'} skipped (first: {bad[0]})"
                )
    result.copied += count
    result.bytes += nbytes
    # The outputs the entries name travel with them, as with dvc's
    # --run-cache; one that is on neither side is no error (gc may have
    # taken it), a run that cannot be restored is simply run again.
    outs = _run_cache_outputs(repo)
    if outs:
        moved = (_push_dvc_layout if pushing else _fetch_dvc_layout)(repo, rem, outs, jobs)
        moved.missing = []
        result.add(moved)


def _run_cache_outputs(repo: Repo) -> list[Tracked]:
    from bale.metafiles import DvcFile, Out
    from bale.pipeline.runcache import entry_files, loads_entry

    found: dict[str, Tracked] = {}
    for p in entry_files(repo.cache_dir / "runs"):
        try:
            entry = loads_entry(p.read_text(encoding="utf-8"), str(p), repo.memo)
        except (OSError, UnicodeDecodeError):
            continue
        if entry is None:
            continue
        holder = DvcFile(path=p, outs=[], deps=[], data={})
        for item in entry.get("outs") or []:
            oid = item.get("md5")
            if oid and oid not in found:
                out = Out(item["path"], item.get("hash"), oid, item.get("size"), item.get("nfiles"))
                found[oid] = Tracked(holder, out, repo.root / item["path"], stage="run-cache")
    return list(found.values())


def _packed(repo: Repo, rem: Remote, outs: list[Tracked], jobs: int | None, pushing: bool) -> Moved:
    """Pushes or fetches the native outputs ``outs`` in the packed layout."""
    from bale.remotes import packed

    n = store_jobs(rem, jobs, per_core=4)
    paths = packed.PackedPaths.for_remote(repo.tmp_dir, rem)
    verb = "Pushing to" if pushing else "Fetching from"
    with Session(rem, n) as s, Bar(f"{verb} {rem.name}") as bar:
        if pushing:
            size = int(rem.options.get("pack_size", packed.DEFAULT_PACK_SIZE))
            work = packed.push(s.store, repo.workspace, roots(outs), paths, n, bar, size)
        else:
            targets = [(t.out.oid, t.sub) for t in outs if t.out.oid]
            work = packed.fetch(s.store, repo.workspace, targets, paths, n, bar)
        moved = s.run(work)
    if not pushing and verbose():
        # The packed fetch counts what it brings, not what it skipped: the
        # objects the outputs reach, all in the cache now, tell the rest.
        reached = len(repo.workspace.pack_presence(roots(outs), paths.indexes))
        debug(
            f"bale's packed layout: {reached:,} object(s) reached, "
            f"{max(reached - moved.copied, 0):,} of them were in the cache already (skipped)"
        )
    names = {t.out.oid: t.rel(repo) for t in outs}
    moved.missing = [names.get(oid, oid) for oid in moved.missing]
    return moved


def _push_dvc_layout(repo: Repo, rem: Remote, outs: list[Tracked], jobs: int | None) -> Moved:
    ws = repo.workspace
    total = Moved()
    moving = open_mover(ws, rem, jobs)
    try:
        outs = _not_on_remote(ws, moving, outs, total)
        if not outs:
            return total
        # Every object is hashed as it leaves (the engine's copy to a folder,
        # the stores' UploadSource): a corrupt one is never sent.
        files, dirs, vouched = ws.push_plan(roots(outs), _vouchers(ws, moving, outs))
        total.present += vouched
        _tell_plan(files, dirs, True, vouched)
        names = {t.out.oid: t.rel(repo) for t in outs}
        lacking = [f for f in files if f.size is None] + [
            d.object for d in dirs if d.object.size is None
        ]
        total.missing += [names.get(o.oid, o.key) for o in lacking]
        with Bar(f"Pushing to {rem.name}") as bar:
            total.add(moving.send([f for f in files if f.size is not None], bar))
        # A send that fails raises, so every file that was cached arrived.
        cached = [f.size is not None for f in files]
        complete = [
            d.object
            for d in dirs
            if d.object.size is not None and all(cached[m] for m in d.members)
        ]
        with Bar(f"Pushing to {rem.name}") as bar:
            total.add(moving.send(complete, bar))
    finally:
        moving.close()
    return total


def _not_on_remote(
    ws: _core.Workspace, moving: Mover, outs: list[Tracked], total: Moved
) -> list[Tracked]:
    """The outputs a push must plan file by file. A directory whose ``.dir``
    the remote holds is complete there: dvc and bale both upload a ``.dir``
    only after all its files, and dvc trusts it the same way
    (``dvc_data.hashfile.status``: "If .dir hash exists in the ODB, assume
    directory contents also exists"). So a no-op push of 100,000 files asks
    one question per directory instead of one per file."""
    keys = {
        t.out.oid: ws.object_key(t.algo, t.out.oid)
        for t in outs
        if t.out.oid and _core.is_tree(t.out.oid)
    }
    if not keys:
        return outs
    there = moving.exists(list(keys.values()))
    complete = {oid for oid, key in keys.items() if key in there}
    for oid in complete:
        debug(f"the remote holds {oid}: the directory is complete there, its files not asked about")
    # Counted as the file-by-file path counts: the .dir and each file.
    nfiles = {t.out.oid: t.out.nfiles or 0 for t in outs if t.out.oid in complete}
    total.present += sum(n + 1 for n in nfiles.values())
    return [t for t in outs if t.out.oid not in complete]


# A push of directories of at least this many files (their .dvc files' nfiles)
# asks the remote about the cache's newest other directory objects (at most
# _VOUCHERS).
_VOUCH_MIN_FILES = 1000
_VOUCHERS = 8


def _vouchers(ws: _core.Workspace, moving: Mover, outs: list[Tracked]) -> list[tuple[str, str]]:
    """Older directory objects the remote holds. Each vouches for its files
    as a pushed directory's own ``.dir`` would (see :func:`_not_on_remote`),
    so a push after editing one file of 100,000 asks about a few ``.dir``
    objects (the cache's newest: the versions before) instead of listing
    every file."""
    dirs = [t for t in outs if t.out.is_dir]
    if sum(t.out.nfiles or 0 for t in dirs) < _VOUCH_MIN_FILES:
        return []
    pushing = {t.out.oid for t in dirs}
    candidates: dict[str, tuple[str, str]] = {}
    for algo in sorted({t.algo for t in dirs}):
        for oid in ws.recent_trees(algo, _VOUCHERS + len(pushing)):
            if oid not in pushing and len(candidates) < _VOUCHERS:
                candidates[ws.object_key(algo, oid)] = (algo, oid)
    there = moving.exists(list(candidates)) if candidates else set()
    return [pair for key, pair in candidates.items() if key in there]


def _fetch_dvc_layout(repo: Repo, rem: Remote, outs: list[Tracked], jobs: int | None) -> Moved:
    ws = repo.workspace
    total = Moved()
    moving = open_mover(ws, rem, jobs)
    try:
        wanted = roots(outs)
        # What the cache holds counts only if it is good: a corrupt object
        # (or manifest) is moved aside and fetched again.
        files, dirs = ws.sync_plan(wanted, repair=True)
        lacking = [d.object for d in dirs if d.object.size is None]
        # What the cache holds already is counted as a push counts what the
        # remote holds: "present", so that -v can say what was skipped.
        total.present += len(dirs) - len(lacking)
        if lacking:
            # A directory's files are known only once its .dir is here.
            debug(f"{len(lacking)} directory object(s) not in the cache: fetching them first")
            with Bar(f"Fetching from {rem.name}") as bar:
                total.add(moving.receive(lacking, bar))
            files, dirs = ws.sync_plan(wanted, repair=True)
        _tell_plan(files, dirs, False)
        total.present += sum(1 for f in files if f.size is not None)
        with Bar(f"Fetching from {rem.name}") as bar:
            total.add(moving.receive([f for f in files if f.size is None], bar))
    finally:
        moving.close()
    return total


def _tell_plan(
    files: Sequence[_core.PlannedObject],
    dirs: Sequence[_core.PlannedDir],
    pushing: bool,
    vouched: int = 0,
) -> None:
    """With ``-v``: what the engine planned to move. An object the plan
    gives a size is in the cache; a push then sends each such file the
    remote lacks, a fetch fetches the others."""
    if not verbose():
        return
    for d in dirs:
        debug(f"directory {d.object.oid}: {len(d.members)} files")
    cached = sum(1 for f in files if f.size is not None)
    if pushing:
        debug(
            f"{len(files)} file object(s) planned: {len(files) - cached} not in the cache"
            + (f", {vouched} vouched for by directories the remote holds" if vouched else "")
        )
    else:
        debug(f"{len(files)} file object(s) planned: {cached} already in the cache")


def push(
    repo: Repo,
    targets: Sequence[str | Path] | None = None,
    *,
    remote: str | None = None,
    jobs: int | None = None,
    scope: Scope = WORKSPACE,
    run_cache: bool = False,
) -> TransferResult:
    """Copies the cached data of the targeted outputs to their remote; with
    a ``scope``, also those of other git revisions; with ``run_cache``, the
    run cache too (to ``remote``, else the default remote).

    It holds the write lock, as dvc's push does: the stat cache it saves
    (objects verified on the way out stay known verified, also after a
    failed push) and the local copies of the remote's indexes are written."""
    with repo.locked():
        result = _sync(repo, targets, remote, jobs, scope, run_cache, pushing=True)
    if result.missing:
        raise TransferIncompleteError(
            f"{len(result.missing)} object(s) are not in the cache and were not pushed "
            f"(first: {result.missing[0]}); directories missing files were not marked complete",
            result,
        )
    return result


def fetch(
    repo: Repo,
    targets: Sequence[str | Path] | None = None,
    *,
    remote: str | None = None,
    jobs: int | None = None,
    scope: Scope = WORKSPACE,
    run_cache: bool = False,
) -> TransferResult:
    """Copies the data of the targeted outputs from their remote into the
    cache; with a ``scope``, also those of other git revisions; with
    ``run_cache``, the remote's run cache too."""
    with repo.locked():
        result = _sync(repo, targets, remote, jobs, scope, run_cache, pushing=False)
    _check_fetched(repo, result)
    return result


def _check_fetched(repo: Repo, result: TransferResult) -> None:
    problems = []
    if result.at_source:
        names = ", ".join(t.rel(repo) for t in result.at_source)
        why = imports.unfetchable(repo, result.at_source, "fetch")
        problems.append(f"not fetched: {names}; {why}")
    if result.missing:
        problems.append(
            f"{len(result.missing)} object(s) are on no remote (first: {result.missing[0]})"
        )
    if problems:
        raise TransferIncompleteError("; ".join(problems), result)


def _sync(
    repo: Repo,
    targets: Sequence[str | Path] | None,
    remote: str | None,
    jobs: int | None,
    scope: Scope,
    run_cache: bool,
    pushing: bool,
) -> TransferResult:
    """A push or a fetch: each remote's outputs in their layout, then the run cache."""
    start = time.monotonic()
    result = TransferResult()
    dvc_layout_sync = _push_dvc_layout if pushing else _fetch_dvc_layout
    at_source: list[Tracked] = []
    fetched_packed = False
    for rem, outs in group(repo, targets, scope, remote, pushing, at_source).items():
        if not pushing and rem.kind == "folder" and not (rem.path and rem.path.is_dir()):
            raise RemoteConfigError(f"remote '{rem.name}': {rem.path} is not a directory")
        result.remotes.append(rem.name)
        dvc_layout, native = by_layout(outs)
        _tell_remote(repo, rem, outs, dvc_layout, native, pushing)
        if dvc_layout:
            result.add(dvc_layout_sync(repo, rem, dvc_layout, jobs))
        if native:
            result.add(_packed(repo, rem, native, jobs, pushing))
            fetched_packed = not pushing
    if not pushing:
        _tell_moved_aside(repo)
    if run_cache:
        _sync_runs(repo, remote, jobs, result, pushing)
    if at_source:
        moved, result.resolved = imports.fetch_from_sources(repo, at_source, jobs)
        result.add(moved)
    at_source = [t for t in at_source if t.path not in result.resolved]
    result.at_source = imports.not_cached(repo, at_source)
    result.seconds = time.monotonic() - start
    verb, there = ("pushed", "on the remote") if pushing else ("fetched", "in the cache")
    debug(
        f"{verb} {result.copied:,} objects, {human_size(result.bytes)} in "
        f"{result.seconds:.1f} s; {result.present:,} were {there} already (skipped)"
        + (" in DVC's layout, the packed layout's are counted above" if fetched_packed else "")
    )
    return result


def _tell_remote(
    repo: Repo,
    rem: Remote,
    outs: list[Tracked],
    dvc_layout: list[Tracked],
    native: list[Tracked],
    pushing: bool,
) -> None:
    """With ``-v``: which remote and cache a transfer uses, and for what."""
    if not verbose():
        return
    from bale.redact import mask_url

    there = f"remote '{rem.name}' ({mask_url(rem.url)})"
    here = f"the cache ({repo.cache_dir})"
    src, dst = (here, there) if pushing else (there, here)
    debug(f"transferring from {src} to {dst}")
    for t in outs:
        debug(f"  {t.rel(repo)}: {t.algo} {t.out.oid}")
    if dvc_layout:
        debug(f"{len(dvc_layout)} output(s) of md5 data, in DVC's remote layout (files/md5/)")
    if native:
        debug(f"{len(native)} output(s) of blake3 data, in bale's packed layout")


def _tell_moved_aside(repo: Repo) -> None:
    """Names the corrupt cache objects the fetch's plans moved aside (and
    fetched again, where a remote had them)."""
    moved = repo.workspace.take_moved_aside()
    if moved:
        oid, _to = moved[0]
        more = f" and {len(moved) - 1} more" if len(moved) > 1 else ""
        warn(
            f"cache object {oid}{more} did not match its hash: moved to "
            f"{repo.workspace.corrupt_dir}; a good copy was fetched unless reported missing"
        )


class TransferIncompleteError(ObjectMissingError):
    """Some data is in neither the cache nor a remote; ``result`` is what
    the push, fetch or pull did move, which is reported before the error
    (dvc reports it, and warns instead of failing)."""

    def __init__(self, message: str, result: TransferResult) -> None:
        super().__init__(message)
        self.result = result


class PullIncompleteError(TransferIncompleteError):
    """Some data is on no remote or could not be checked out; ``result`` is
    what the pull did, which dvc reports before it fails."""


class PullConflictError(CheckoutConflictError):
    """A pull fetched, but some outputs have changes that are not in the
    cache and were not checked out; ``result`` is what the pull did."""

    def __init__(self, message: str, result: TransferResult) -> None:
        super().__init__(message)
        self.result = result


def pull(
    repo: Repo,
    targets: Sequence[str | Path] | None = None,
    *,
    remote: str | None = None,
    force: bool = False,
    jobs: int | None = None,
    scope: Scope = WORKSPACE,
    run_cache: bool = False,
) -> TransferResult:
    """Fetches, then checks out the targeted outputs (of the workspace).
    Outputs whose data is on no remote do not stop the others: as dvc does,
    everything fetched is checked out before the missing data is reported."""
    from bale.ops.checkout import CheckoutConflictsError, CheckoutIncompleteError, checkout

    with repo.locked():
        result = _sync(repo, targets, remote, jobs, scope, run_cache, pushing=False)
    try:
        result.checked_out = checkout(repo, targets, force=force, resolved=result.resolved)
    except CheckoutConflictsError as e:
        result.checked_out = e.result
        raise PullConflictError(str(e), result) from None
    except CheckoutIncompleteError as e:
        result.checked_out = e.result
        # checkout names the outputs (and the imports' sources), the fetch the objects
        more = f"; {len(result.missing)} object(s) are on no remote" if result.missing else ""
        raise PullIncompleteError(f"{e}{more}", result) from None
    try:
        _check_fetched(repo, result)
    except ObjectMissingError as e:
        raise PullIncompleteError(str(e), result) from None
    return result
