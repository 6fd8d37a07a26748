"""``bale add``: hash and store files or directories, write ``.dvc`` files."""

from __future__ import annotations

import glob as globlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bale import _core, index, scm
from bale.console import debug, warn
from bale.exceptions import TargetError, TargetNotFoundError
from bale.index import Tracked, abspath, collect, inside_repo
from bale.metafiles import (
    Out,
    dump_dvcfile,
    dvcfile_path_for,
    git_ignored,
    ignore_in_git,
    load_dvcfile,
)
from bale.progress import Bar

if TYPE_CHECKING:
    from bale.repo import Repo


@dataclass(frozen=True)
class AddResult:
    """One output that was added (or committed)."""

    path: str  # repository-relative
    dvcfile: str  # repository-relative
    oid: str
    hash: str
    size: int
    nfiles: int | None
    hashed: int  # files read (the rest came from the stat cache)
    stored: int  # files whose content was newly written to the cache (not manifests)
    gitignore: str | None  # the .gitignore that was changed


def expand_targets(targets: Sequence[str | Path], glob: bool) -> list[Path]:
    paths: list[Path] = []
    for t in targets:
        if glob:
            matches = sorted(globlib.glob(str(t), recursive=True))
            if not matches:
                raise TargetNotFoundError(f"{t}: the pattern matches nothing")
            paths.extend(abspath(m) for m in matches)
        else:
            paths.append(abspath(t))
    return paths


@dataclass(frozen=True)
class _Tracked:
    """The outputs ``.dvc`` files track: every path, and the directories."""

    paths: frozenset[Path]
    dirs: dict[Path, Tracked]


def _check_target(repo: Repo, path: Path, tracked: _Tracked) -> Tracked | None:
    """Refuses a target that cannot be added; returns the tracked directory
    it lies inside, if any (it then joins that directory's ``.dvc`` file)."""
    rel = inside_repo(repo, path)
    if path == repo.root:
        raise TargetError(f"{path}: cannot track the repository root")
    if not path.exists() and not path.is_symlink():
        raise TargetNotFoundError(f"{rel}: no such file or directory")
    if path.name.endswith(".dvc"):
        raise TargetError(f"{rel}: is a .dvc file; add the data it describes instead")
    # As dvc: a symlinked directory could lead anywhere, even out of the repository.
    if path.parent.resolve() != repo.root.resolve() / path.parent.relative_to(repo.root):
        raise TargetError(f"{rel}: cannot add files inside symlinked directories")
    why = _core.ignored_reason(str(repo.root), str(path))
    if why:
        raise TargetError(f"{rel}: cannot be tracked: {why}")
    # Lookups, not a scan of every tracked output per target: re-adding
    # thousands of tracked files one by one must not be quadratic.
    if path.is_dir() and not path.is_symlink():
        held = next((d for d in tracked.paths if d != path and path in d.parents), None)
        if held is not None:
            raise TargetError(
                f"{rel}: contains the tracked output '{held.relative_to(repo.root).as_posix()}'"
            )
    return next((tracked.dirs[d] for d in path.parents if d in tracked.dirs), None)


def _kept_algo(out: Out) -> str:
    """An output keeps its algorithm; legacy DVC 2.x outputs become DVC 3 md5."""
    return "blake3" if out.hash_name == "blake3" else "md5"


def _own_copy(path: Path, types: list[str]) -> bool:
    """Whether the workspace keeps its own copy of ``path`` (never linked to
    the cache)."""
    return not path.is_symlink() and "hardlink" not in types and "symlink" not in types


def _relinks(path: Path, types: list[str]) -> bool:
    """Whether an add links the workspace to the cache afterwards: DVC
    replaces a symlinked target by its content, and links when the cache
    type asks for links (only files still holding what was hashed)."""
    return path.is_symlink() or types[0] in ("hardlink", "symlink")


