"""``bale import`` and ``bale update``: data of another repository, tracked
here by an import ``.dvc`` file in dvc's format.

The file (``dvc import``'s, checked against dvc 3.67.1; see
``shared/dvc-format.md`` §4.5 and §2.4)::

    md5: <stage checksum>
    frozen: true
    deps:
    - path: <PATH in the source>
      repo:
        url: <URL as given>
        rev: <REV, only when one was given>
        rev_lock: <the commit it was read at>
    outs:
    - md5: ...
      size: ...
      hash: md5
      path: <OUT>

The output is the source's output itself when PATH is one (its id, size
and file count are copied, and only objects the cache lacks are fetched);
a path inside a directory output or a file or directory git tracks is
copied and hashed here (with md5, as dvc does, unless it comes from a
blake3 output). ``--no-exec`` writes the file only (no ``rev_lock``, no
hash), ``--no-download`` records the hash without fetching the data.

``update`` reads the source again at the recorded ``rev`` (or its default
branch, or ``--rev``), and where the commit moved rewrites the file and
fetches what the cache lacks: for a directory of 100,000 files of which 10
changed, those 10 files and the new manifest.

A relative local URL is recorded as given and read from the repository's
root (dvc reads it from the current directory).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.console import debug
from bale.exceptions import BaleError, MetafileError, OutputNotTrackedError, TargetError
from bale.index import abspath, inside_repo
from bale.metafiles import dvcfile_path_for, ignore_in_git, load_dvcfile, yaml12
from bale.metafiles._fs import atomic_write
from bale.metafiles.dvcfile import NATIVE_HASH, DvcFile, Out, _state, dumps_dvcfile, stage_md5
from bale.redact import mask_url
from bale.source import Source, open_recorded

if TYPE_CHECKING:
    from bale.remotes.sync import Moved
    from bale.repo import Repo


@dataclass
class ImportResult:
    """One import written (or updated)."""

    path: str  # the output, repository-relative
    dvcfile: str  # repository-relative
    gitignore: str | None  # the .gitignore changed, if any
    source: str  # "PATH (URL)", as dvc prints it
    changed: bool = True  # False: update found nothing new


def _hash_name(algo: str) -> str:
    return NATIVE_HASH if algo == "blake3" else "md5"


def resolve(
    repo: Repo,
    src: Source,
    path: str,
    dest: Path,
    *,
    download: bool,
    jobs: int | None,
    moved: Moved | None = None,
) -> tuple[Out, Path | None]:
    """The output ``path`` of ``src`` becomes at ``dest``, with its objects
    in the cache (unless not ``download``; what moved is added to
    ``moved``); and a temp directory beside ``dest`` to delete, when it had
    to be copied and hashed here."""
    rel_out = dest.name
    located = src.locate(path)
    # Native (blake3) data imported into a dvc-format (md5) repository is
    # hashed again here, as dvc hashes what it imports: dvc could not read
    # an output recorded with bale's native hash.
    rehash = located is not None and located[0].algo == "blake3" and repo.default_hash == "md5"
    if located is not None and located[1] is None and not rehash:
        t = located[0]
        if t.out.oid is None:
            raise OutputNotTrackedError(
                f"{path}: {mask_url(src.url)} records no hash for it at {src.rev_label}"
            )
        # As the source records it (a DVC 2.x output keeps no ``hash:``).
        out = Out(rel_out, t.out.hash_name, t.out.oid, t.out.size, t.out.nfiles, t.out.isexec)
        if download:
            got = src.fetch(repo.workspace, [(t.algo, t.out.oid)], jobs)
            debug(
                f"{path}: {t.algo} {t.out.oid}, as the source records it: {got.copied} "
                "object(s) brought into the cache, which had the rest"
            )
            if moved is not None:
                moved.add(got)
        return out, None
    # A path inside a directory output, or what git tracks: copied, then hashed.
    from bale.ops.get import get

    algo = located[0].algo if located is not None and not rehash else "md5"
    algo = "md5" if algo == "md5-dos2unix" else algo
    if not download:
        if located is None and not src.git_files(path) and not src.outputs_under(path):
            raise OutputNotTrackedError(
                f"{path}: neither git nor bale/dvc tracks it in {mask_url(src.url)} "
                f"at {src.rev_label}"
            )
        return Out(rel_out, _hash_name(algo), None), None
    from bale.staging import staging_dir

    tmp = staging_dir(dest.parent, "import")
    try:
        staged = tmp / "out"
        get(src, path, str(staged), jobs=jobs)
        built = repo.workspace.build(str(staged), algo, True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    debug(
        f"{path}: copied from {mask_url(src.url)} and hashed here: {algo} {built.oid}, "
        f"{built.nfiles or 1} file(s)"
    )
    out = Out(rel_out, _hash_name(algo), built.oid, built.size, built.nfiles, built.isexec)
    return out, tmp


def _write(dvcfile: Path, out: Out, dep: dict[str, Any], base: DvcFile | None, stamp: bool) -> None:
    """Writes the import file as dvc does: ``md5``, ``frozen``, ``deps``, ``outs``."""
    if base is not None:
        data = {**base.data, "deps": [dep]}
        text = dumps_dvcfile([out], replace(base, data=data, deps=[dep]), stamp=stamp)
    else:
        state = _state([out], {"frozen": True, "deps": [dep]})
        if stamp:
            state = {"md5": stage_md5(state), **state}
        text = yaml12.dumps(state)
    atomic_write(dvcfile, text.encode("utf-8"))


def _place(repo: Repo, dest: Path, out: Out, staged: Path | None) -> None:
    """Puts the imported data at ``dest`` from the cache (links as
    ``cache.type`` says). A new output is checked out in a temp directory
    beside ``dest`` and renamed into place, so a killed import leaves none;
    an existing one (``update``, ``-f``) is checked out in place, where the
    engine rewrites only the files that changed (each atomically): an update
    of 10 files of 100,000 touches those 10, and a killed one is finished by
    running it again."""
    from bale.staging import publish, staging_dir

    assert out.oid is not None
    types = repo.config.cache_types()
    try:
        if os.path.lexists(dest):
            repo.workspace.checkout(str(dest), out.algo, out.oid, out.isexec, types, True)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = staging_dir(dest.parent, "import")
        try:
            at = tmp / "out"
            repo.workspace.checkout(str(at), out.algo, out.oid, out.isexec, types, True)
            publish(at, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)


def import_(
    repo: Repo,
    url: str,
    path: str,
    out: str | None = None,
    *,
    rev: str | None = None,
    no_exec: bool = False,
    no_download: bool = False,
    force: bool = False,
    jobs: int | None = None,
    remote: str | None = None,
    config: str | None = None,
    remote_config: dict[str, str] | None = None,
) -> ImportResult:
    """Imports ``path`` of the repository at ``url`` (at ``rev``) to ``out``
    (default: its basename here), tracked by ``<out>.dvc``. ``remote``,
    ``config`` (a config file's path) and ``remote_config`` say where the
    source's data comes from, as for ``get``; the file records them as dvc
    does, so ``update`` and ``fetch`` read from there too."""
    from bale.ops.get import destination

    if no_exec and no_download:
        raise BaleError("--no-exec and --no-download cannot be combined")
    dest = destination(path, out)
    rel = inside_repo(repo, dest, "import destination")
    dvcfile = dvcfile_path_for(dest)
    if os.path.lexists(dest) and not force:
        raise TargetError(f"{rel}: already exists here; use -f to overwrite it")
    repo_dep: dict[str, Any] = {"url": url}
    if rev:
        repo_dep["rev"] = rev
    repo_dep.update(_recorded_remote(remote, config, remote_config))
    shown = f"{path} ({url})"
    with repo.locked():
        if no_exec:
            dep = {"path": path, "repo": repo_dep}
            _write(dvcfile, Out(dest.name, "md5", None), dep, None, stamp=False)
            return _finish(repo, dest, dvcfile, shown)
        with open_recorded(repo.root, repo_dep, rev, type(repo)) as src:
            dep = {"path": path, "repo": _ordered({**repo_dep, "rev_lock": src.commit})}
            new, staged = resolve(repo, src, path, dest, download=not no_download, jobs=jobs)
        if new.oid is not None and not no_download:
            _place(repo, dest, new, staged)
        _write(dvcfile, new, dep, None, stamp=True)
        return _finish(repo, dest, dvcfile, shown)


def _recorded_remote(
    remote: str | None, config: str | None, remote_config: dict[str, str] | None
) -> dict[str, Any]:
    """The ``remote`` and ``config`` an import's ``repo:`` records, as
    dvc's ``Repo.imp`` writes them: a remote's name, or options for the
    default remote, or with both a config holding them (and a config file's
    path, as given)."""
    if remote and remote_config and config is not None:
        raise BaleError("--config cannot be given with both --remote and --remote-config")
    found: dict[str, Any] = {}
    if config is not None:
        found["config"] = config
    if remote is not None and remote_config is not None:
        found["config"] = {"core": {"remote": remote}, "remote": {remote: dict(remote_config)}}
    elif remote is not None:
        found["remote"] = remote
    elif remote_config is not None:
        found["remote"] = dict(remote_config)
    return found


def _ordered(repo_dep: dict[str, Any]) -> dict[str, Any]:
    """Keys as dvc orders them: url, rev, rev_lock, config, remote, then any others."""
    keys = ("url", "rev", "rev_lock", "config", "remote")
    ordered = {k: repo_dep[k] for k in keys if k in repo_dep}
    return {**ordered, **repo_dep}


def _finish(repo: Repo, dest: Path, dvcfile: Path, shown: str) -> ImportResult:
    gitignore = None
    if scm.uses_git(repo):
        changed = ignore_in_git(repo.root, dest)
        gitignore = changed.relative_to(repo.root).as_posix() if changed else None
        if repo.config.core_autostage():
            scm.git_add(repo.root, [dvcfile, *([changed] if changed else [])])
    return ImportResult(
        path=dest.relative_to(repo.root).as_posix(),
        dvcfile=dvcfile.relative_to(repo.root).as_posix(),
        gitignore=gitignore,
        source=shown,
    )


# update


def _import_files(repo: Repo, targets: Sequence[str | Path], recursive: bool) -> list[Path]:
    """The import ``.dvc`` files ``targets`` name (each a ``.dvc`` file or
    its output; with ``recursive``, directories to search)."""
    from bale.index import dvcfiles

    found: list[Path] = []
    for target in targets:
        path = abspath(target)
        inside_repo(repo, path)
        if recursive and path.is_dir():
            found += sorted(p for p in dvcfiles(repo) if p.is_relative_to(path))
            continue
        f = path if path.name.endswith(".dvc") else dvcfile_path_for(path)
        if not f.is_file():
            raise OutputNotTrackedError(f"{target}: no such .dvc file ({f.name})")
        found.append(f)
    return list(dict.fromkeys(found))


def update(
    repo: Repo,
    targets: Sequence[str | Path],
    *,
    rev: str | None = None,
    recursive: bool = False,
    no_download: bool = False,
    jobs: int | None = None,
) -> list[ImportResult]:
    """Moves each targeted import to the newest commit of its recorded
    revision (or to ``rev``), fetching only what the cache lacks."""
    if not targets:
        raise TargetError("update needs targets: the import .dvc files (or outputs) to update")
    results = []
    with repo.locked():
        for f in _import_files(repo, targets, recursive):
            base = load_dvcfile(f, repo.memo)
            rel = f.relative_to(repo.root).as_posix()
            if not base.is_import:
                if recursive:
                    continue
                raise MetafileError(f"{rel}: not an import (written by import or import-url)")
            if not base.is_repo_import:
                results.append(_update_url(repo, base, no_download, jobs))
                continue
            results.append(_update_one(repo, base, rel, rev, no_download, jobs))
    return results


def _update_url(repo: Repo, base: DvcFile, no_download: bool, jobs: int | None) -> ImportResult:
    """An ``import-url`` file, updated by :func:`bale.ops.urls.update_url`
    (``--rev`` does not apply to a URL: dvc ignores it there too)."""
    from bale.ops.urls import update_url

    u = update_url(repo, base.path, no_download=no_download, jobs=jobs)
    dest = abspath(base.path.parent / base.outs[0].path)
    r = _finish(repo, dest, base.path, str(base.deps[0]["path"]))
    r.changed = u.changed
    return r


def _update_one(
    repo: Repo, base: DvcFile, rel: str, rev: str | None, no_download: bool, jobs: int | None
) -> ImportResult:
    dep = dict(base.deps[0])
    repo_dep = dict(dep["repo"])
    old_out = base.outs[0]
    dest = abspath(base.path.parent / old_out.path)
    url, path = str(repo_dep["url"]), str(dep["path"])
    if rev:
        repo_dep["rev"] = rev
    shown = f"{path} ({url})"
    rev_now = repo_dep.get("rev")
    with open_recorded(repo.root, repo_dep, rev_now, type(repo)) as src:
        here = old_out.oid is not None and os.path.lexists(dest)
        if src.commit == repo_dep.get("rev_lock") and here and dep["repo"] == {**repo_dep}:
            debug(f"{rel}: {mask_url(url)} is still at {src.commit}")
            r = _finish(repo, dest, base.path, shown)
            r.changed = False
            return r
        debug(
            f"{rel}: {mask_url(url)} at {src.rev_label} is commit {src.commit}, "
            f"the file records {repo_dep.get('rev_lock')}"
        )
        repo_dep["rev_lock"] = src.commit
        dep["repo"] = _ordered(repo_dep)
        new, staged = resolve(repo, src, path, dest, download=not no_download, jobs=jobs)
    new = replace(new, path=old_out.path)
    if new.oid is not None and not no_download:
        _place(repo, dest, new, staged)
    _write(base.path, new, dep, base, stamp=True)
    return _finish(repo, dest, base.path, shown)
