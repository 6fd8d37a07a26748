"""``bale import-url``, ``get-url``, ``ls-url``, and the update of an
``import-url`` ``.dvc`` file, as dvc 3.67.1 does them.

The file ``import-url`` writes (checked against dvc, see
tests/interop/test_import_url.py and tests/remotes/test_url_sources.py)::

    md5: <stage checksum>          # absent with --no-exec
    frozen: true
    deps:
    - md5: <content md5>           # local, SSH; etag (S3, GCS, Azure, WebDAV),
      size: 6                      # checksum (HTTP); a directory: md5 <...>.dir
      version_id: '<generation>'   # GCS files only
      hash: md5
      path: /abs/or/as/given       # a path inside the repository: relative to the file
      fs_config: {...}             # only with --fs-config
    outs:
    - md5: ...
      size: 6
      hash: md5
      path: name

Where the data goes: a local source is hashed and stored by the engine
where it lies, then checked out into a staging directory beside the
destination; a remote one is downloaded into that staging directory and
stored from there. Either way the result reaches the destination by a
rename, so an interrupted import leaves the workspace as it was (the cache
may keep objects, as after an interrupted ``add``); the ``.dvc`` file is
written last.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from bale import scm
from bale.console import debug
from bale.exceptions import TargetError
from bale.index import collect, inside_repo
from bale.metafiles import (
    DvcFile,
    Out,
    dump_dvcfile,
    dvcfile_path_for,
    git_ignored,
    ignore_in_git,
    load_dvcfile,
)
from bale.progress import Bar
from bale.remotes.urls import Entry, Info, LocalUrl, Node, Url, UrlMissingError, open_url
from bale.staging import destination, publish, staging_dir

if TYPE_CHECKING:
    from bale.remotes import Remote
    from bale.repo import Repo

__all__ = [
    "ImportUrlResult",
    "UpdateUrlResult",
    "get_url",
    "import_url",
    "ls_url",
    "ls_url_tree",
    "remotes_of",
    "source_state",
    "update_url",
]

# Requests in flight without -j (dvc: 4 per core). Most requests fetch one
# small file: importing an S3 prefix of 2,000 files of 2 KiB from SeaweedFS
# on loopback (2 cores) took 3.3 s with 8 in flight, 2.2 s with 32 (dvc 7.1 s),
# the figures behind bale.remotes.sync.store_jobs too.
_JOBS_PER_CORE = 16


@dataclass(frozen=True)
class ImportUrlResult:
    """One ``import-url``: what was written, repository-relative."""

    path: str
    dvcfile: str
    gitignore: str | None
    downloaded: bool


@dataclass(frozen=True)
class UpdateUrlResult:
    """One update of an ``import-url`` file: whether its source had changed
    (or its output was missing), and whether data was downloaded."""

    dvcfile: str
    changed: bool
    downloaded: bool


def _jobs(jobs: int | None) -> int:
    return jobs or _JOBS_PER_CORE * (os.cpu_count() or 1)


def resolve_output(url: str, out: str | Path | None, force: bool) -> Path:
    """Where ``url`` lands, as dvc's ``resolve_output``: ``out``, or inside
    it when it is a directory, or the URL's last name in the current one."""
    name = os.path.basename(os.path.normpath(urlparse(url).path))
    dest = destination(name, out, url)
    if (dest.exists() or dest.is_symlink()) and not force:
        shown = os.path.relpath(dest)
        raise TargetError(f"{shown}: already exists locally; use -f to overwrite it")
    return dest


def remotes_of(repo: Repo) -> Callable[[str], Remote]:
    """How ``remote://<name>/...`` URLs find their remote: in ``repo``'s
    config (``get_url``, ``ls_url`` take it as ``remotes``)."""
    from bale.remotes import resolve_remote

    return lambda name: resolve_remote(repo, name)


# ---------------------------------------------------------------------------
# moving data into place


@dataclass(frozen=True)
class _Stored:
    oid: str
    size: int
    nfiles: int | None
    isexec: bool
    md5: str  # the content's md5 (the dep of a local source records it)