def _build(
    repo: Repo, path: Path, algo: str, types: list[str], previous: str | None
) -> _core.Built:
    """Hashes and stores ``path``. Where the workspace keeps its own copy, an
    edited chunked file may be stored as the chunks it changed against
    ``previous``, the version recorded before (DESIGN.md 13.0)."""
    rel = path.relative_to(repo.root).as_posix()
    with Bar(f"Adding {rel}") as bar:
        built = repo.workspace.build(
            str(path),
            algo,
            True,
            types[0] == "reflink",
            bar.progress,
            bar.tick,
            previous=previous if _own_copy(path, types) else None,
        )
    _tell_skipped(rel, built.skipped)
    _tell_built(repo, rel, algo, built)
    return built


def _tell_built(repo: Repo, rel: str, algo: str, built: _core.Built) -> None:
    """With ``-v``: what was read and what the cache gained (dvc says "built
    tree" and names each transfer to the cache)."""
    files = built.nfiles if built.nfiles is not None else 1
    debug(
        f"{rel}: {algo} {built.oid}: {files:,} file(s), {built.hashed:,} read and hashed, "
        f"{files - built.hashed:,} taken from the stat cache (unchanged since last hashed); "
        f"{built.stored:,} newly stored in {repo.cache_dir}, the rest were there already"
    )


def _tell_skipped(rel: str, skipped: list[tuple[str, str]], shown: int = 5) -> None:
    """Names what a directory holds that its record leaves out, and why."""
    for inner, why in skipped[:shown]:
        warn(f"{rel}/{inner}: not tracked: {why}")
    if len(skipped) > shown:
        warn(f"{rel}: {len(skipped) - shown} more entries not tracked")


def add_one(
    repo: Repo, path: Path, *, require_dvcfile: bool = False, stamp: bool = False
) -> AddResult:
    """Stores ``path`` and writes its ``.dvc`` file (keeping hand-written
    fields); ``stamp`` writes an import's stage checksum anew, as ``dvc
    commit`` and ``dvc repro`` do (``dvc add`` keeps it)."""
    dvcfile = dvcfile_path_for(path)
    base = load_dvcfile(dvcfile, repo.memo) if dvcfile.exists() else None
    if require_dvcfile and base is None:
        raise TargetError(f"{dvcfile}: does not exist")
    old = base.outs[0] if base and base.outs else None
    algo = _kept_algo(old) if old is not None else repo.default_hash
    types = repo.config.cache_types()
    relink = _relinks(path, types)
    ws = repo.workspace
    rel = path.relative_to(repo.root).as_posix()
    built = _build(repo, path, algo, types, old.oid if old is not None else None)
    out = Out(
        path=path.name,
        hash_name=algo,
        oid=built.oid,
        size=built.size,
        nfiles=built.nfiles,
        isexec=built.isexec,
    )
    if old is not None:
        out.cache, out.push, out.remote = old.cache, old.push, old.remote
    dump_dvcfile(dvcfile, [out], base=base, stamp=stamp)
    debug(f"saved {dvcfile.relative_to(repo.root).as_posix()}")
    if relink:
        # Nothing is deleted or overwritten: edits made while hashing survive.
        r = ws.checkout(str(path), algo, built.oid, built.isexec, types, relink_only=True)
        debug(f"{rel}: linked to the cache by {r.link_type or 'nothing (unchanged)'}")
    gitignore = None
    if scm.uses_git(repo):
        changed = ignore_in_git(repo.root, path)
        gitignore = changed.relative_to(repo.root).as_posix() if changed else None
        if gitignore:
            debug(f"added /{path.name} to {gitignore}")
    return AddResult(
        path=rel,
        dvcfile=dvcfile.relative_to(repo.root).as_posix(),
        oid=built.oid,
        hash=algo,
        size=built.size,
        nfiles=built.nfiles,
        hashed=built.hashed,
        stored=built.stored,
        gitignore=gitignore,
    )


