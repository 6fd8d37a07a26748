"""``bale://``: a repository at a revision as an fsspec file system.

:class:`BaleFileSystem` shows the files git tracks and the files bale or
dvc track (``.dvc`` files and ``dvc.lock`` outputs, directory outputs
expanded from their manifests) as one read-only tree, as dvc's
``DVCFileSystem`` does::

    fs = BaleFileSystem(repo="https://github.com/org/registry", rev="v2")
    fs.ls("data")                       # names, sizes, types: manifests only
    with fs.open("data/train.csv") as f:
        head = f.read(100)
    fs.get("data/images", "local/images", recursive=True)  # in parallel

It is registered under the protocol ``bale`` (an ``fsspec.specs`` entry
point), so anything that takes an fsspec URL reads tracked data::

    pandas.read_csv("bale://data/train.csv", storage_options={"repo": url, "rev": "v2"})

Paths are relative to the repository's root (a leading ``/`` is the root
too); names in listings are returned without it. ``*.dvc``, ``dvc.yaml``,
``dvc.lock`` and ``.dvcignore`` are left out of listings (``dvcfiles=True``
shows them), as dvc leaves them out; ``.dvc/`` and ``.git/`` are never
shown.

Nothing is written into the repository's workspace. Listing a directory
output reads its manifest only, never the files' data.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from fsspec.spec import AbstractFileSystem

from bale.exceptions import (
    BaleError,
    OutputNotTrackedError,
    TargetNotFoundError,
)
from bale.view import View, open_view

if TYPE_CHECKING:
    from bale.index import Tracked

__all__ = ["PROTOCOL", "BaleFileSystem"]

PROTOCOL = "bale"

#: Names dvc's file system leaves out of listings (``dvcfiles=True`` shows them).
_METAFILE_NAMES = ("dvc.yaml", "dvc.lock", ".dvcignore")


def _is_metafile(name: str) -> bool:
    return name.endswith(".dvc") or name in _METAFILE_NAMES


@dataclass(frozen=True)
class _Node:
    """One file or directory of the tree."""

    type: str  # "file" or "directory"
    size: int | None = None
    isexec: bool = False
    #: In git at the revision (in the workspace: on disk).
    git: bool = False
    #: The output (repository-relative path) it is, or is inside; None for
    #: what only git has.
    out: str | None = None
    algo: str | None = None
    oid: str | None = None

    def merged(self, other: _Node) -> _Node:
        """This node with a second source's view of the same path: git's
        type and size where git has the path (dvc's ``_merge_info``), the
        output's identity from whichever is tracked."""
        git = self if self.git else other if other.git else None
        dvc = self if self.out is not None else other if other.out is not None else None
        if git is None or dvc is None:
            return git or dvc or other
        if git.type != dvc.type:
            return git  # dvc drops what it tracks when the types differ
        return _Node(git.type, git.size, git.isexec, True, dvc.out, dvc.algo, dvc.oid)


def _norm(path: str) -> str:
    """A repository-relative posix path: no leading ``/``, ``""`` for the root."""
    path = posixpath.normpath("/" + path.replace(os.sep, "/")).lstrip("/")
    return "" if path == "." else path


class _Tree:
    """The repository's files at one revision, as nested directories;
    directory outputs are expanded from their manifests when first visited."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.dirs: dict[str, dict[str, _Node]] = {"": {}}
        for rel, size, isexec in view.git_files():
            self._add(rel, _Node("file", size, isexec, git=True))
        self.outs: dict[str, Tracked] = {}
        for t in view.outputs():
            rel = view.rel(t)
            self.outs[rel] = t
            kind = "directory" if t.out.is_dir else "file"
            self._add(
                rel, _Node(kind, t.out.size, t.out.isexec, out=rel, algo=t.algo, oid=t.out.oid)
            )
        self._expanded: set[str] = set()

    def _add(self, rel: str, node: _Node) -> None:
        parent, _, name = rel.rpartition("/")
        # directories inside an output are part of it (dvc: ``isout``)
        inside = node.out is not None and parent.startswith(node.out)
        self._ensure_dir(parent, node.out if inside else None)
        siblings = self.dirs[parent]
        old = siblings.get(name)
        siblings[name] = node if old is None else old.merged(node)
        if siblings[name].type == "directory":
            self.dirs.setdefault(rel, {})

    def _ensure_dir(self, rel: str, out: str | None = None) -> None:
        if rel in self.dirs:
            self._mark(rel, out)
            return
        parent, _, name = rel.rpartition("/")
        self._ensure_dir(parent, out if out is not None and parent.startswith(out) else None)
        self.dirs[parent].setdefault(name, _Node("directory", out=out))
        self.dirs[rel] = {}

    def _mark(self, rel: str, out: str | None) -> None:
        """Marks the directory ``rel`` and those above it up to ``out`` as
        part of output ``out`` (the workspace's directories were met on
        disk before the manifest said they belong to it)."""
        while out is not None and rel.startswith(out) and rel != out:
            parent, _, name = rel.rpartition("/")
            node = self.dirs[parent][name]
            if node.out is not None:
                return
            self.dirs[parent][name] = dataclasses.replace(node, out=out)
            rel = parent

    def owner(self, rel: str) -> str | None:
        """The directory output ``rel`` is, or is inside (nearest first)."""
        while True:
            t = self.outs.get(rel)
            if t is not None and t.out.is_dir:
                return rel
            if not rel:
                return None
            rel = rel.rpartition("/")[0]

    def expand(self, rel: str) -> None:
        """Makes sure the manifest of the directory output holding ``rel``
        (if any) is in the tree."""
        out = self.owner(rel)
        if out is None or out in self._expanded:
            return
        self._expanded.add(out)
        t = self.outs[out]
        assert t.out.oid is not None
        algo = t.algo
        for sub, oid, size, isexec in self.view.manifest(algo, t.out.oid):
            # dvc's manifests record no sizes: unknown until read, as dvc says
            known = None if algo.startswith("md5") else size
            self._add(f"{out}/{sub}", _Node("file", known, isexec, out=out, algo=algo, oid=oid))

    def node(self, rel: str) -> _Node | None:
        self.expand(rel)
        if not rel:
            return _Node("directory")
        parent, _, name = rel.rpartition("/")
        return self.dirs.get(parent, {}).get(name)

    def children(self, rel: str) -> dict[str, _Node] | None:
        self.expand(rel)
        return self.dirs.get(rel)


class BaleFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """A repository at a revision: git-tracked and bale/dvc-tracked files as
    one read-only tree.

    ``repo`` is a local path or any URL ``git clone`` takes (default: the
    repository around the current directory); ``rev`` any git revision
    (default: for a local repository its workspace, as dvc reads it; for a
    URL its default branch). ``remote`` names the remote data comes from
    when the cache lacks it (default: the repository's default remote).
    ``jobs`` bounds the parallel reads of :meth:`get` and :meth:`stream`.
    """

    protocol = PROTOCOL
    root_marker = ""
    # A workspace changes under us: instances are not shared by fsspec.
    cachable = False

    def __init__(
        self,
        repo: str | os.PathLike[str] | None = None,
        rev: str | None = None,
        remote: str | None = None,
        jobs: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repo_url = os.fspath(repo) if repo is not None else None
        self.rev = rev
        self.remote = remote
        self.jobs = jobs or min(32, 4 * (os.cpu_count() or 1))
        self._view: View | None = None
        self._tree: _Tree | None = None

    # -- the repository, opened on first use --------------------------------

    @property
    def view(self) -> View:
        """The repository at the revision, opened on first use."""
        if self._view is None:
            self._view = open_view(self.repo_url, self.rev, self.remote, self.jobs)
        return self._view

    @property
    def tree(self) -> _Tree:
        if self._tree is None:
            self._tree = _Tree(self.view)
        return self._tree

    def close(self) -> None:
        """Releases what opening the repository took (a clone, a temp cache)."""
        if self._view is not None:
            self._view.close()
        self._view = None
        self._tree = None

    def __enter__(self) -> BaleFileSystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paths ----------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
        if path.startswith(PROTOCOL + "://"):
            path = path[len(PROTOCOL) + 3 :]
        return _norm(path)

    def _missing(self, path: str) -> TargetNotFoundError:
        return TargetNotFoundError(f"{path or '/'}: no such file or directory in {self.view.label}")

    # -- listing --------------------------------------------------------------

    def _info(self, rel: str, node: _Node) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": rel,
            "type": node.type,
            "size": node.size,
            "isexec": node.isexec,
            "isout": node.out is not None,
        }
        if node.oid is not None and node.algo is not None:
            info["algo"], info["oid"] = node.algo, node.oid
            if node.algo.startswith("md5"):
                info["md5"] = node.oid
        return info

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        rel = self._strip_protocol(path)
        node = self.tree.node(rel)
        if node is None:
            raise self._missing(rel)
        return self._info(rel, node)

    def ls(
        self, path: str, detail: bool = True, dvcfiles: bool = False, **kwargs: Any
    ) -> list[dict[str, Any]] | list[str]:
        rel = self._strip_protocol(path)
        tree = self.tree
        children = tree.children(rel)
        if children is None:
            node = tree.node(rel)
            if node is None:
                raise self._missing(rel)
            entries = [self._info(rel, node)]
        else:
            entries = [
                self._info(posixpath.join(rel, name), node)
                for name, node in sorted(children.items())
                if dvcfiles or not _is_metafile(name)
            ]
        return entries if detail else [e["name"] for e in entries]

    def entries(
        self, path: str = "", *, recursive: bool = False, dvc_only: bool = False
    ) -> list[dict[str, Any]]:
        """``path``'s entries as ``dvc ls --json`` gives them (``.dvc`` files
        and ``dvc.yaml`` included): ``{"isout", "isdir", "isexec", "size",
        "md5", "path"}``, ``path`` relative to ``path`` (a file: its name).
        ``recursive`` lists every file below; ``dvc_only`` only what
        bale/dvc track (and the directories that lead to it)."""
        rel = self._strip_protocol(path)
        tree = self.tree
        node = tree.node(rel)
        if node is None:
            raise self._missing(rel)
        if node.type == "file":
            found = [(posixpath.basename(rel), node)]
        else:
            found = []
            todo = [rel]
            while todo:
                d = todo.pop()
                for name, child in (tree.children(d) or {}).items():
                    full = posixpath.join(d, name)
                    if child.type == "directory" and recursive:
                        todo.append(full)
                        continue
                    if dvc_only and child.out is None and not self._leads_to_output(full, child):
                        continue
                    found.append((posixpath.relpath(full, rel or "."), child))
        return [
            {
                "isout": n.out is not None,
                "isdir": n.type == "directory",
                "isexec": n.isexec,
                "size": n.size,
                "md5": n.oid if n.algo and n.algo.startswith("md5") else None,
                "path": name,
            }
            for name, n in sorted(found)
        ]

    def _leads_to_output(self, rel: str, node: _Node) -> bool:
        return node.type == "directory" and any(o.startswith(rel + "/") for o in self.tree.outs)

    def url(self, path: str) -> str:
        """Where ``path``'s data is on the remote (:func:`bale.api.get_url`)."""
        rel = self._strip_protocol(path)
        node = self.tree.node(rel)
        if node is None:
            raise self._missing(rel)
        if node.out is None or node.oid is None or node.algo is None:
            raise OutputNotTrackedError(f"{rel}: not tracked by bale or dvc in {self.view.label}")
        return self.view.object_url(node.algo, node.oid, rel)

    # -- reading --------------------------------------------------------------

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> BinaryIO:
        if mode != "rb":
            raise OSError(f"{path}: {PROTOCOL}:// is read-only (mode {mode!r})")
        rel = self._strip_protocol(path)
        node = self.tree.node(rel)
        if node is None:
            raise self._missing(rel)
        if node.type == "directory":
            raise IsADirectoryError(f"{rel}: is a directory in {self.view.label}")
        return self._reader(rel, node)

    def _reader(self, rel: str, node: _Node) -> BinaryIO:
        # Git (or the workspace, on disk) first, as dvc reads: a tracked file
        # present there is that file.
        if node.git:
            return self.view.open_git(rel)
        assert node.algo is not None and node.oid is not None
        return self.view.open_object(node.algo, node.oid, rel)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        with self._open(path) as f:
            if start is not None:
                f.seek(start if start >= 0 else max(0, self.size(path) + start))
            if end is None:
                return f.read()
            stop = end if end >= 0 else self.size(path) + end
            return f.read(max(0, stop - f.tell()))

    def _files_under(self, rel: str) -> list[str]:
        """The files at or under ``rel``, in sorted order."""
        node = self.tree.node(rel)
        if node is None:
            raise self._missing(rel)
        if node.type == "file":
            return [rel]
        found = self.find(rel)
        return list(found)

    def get(
        self,
        rpath: str,
        lpath: str,
        recursive: bool = False,
        callback: Any = None,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Copies ``rpath`` (a file, or with ``recursive`` a directory) to the
        local ``lpath``, ``jobs`` files at a time. As dvc does, an existing
        directory ``lpath`` (or one ending in a separator) receives
        ``rpath`` under its own name. Each file lands under a temp name
        and is renamed when complete: no partial file is left."""
        if isinstance(rpath, list) or isinstance(lpath, list):
            raise BaleError(f"{PROTOCOL}:// get: one source and one destination, not lists")
        rel = self._strip_protocol(rpath)
        node = self.tree.node(rel)
        if node is None:
            raise self._missing(rel)
        lpath = os.fspath(lpath)
        if os.path.isdir(lpath) or lpath.endswith(os.sep):
            lpath = os.path.join(lpath, posixpath.basename(rel) or "root")
        if node.type == "file":
            pairs = [(rel, lpath)]
        else:
            if not recursive:
                raise IsADirectoryError(f"{rel}: is a directory (get it with recursive=True)")
            pairs = [
                (f, os.path.join(lpath, *posixpath.relpath(f, rel or ".").split("/")))
                for f in self.find(rel, maxdepth=maxdepth)
            ]
            os.makedirs(lpath, exist_ok=True)
        self._copy_all(pairs)

    def _copy_all(self, pairs: list[tuple[str, str]]) -> None:
        def one(pair: tuple[str, str]) -> None:
            src, dest = pair
            parent = os.path.dirname(dest) or "."
            os.makedirs(parent, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=".bale-get-")
            try:
                with os.fdopen(fd, "wb") as out, self._open(src) as f:
                    shutil.copyfileobj(f, out, 1 << 20)
                os.replace(tmp, dest)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

        where = dict(pairs)
        with concurrent.futures.ThreadPoolExecutor(self.jobs) as pool:
            for group in self._batches([src for src, _dest in pairs]):
                for fut in [pool.submit(one, (src, where[src])) for src in group]:
                    fut.result()

    # -- many files: fetched ahead in batches ---------------------------------

    #: How many files :meth:`get` and :meth:`stream` fetch from a remote at once.
    batch = 1024

    def _objects(self, names: list[str]) -> list[tuple[str, str]]:
        """The objects of the tracked files among ``names`` (those git has are read from git)."""
        found = []
        for name in names:
            node = self.tree.node(name)
            if node is not None and not node.git and node.algo and node.oid:
                found.append((node.algo, node.oid))
        return found

    def _batches(self, names: list[str]) -> Iterator[list[str]]:
        """``names`` in groups of :attr:`batch`, the objects of each fetched
        from the remote (if no cache has them) in one parallel request
        batch, the next group's while the caller works on this one. When
        the caller is done with a group its fetched objects leave the temp
        cache again: disk use stays bounded too."""
        groups = [names[i : i + self.batch] for i in range(0, len(names), self.batch)]
        if not groups:
            return
        view = self.view
        with concurrent.futures.ThreadPoolExecutor(1) as fetcher:
            ahead = fetcher.submit(view.prefetch, self._objects(groups[0]))
            for i, group in enumerate(groups):
                ahead.result()
                if i + 1 < len(groups):
                    ahead = fetcher.submit(view.prefetch, self._objects(groups[i + 1]))
                try:
                    yield group
                finally:
                    view.evict(self._objects(group))

    def stream(self, path: str = "", *, prefetch: int | None = None) -> Iterator[tuple[str, bytes]]:
        """Every file at or under ``path`` as ``(name, content)``, in sorted
        order. Objects come from the remote :attr:`batch` files at a time,
        the next batch fetched while this one is consumed; files are read
        ``jobs`` at a time ahead of the caller, at most ``prefetch``
        (default: 4 × ``jobs``) held in memory at once, so memory (and the
        temp cache on disk) stay bounded whatever the directory's size.

        >>> for name, data in fs.stream("data/images"):  # doctest: +SKIP
        ...     train_step(decode(data))
        """
        window = max(1, prefetch or 4 * self.jobs)
        names = self._files_under(self._strip_protocol(path))

        def read(name: str) -> bytes:
            with self._open(name) as f:
                return f.read()

        with concurrent.futures.ThreadPoolExecutor(min(self.jobs, window)) as pool:
            for group in self._batches(names):
                pending: collections.deque[tuple[str, concurrent.futures.Future[bytes]]]
                pending = collections.deque()
                todo = iter(group)
                try:
                    for name in todo:
                        pending.append((name, pool.submit(read, name)))
                        if len(pending) >= window:
                            break
                    while pending:
                        name, fut = pending.popleft()
                        data = fut.result()
                        nxt = next(todo, None)
                        if nxt is not None:
                            pending.append((nxt, pool.submit(read, nxt)))
                        yield name, data
                finally:
                    for _name, fut in pending:
                        fut.cancel()
