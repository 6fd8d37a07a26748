"""``bale get``: a copy of a file or directory of another repository,
untracked, as ``dvc get`` makes it.

PATH may be an output the source tracks with bale or dvc, a path inside a
directory output, a file or directory git tracks, or a git directory that
holds outputs (their data is included, their ``.dvc`` files are not, as in
dvc). The copy is whole or absent: everything lands in a temp directory
beside OUT (objects from the source's cache when it is a local repository
that has them, else fetched into a temp cache there, verified) and is
renamed into place at the end; with ``force`` an existing OUT is replaced
only then.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bale import _core, staging
from bale.console import debug
from bale.exceptions import BaleError, OutputNotTrackedError, TargetError
from bale.redact import mask_url
from bale.source import WHOLE_LIMIT, Source, lacking, pack_indexes
from bale.staging import COPY_TYPES, publish, staging_dir

if TYPE_CHECKING:
    from collections.abc import Callable

    from bale.index import Tracked

    # What get writes: each output, where, and (for a path inside a
    # directory output) the files under it, relative to that path.
    Plans = list[tuple[Tracked, Path, list[tuple[str, str, bool]] | None]]


@dataclass
class GetResult:
    """Where the copy went, and how many files it has."""

    path: Path
    files: int


def destination(path: str, out: str | None) -> Path:
    """Where ``get``/``import`` of ``path`` writes: ``out``, inside it when it
    is an existing directory (as ``cp``, and dvc), else the basename of
    ``path`` here."""
    name = posixpath.basename(posixpath.normpath(path.replace(os.sep, "/")))
    return staging.destination(name, out, path)


def get(
    src: Source,
    path: str,
    out: str | None = None,
    *,
    jobs: int | None = None,
    force: bool = False,
) -> GetResult:
    """Copies ``path`` of the repository ``src`` (see
    :meth:`bale.source.Source.open`) to ``out`` (default: its basename
    here), untracked."""
    dest = destination(path, out)
    if os.path.lexists(dest) and not force:
        raise TargetError(f"{os.path.relpath(dest)}: already exists here; use -f to overwrite it")
    located = src.locate(path)
    git_files = [] if located else src.git_files(path)
    outs = [] if located else src.outputs_under(path)
    if not located and not git_files and not outs:
        raise OutputNotTrackedError(
            f"{path}: neither git nor bale/dvc tracks it in {mask_url(src.url)} at {src.rev_label}"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(dest.parent, "get")
    try:
        staged = tmp / "out"
        if located:
            t, sub = located
            files = _checkout(src, tmp, [(t, sub, staged)], jobs)
        else:
            files = _tree(src, path, tmp, staged, git_files, outs, jobs)
        publish(staged, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return GetResult(dest, files)


def _tree(
    src: Source,
    path: str,
    tmp: Path,
    staged: Path,
    git_files: list[tuple[str, int]],
    outs: list[Tracked],
    jobs: int | None,
) -> int:
    """Stages a git path: its git files (but the ``.dvc`` files of outputs)
    and the data of the outputs under it."""
    top = src.root / posixpath.normpath(path) if posixpath.normpath(path) != "." else src.root
    metafiles = {t.dvcfile.path for t in outs}
    single = len(git_files) == 1 and src.root / git_files[0][0] == top and not outs
    n = 0
    for name, _size in git_files:
        where = src.root / name
        if where in metafiles:
            continue
        target = staged if single else staged / where.relative_to(top)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(src.read_git(name))
        n += 1
    if not single:
        staged.mkdir(parents=True, exist_ok=True)
    return n + _checkout(
        src, tmp, [(t, None, staged / t.path.relative_to(top)) for t in outs], jobs
    )


def _checkout(
    src: Source, tmp: Path, items: list[tuple[Tracked, str | None, Path]], jobs: int | None
) -> int:
    """Checks out each output (or the path ``sub`` inside a directory
    output: then only the files under it, found in its manifest, are
    fetched) at its target, from the source's cache if it has all they
    need, else from a temp cache the objects are fetched into."""
    items = [i for i in items if i[0].out.oid is not None or _no_hash(src, i[0])]
    # What each item checks out: the output whole, or the files under ``sub``.
    plans: Plans = []
    roots: list[tuple[str, str]] = []
    for t, sub, target in items:
        assert t.out.oid is not None
        if not sub:
            plans.append((t, target, None))
            roots.append((t.algo, t.out.oid))
            continue
        files = [
            (p, oid, isexec)
            for p, oid, _n, isexec in src.manifest(t.algo, t.out.oid)
            if p == sub or p.startswith(sub + "/")
        ]
        if not files:
            raise OutputNotTrackedError(
                f"{t.path.relative_to(src.root).as_posix()}/{sub}: not in that directory output "
                f"of {mask_url(src.url)} at {src.rev_label}"
            )
        # A file at ``sub`` itself lands at the target; files below it inside.
        plans.append((t, target, [(posixpath.relpath(p, sub), o, x) for p, o, x in files]))
        roots += [(t.algo, oid) for _p, oid, _x in files]
    roots = list(dict.fromkeys(roots))
    ws = None
    if src.local and src.is_dvc and src.repo.cache_dir.is_dir():
        # Straight from a local source's cache when it has everything (as
        # dvc): nothing is copied twice, nothing written there.
        theirs = _core.Workspace(str(tmp), str(src.repo.cache_dir))
        if not lacking(theirs, roots, repair=False):
            ws = theirs
    shown = f"{mask_url(src.url)} at {src.rev_label}"
    if ws is not None:
        # The source's own cache: read, never taken from.
        copied = _take_out(ws, tmp, plans, take=False)
        debug(f"{shown}: {copied} file(s) read from its cache {src.repo.cache_dir}")
    elif (from_folder := _from_folder_remote(src, tmp, plans)) is not None:
        copied = from_folder
        debug(f"{shown}: {copied} file(s) read where its folder remote holds them")
    else:
        fetched = _core.Workspace(str(tmp), str(tmp / "cache"))
        moved = src.fetch(fetched, roots, jobs)
        copied = _take_out(fetched, tmp, plans)
        debug(
            f"{shown}: {copied} file(s), {moved.copied} object(s) fetched into a temporary "
            "cache, removed afterwards"
        )
    # The engine wrote at paths of its own, moved to the targets now.
    for i, (_t, target, _members) in enumerate(plans):
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / f"o{i}", target)
    return copied


def _files(
    tmp: Path,
    plans: Plans,
    manifest: Callable[[str, str], list[tuple[str, str, int, bool]]],
    empty_dirs: Callable[[str, str], list[str]] | None = None,
) -> tuple[list[tuple[str, str, str, bool]], list[Path]]:
    """What ``plans`` write (at ``tmp/o<i>``), file by file: ``(algo, oid,
    path, isexec)``, and the directories no file makes (a directory
    output's root; with ``empty_dirs``, those its tree records)."""
    items: list[tuple[str, str, str, bool]] = []
    dirs: list[Path] = []
    for i, (t, _target, members) in enumerate(plans):
        at = tmp / f"o{i}"
        assert t.out.oid is not None
        if members is None and t.out.is_dir:
            dirs.append(at)
            if empty_dirs is not None:
                dirs += [at / d for d in empty_dirs(t.algo, t.out.oid)]
            members = [(p, oid, x) for p, oid, _n, x in manifest(t.algo, t.out.oid)]
        elif members is None:
            members = [(".", t.out.oid, t.out.isexec)]
        # Strings, not Path joins: 100,000 of those cost a second.
        top = str(at)
        items += [(t.algo, oid, top if p == "." else f"{top}/{p}", x) for p, oid, x in members]
    return items, dirs


def _take_out(ws: _core.Workspace, tmp: Path, plans: Plans, take: bool = True) -> int:
    """Writes what ``plans`` check out (at ``tmp/o<i>``) from ``ws``: with
    ``take``, the temp cache their objects were just fetched into (see
    :func:`_take`), else a cache only read; how many files."""
    items, dirs = _files(tmp, plans, ws.manifest, ws.empty_dirs)
    _take(ws, items, take)
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return len(items)


def _take(ws: _core.Workspace, items: list[tuple[str, str, str, bool]], take: bool = True) -> None:
    """Writes each ``(algo, oid, path, isexec)`` from ``ws`` in one parallel
    engine call. With ``take`` (a temp cache the objects were just fetched
    into) each object is moved into place (copied where several files share
    it): one write per file, and no cache of 100,000 files to delete after.
    A file the cache keeps as chunks only (a large native one) is rebuilt."""
    from bale.progress import Bar

    with Bar("Checking out") as bar:
        left = ws.copy_out(items, COPY_TYPES, bar.progress, bar.tick, take=take)
    for i in left:
        algo, oid, dest, isexec = items[i]
        ws.checkout(dest, algo, oid, isexec, COPY_TYPES, True)


def _from_folder_remote(src: Source, tmp: Path, plans: Plans) -> int | None:
    """Writes what ``plans`` check out (at ``tmp/o<i>``) straight from the
    source's remote when it is a folder: md5 objects held as a cache holds
    them, blake3 files a pack holds whole, each read once, hashed, written,
    with no temp cache in between (a large blake3 file, chunked in the
    packs, is fetched as any fetch does); how many files. None, with
    nothing left behind, when that cannot be done (another remote, an md5
    object it lacks): the caller fetches instead."""
    from bale.progress import Bar

    algos = {t.algo for t, _target, _members in plans}
    if not algos or not (all(a.startswith("md5") for a in algos) or algos == {"blake3"}):
        return None
    try:
        rem = src.remote()
    except BaleError:
        return None  # the fetch says what is wrong
    if rem.kind != "folder" or rem.path is None:
        return None
    if algos == {"blake3"}:
        items, dirs = _files(tmp, plans, src.manifest, src.empty_dirs)
        packs = pack_indexes(rem)
        whole = [(oid, dest, x) for _a, oid, dest, x in items]
        with Bar(f"Copying from {rem.name}") as bar:
            left = packs.copy_whole(rem.path, whole, WHOLE_LIMIT, bar.progress, bar.tick)
        if left:
            rest = [items[i] for i in left]
            fetched = _core.Workspace(str(tmp), str(tmp / "cache"))
            src.fetch(fetched, list(dict.fromkeys((a, o) for a, o, _d, _x in rest)))
            _take(fetched, rest)
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        return len(items)
    items, dirs = _files(tmp, plans, src.manifest)
    ws = _core.Workspace(str(tmp), str(tmp / "cache"))
    with Bar(f"Copying from {rem.name}") as bar:
        lacking = ws.copy_out(items, COPY_TYPES, bar.progress, bar.tick, source=rem.path)
    if lacking:
        for i in range(len(plans)):
            at = tmp / f"o{i}"
            if at.is_dir():
                shutil.rmtree(at)
            at.unlink(missing_ok=True)
        return None
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return len(items)


def _no_hash(src: Source, t: Tracked) -> bool:
    raise OutputNotTrackedError(
        f"{t.path.relative_to(src.root).as_posix()}: {mask_url(src.url)} records no hash for it "
        f"at {src.rev_label} (not committed, or a --no-download import): nothing to get"
    )