def add_inside(repo: Repo, path: Path, t: Tracked) -> AddResult:
    """``add`` of a path inside the tracked directory ``t``, as DVC 3 does
    it: the path's current content replaces what the directory's ``.dvc``
    file recorded there; the rest of the directory stays as recorded."""
    rel = path.relative_to(repo.root).as_posix()
    # Read now, not when the targets were checked: an earlier target of the
    # same add may have changed this directory's record.
    base = load_dvcfile(t.dvcfile.path, repo.memo)
    out = base.outs[0] if len(base.outs) == 1 else None
    if out is None or out.oid is None:
        raise TargetError(
            f"{rel}: is inside '{t.out.path}', which {t.dvcfile.path.name} does not record "
            "alone; add the whole directory"
        )
    algo = _kept_algo(out)
    types = repo.config.cache_types()
    ws = repo.workspace
    inside = path.relative_to(t.path).as_posix()
    # The version the directory recorded at this path (md5 manifests give
    # chunking nothing to compare).
    previous: str | None = None
    if algo == "blake3" and _own_copy(path, types):
        previous = ws.tree_entry(out.oid, inside)
    relink = _relinks(path, types)
    built = _build(repo, path, algo, types, previous)
    oid, size, nfiles, replaced = ws.graft(
        out.algo, out.oid, inside, algo, built.oid, built.size, built.isexec
    )
    recorded: int | None = size
    if algo == "md5" and (replaced or out.size is None):
        # As dvc writes it: it knows the size of what it adds, not of what
        # that replaces, so a replacing add leaves the size out.
        recorded = None
    dump_dvcfile(t.dvcfile.path, [replace(out, oid=oid, size=recorded, nfiles=nfiles)], base=base)
    debug(
        f"{t.rel(repo)}: now {algo} {oid}; saved {t.dvcfile.path.relative_to(repo.root).as_posix()}"
    )
    if relink:
        ws.checkout(str(path), algo, built.oid, built.isexec, types, relink_only=True)
    return AddResult(
        path=rel,
        dvcfile=t.dvcfile.path.relative_to(repo.root).as_posix(),
        oid=oid,
        hash=algo,
        size=size,
        nfiles=nfiles,
        hashed=built.hashed,
        stored=built.stored,
        gitignore=None,
    )


def _stage_outputs(repo: Repo) -> list[tuple[Path, str]]:
    """Every output a ``dvc.yaml`` declares (run or not), with its stage."""
    pipes = index.load(repo)
    return [(s.abspath(o.path), s.addressing(repo.root)) for s in pipes.stages for o in s.outs]


def add(repo: Repo, targets: Sequence[str | Path], *, glob: bool = False) -> list[AddResult]:
    """Adds every target; checks them all before storing any."""
    paths = expand_targets(targets, glob)
    if not paths:
        raise TargetError("nothing to add: give at least one target")
    outs = collect(repo, stages=False)
    tracked = _Tracked(frozenset(t.path for t in outs), {t.path: t for t in outs if t.out.is_dir})
    stage_outs = _stage_outputs(repo)
    inside: dict[Path, Tracked] = {}
    for p in paths:
        if (t := _check_target(repo, p, tracked)) is not None:
            inside[p] = t
        for out, label in stage_outs:
            if p == out or p.is_relative_to(out) or out.is_relative_to(p):
                rel = out.relative_to(repo.root).as_posix()
                raise TargetError(
                    f"{p.relative_to(repo.root).as_posix()}: overlaps the output '{rel}' of "
                    f"stage '{label}'; a stage's outputs are recorded by repro or commit"
                )
    # A .dvc file git ignores could never be committed: every clone would
    # lack it, and gc there would delete the data it names (dvc refuses too).
    if scm.uses_git(repo):
        new = [dvcfile_path_for(p) for p in paths if p not in inside]
        for dvcfile in git_ignored(repo.root, new):
            rel = dvcfile.relative_to(repo.root).as_posix()
            raise TargetError(f"{rel}: bad DVC file name: it is git-ignored")
    results = []
    with repo.locked():
        for p in paths:
            results.append(add_inside(repo, p, inside[p]) if p in inside else add_one(repo, p))
        if repo.config.core_autostage() and scm.uses_git(repo):
            stage = [repo.root / r.dvcfile for r in results]
            stage += [repo.root / r.gitignore for r in results if r.gitignore]
            scm.git_add(repo.root, stage)
    return results