def _store_local(repo: Repo, src: LocalUrl, algo: str, store: bool) -> _Stored:
    """Hashes (and with ``store`` stores) a local source where it lies."""
    ws = repo.workspace
    with Bar(f"Importing {src.url}") as bar:
        built = ws.build(str(src.path), algo, store, False, bar.progress, bar.tick)
        md5 = built.oid
        if algo != "md5":
            # dvc's deps know md5 only.
            md5 = ws.build(str(src.path), "md5", False, False, bar.progress, bar.tick).oid
    return _Stored(built.oid, built.size, built.nfiles, built.isexec, md5)


def _fetch(repo: Repo, src: Url, info: Info, dest: Path, algo: str, jobs: int) -> _Stored:
    """Brings what ``src`` holds into the cache and to ``dest`` (replaced),
    by way of a staging directory beside it (one a killed bale left there
    is removed first: :func:`bale.staging.staging_dir`)."""
    ws = repo.workspace
    types = repo.config.cache_types()
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = staging_dir(dest.parent, "import-url")
    tmp = stage / dest.name
    try:
        if isinstance(src, LocalUrl):
            stored = _store_local(repo, src, algo, True)
            debug(
                f"{src.shown}: read where it lies and stored in the cache {repo.cache_dir} "
                f"as {algo} {stored.oid}"
            )
            ws.checkout(str(tmp), algo, stored.oid, stored.isexec, types)
            publish(stage / dest.name, dest)
            return stored
        with Bar(f"Importing {src.shown}") as bar:
            src.download(tmp, info, jobs, bar)
            built = ws.build(str(tmp), algo, True, types[0] == "reflink", bar.progress, bar.tick)
            md5 = _content_md5(repo, src, tmp, algo, built.oid, bar)
        debug(
            f"{src.shown}: downloaded {built.nfiles or 1:,} file(s), {built.size:,} bytes, "
            f"stored in the cache {repo.cache_dir} as {algo} {built.oid}"
        )
        publish(stage / dest.name, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if types[0] in ("hardlink", "symlink"):
        ws.checkout(str(dest), algo, built.oid, built.isexec, types, relink_only=True)
    return _Stored(built.oid, built.size, built.nfiles, built.isexec, md5)


def _content_md5(repo: Repo, src: Url, tmp: Path, algo: str, oid: str, bar: Bar) -> str:
    """The md5 dvc records of a source it knows by content (:attr:`Url.hashed`),
    from its downloaded copy ``tmp``; empty for the others."""
    if not src.hashed:
        return ""
    if algo == "md5":
        return oid
    return repo.workspace.build(str(tmp), "md5", False, False, bar.progress, bar.tick).oid


def _hash_source(repo: Repo, src: Url, info: Info, jobs: int) -> _Stored | None:
    """What dvc records of a source it knows by content (a local path, or SSH,
    which is downloaded into a staging directory, hashed and dropped; dvc
    reads it whole too), without storing it; None for the others."""
    if isinstance(src, LocalUrl):
        return _store_local(repo, src, "md5", False)
    if not src.hashed:
        return None
    repo.tmp_dir.mkdir(parents=True, exist_ok=True)
    stage = staging_dir(repo.tmp_dir, "hash-url")
    try:
        with Bar(f"Hashing {src.shown}") as bar:
            src.download(stage / "data", info, jobs, bar)
            built = repo.workspace.build(
                str(stage / "data"), "md5", False, False, bar.progress, bar.tick
            )
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    # dvc-ssh's info has no mode, so dvc never records isexec of its sources
    return _Stored(built.oid, built.size, built.nfiles, False, built.oid)


# ---------------------------------------------------------------------------
# the dependency record


def dep_path(repo: Repo, url: str, wdir: Path, base: Path) -> str:
    """The ``path:`` of the dependency, as dvc writes it: the URL as given,
    but a path inside the repository relative to the ``.dvc`` file's
    directory, and ``file://`` as a plain path (dvc cannot read those)."""
    if url.startswith("file://"):
        from bale.remotes.urls import local_path

        local = local_path(url, base)
        assert local is not None
        url = str(local)
    if "://" in url:
        return url
    full = Path(os.path.normpath(base / url))
    if full.is_relative_to(repo.root):
        return Path(os.path.relpath(full, wdir)).as_posix()
    return url


def _dep(
    path: str, info: Info | None, stored: _Stored | None, fs_config: Mapping[str, str] | None
) -> dict[str, Any]:
    """The dependency entry in dvc's key order (``Output.dumpd``: the hash,
    the metadata, ``hash``, ``path``, ``fs_config``)."""
    dep: dict[str, Any] = {}
    if stored is not None and stored.md5:
        dep["md5"] = stored.md5
        dep["size"] = stored.size
        if stored.nfiles is not None:
            dep["nfiles"] = stored.nfiles
        if stored.isexec:
            dep["isexec"] = True
    elif info is not None and info.checksum:
        dep.update(info.checksum)
        if info.size is not None:
            dep["size"] = info.size
        if info.nfiles is not None:
            dep["nfiles"] = info.nfiles
        dep.update(info.meta)
    dep["hash"] = "md5"
    dep["path"] = path
    if fs_config:
        dep["fs_config"] = dict(fs_config)
    return dep


def _write(dvcfile: Path, dep: dict[str, Any], out: Out, base: DvcFile | None, stamp: bool) -> None:
    """Writes the import file: ``base`` updated (its formatting kept), or a
    new one; ``stamp`` writes the stage checksum (not for ``--no-exec``)."""
    if base is None:
        data: dict[str, Any] = {"frozen": True, "deps": [dep], "outs": []}
        if stamp:
            data = {"md5": "0" * 32, **data}  # placeholder, keeps md5 first
        base = DvcFile(path=dvcfile, outs=[out], deps=[dep], data=data, text="")
    else:
        data = dict(base.data)
        data["deps"] = [dep]
        base = replace(base, deps=[dep], data=data)
    dump_dvcfile(dvcfile, [out], base=base, stamp=stamp)


def _recordable(info: Info) -> Info:
    """``info``, unless bale cannot record the source as dvc would."""
    if info.unrecordable:
        raise TargetError(info.unrecordable)
    return info


def _checksums(dep: Mapping[str, Any]) -> str:
    """What a dependency record says of its source's version, for ``-v``."""
    keys = [k for k in dep if k not in ("path", "fs_config")]
    return ", ".join(f"{k} {dep[k]}" for k in keys) or "no checksum"


def _same_source(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    keys = ("md5", "etag", "checksum")
    return any(old.get(k) for k in keys) and all(old.get(k) == new.get(k) for k in keys)


# ---------------------------------------------------------------------------
# the commands


def import_url(
    repo: Repo,
    url: str,
    out: str | Path | None = None,
    *,
    no_exec: bool = False,
    no_download: bool = False,
    jobs: int | None = None,
    force: bool = False,
    fs_config: Mapping[str, str] | None = None,
) -> ImportUrlResult:
    """Downloads ``url`` to ``out`` and tracks it with an import ``.dvc``
    file, as ``dvc import-url``. ``no_exec`` writes the file only;
    ``no_download`` records the source's checksum but downloads nothing."""
    if no_exec and no_download:
        raise TargetError("--no-exec and --no-download cannot be used together")
    cwd = Path.cwd()
    dest = resolve_output(url, out, force)
    rel = inside_repo(repo, dest)
    if dest.name.endswith(".dvc"):
        raise TargetError(f"{rel}: is a .dvc file name; choose another output")
    dvcfile = dvcfile_path_for(dest)
    _check_overlap(repo, dest, dvcfile)
    if scm.uses_git(repo) and git_ignored(repo.root, [dvcfile]):
        raise TargetError(f"{dvcfile.relative_to(repo.root).as_posix()}: it is git-ignored")
    algo = repo.default_hash
    path = dep_path(repo, url, dest.parent, cwd)
    with (
        repo.locked(),
        open_url(
            url, base=cwd, fs_config=fs_config, jobs=_jobs(jobs), remotes=remotes_of(repo)
        ) as src,
    ):
        info = None if no_exec else _recordable(src.info())
        stored = None
        if info is not None and no_download:
            stored = _hash_source(repo, src, info, _jobs(jobs))
        if info is not None and not no_download:
            if dest.exists() or dest.is_symlink():
                _check_replaceable(repo, dest)
            stored = _fetch(repo, src, info, dest, algo, _jobs(jobs))
        o = Out(path=dest.name, hash_name=algo, oid=None)
        if stored is not None and not no_download:
            o = replace(
                o, oid=stored.oid, size=stored.size, nfiles=stored.nfiles, isexec=stored.isexec
            )
        dep = _dep(path, info, stored, fs_config)
        debug(f"{src.shown}: recorded as {_checksums(dep)}")
        # A new file, even over an old one (-f), as dvc writes it.
        _write(dvcfile, dep, o, None, stamp=not no_exec)
        gitignore = None
        if scm.uses_git(repo):
            changed = ignore_in_git(repo.root, dest)
            gitignore = changed.relative_to(repo.root).as_posix() if changed else None
            if repo.config.core_autostage():
                scm.git_add(repo.root, [dvcfile, *([changed] if changed else [])])
    return ImportUrlResult(
        path=rel,
        dvcfile=dvcfile.relative_to(repo.root).as_posix(),
        gitignore=gitignore,
        downloaded=not (no_exec or no_download),
    )


def _check_overlap(repo: Repo, dest: Path, dvcfile: Path) -> None:
    """Refuses an output that would lie inside, contain or be another file's
    output (dvc's overlapping outputs); its own ``.dvc`` file is replaced."""
    for t in collect(repo):
        if t.dvcfile.path == dvcfile and t.stage is None:
            continue
        if t.path == dest or t.path in dest.parents or dest in t.path.parents:
            where = t.dvcfile.path.relative_to(repo.root).as_posix()
            raise TargetError(
                f"{dest.relative_to(repo.root).as_posix()}: overlaps the output "
                f"'{t.rel(repo)}' of {where}"
            )


def _check_replaceable(repo: Repo, dest: Path) -> None:
    """``-f`` replaces a file or directory, never the repository's own parts."""
    if dest == repo.root or dest in repo.root.parents or dest.name in (".git", ".dvc"):
        raise TargetError(f"{dest}: cannot be replaced")


def update_url(
    repo: Repo, dvcfile: Path, *, no_download: bool = False, jobs: int | None = None
) -> UpdateUrlResult:
    """Updates the ``import-url`` file ``dvcfile`` as ``dvc update`` does:
    the source's current checksum (etag, checksum or md5) is compared with
    the recorded one, and the data downloaded again only when it changed or
    the output is missing or modified in the workspace (when the cache has
    the recorded data, it is checked out instead). With ``no_download`` the
    new checksum is recorded and the output's hash cleared, nothing is
    downloaded. The caller holds the repository lock."""
    d = load_dvcfile(dvcfile, repo.memo)
    rel = dvcfile.relative_to(repo.root).as_posix()
    if not d.is_import or d.is_repo_import:
        raise TargetError(f"{rel}: is not an import-url file")
    old_dep = d.deps[0]
    wdir = dvcfile.parent
    fs_config = old_dep.get("fs_config")
    if fs_config is not None and not isinstance(fs_config, Mapping):
        raise TargetError(f"{rel}: 'fs_config' of its dependency must be a mapping")
    out = d.outs[0]
    dest = wdir / out.path
    algo = out.algo if out.oid is not None else (out.hash_name or repo.default_hash)
    if algo == "md5-dos2unix":
        algo = "md5"
    url = str(old_dep["path"])
    with open_url(
        url, base=wdir, fs_config=fs_config, jobs=_jobs(jobs), remotes=remotes_of(repo)
    ) as src:
        info = _recordable(src.info())
        stored = _hash_source(repo, src, info, _jobs(jobs))
        dep = _dep(url, info, stored, fs_config)
        source_changed = not _same_source(old_dep, dep)
        ws = repo.workspace
        current = ws.status(str(dest), out.algo, out.oid).oid if out.oid else None
        out_ok = out.oid is not None and current == out.oid
        debug(
            f"{src.shown}: now {_checksums(dep)}; {rel} records {_checksums(old_dep)}: "
            f"{'changed' if source_changed else 'unchanged'}; the output "
            f"{'matches its record' if out_ok else 'is missing or differs from its record'}"
        )
        if not source_changed and out_ok and not d.checksum_changed:
            return UpdateUrlResult(rel, changed=False, downloaded=False)
        new_out = replace(out, oid=None, size=None, nfiles=None, isexec=False, hash_name=algo)
        downloaded = False
        if no_download:
            pass
        elif not source_changed and out.oid is not None and ws.exists(out.algo, out.oid):
            # As dvc's sync_import: the recorded data is cached; check it out.
            ws.checkout(str(dest), out.algo, out.oid, out.isexec, repo.config.cache_types(), True)
            debug(f"{rel}: checked out from the cache, nothing downloaded")
            new_out = out
        else:
            stored = _fetch(repo, src, info, dest, algo, _jobs(jobs))
            if src.hashed:
                dep = _dep(url, info, stored, fs_config)
            new_out = replace(
                new_out,
                oid=stored.oid,
                size=stored.size,
                nfiles=stored.nfiles,
                isexec=stored.isexec,
            )
            downloaded = True
        _write(dvcfile, dep, new_out, d, stamp=True)
    return UpdateUrlResult(rel, changed=True, downloaded=downloaded)


def source_state(repo: Repo, dvcfile: DvcFile) -> str | None:
    """How the remote source of the ``import-url`` file ``dvcfile`` has
    changed since it was recorded, as ``dvc status`` says it of a dependency
    ("modified", "deleted"), or None when it has not (an SSH source is
    downloaded and hashed to tell, as dvc does)."""
    dep = dvcfile.deps[0]
    fs_config = dep.get("fs_config")
    with open_url(
        str(dep["path"]),
        base=dvcfile.path.parent,
        fs_config=fs_config if isinstance(fs_config, Mapping) else None,
        remotes=remotes_of(repo),
    ) as src:
        try:
            info = _recordable(src.info())
        except UrlMissingError:
            return "deleted"
        stored = _hash_source(repo, src, info, _jobs(None))
    return None if _same_source(dep, _dep(str(dep["path"]), info, stored, None)) else "modified"


def get_url(
    url: str,
    out: str | Path | None = None,
    *,
    jobs: int | None = None,
    force: bool = False,
    fs_config: Mapping[str, str] | None = None,
    remotes: Callable[[str], Remote] | None = None,
) -> Path:
    """Downloads ``url`` to ``out``, untracked, as ``dvc get-url``; the
    destination appears whole or not at all."""
    cwd = Path.cwd()
    dest = resolve_output(url, out, force)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = staging_dir(dest.parent, "get-url")
    try:
        with open_url(url, base=cwd, fs_config=fs_config, jobs=_jobs(jobs), remotes=remotes) as src:
            info = src.info()
            with Bar(f"Downloading {src.shown}") as bar:
                src.download(stage / dest.name, info, _jobs(jobs), bar)
            what = "a file"
            if info.isdir:
                what = "a directory" + (f" of {info.nfiles:,} file(s)" if info.nfiles else "")
            size = f", {info.size:,} bytes" if info.size is not None else ""
            debug(f"{src.shown}: {what}{size}, downloaded to {dest}")
        publish(stage / dest.name, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return dest


def ls_url(
    url: str,
    *,
    recursive: bool = False,
    maxdepth: int | None = None,
    fs_config: Mapping[str, str] | None = None,
    remotes: Callable[[str], Remote] | None = None,
) -> list[Entry]:
    """What ``url`` holds, as ``dvc ls-url`` lists it: a file URL is one
    entry (its path as given); a directory's entries are relative to it,
    with ``recursive`` every file (down to ``maxdepth`` levels)."""
    with open_url(url, base=Path.cwd(), fs_config=fs_config, remotes=remotes) as src:
        isdir = src.isdir()
        if maxdepth == 0 or not isdir:
            return [Entry(src.named(isdir), False, None)]
        return src.listing(recursive, maxdepth)


def ls_url_tree(
    url: str,
    *,
    maxdepth: int | None = None,
    fs_config: Mapping[str, str] | None = None,
    remotes: Callable[[str], Remote] | None = None,
) -> Node:
    """What ``url`` holds as a tree (``dvc ls-url --tree``), ``maxdepth``
    levels deep."""
    with open_url(url, base=Path.cwd(), fs_config=fs_config, remotes=remotes) as src:
        return src.tree(maxdepth)
