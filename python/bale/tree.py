"""A repository at a revision as one read-only tree of files: what git
tracks and what bale or dvc track (``.dvc`` files and ``dvc.lock``
outputs, directory outputs expanded from their manifests), as dvc's
``DVCFileSystem`` shows them.

:class:`RepoTree` is the engine of :mod:`bale.api` and of the ``bale://``
file system (:mod:`bale.fs`, which adapts it to fsspec). Paths are
repository-relative posix paths (``""`` is the root; a leading ``/`` is
allowed). Listing a directory output reads its manifest only; finding one
file in it scans the manifest without building the directory's tree.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import io
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale.exceptions import OutputNotTrackedError, TargetNotFoundError
from bale.view import View, open_view

if TYPE_CHECKING:
    from bale.index import Tracked

__all__ = ["RepoTree", "norm"]

#: Names dvc's file system leaves out of listings (``dvcfiles=True`` shows them).
_METAFILE_NAMES = ("dvc.yaml", "dvc.lock", ".dvcignore")


def _is_metafile(name: str) -> bool:
    return name.endswith(".dvc") or name in _METAFILE_NAMES


def norm(path: str) -> str:
    """A repository-relative posix path: no leading ``/``, ``""`` for the root."""
    path = posixpath.normpath("/" + path.replace(os.sep, "/")).lstrip("/")
    return "" if path == "." else path


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


class _Index:
    """The tree's nodes, as nested directories; directory outputs are
    expanded from their manifests when first listed."""

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
            node = _Node(kind, t.out.size, t.out.isexec, out=rel, algo=t.algo, oid=t.out.oid)
            self._add(rel, node)
        self._expanded: set[str] = set()
        self._manifests: dict[str, list[tuple[str, str, int, bool]]] = {}

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

    def _manifest(self, out: str) -> list[tuple[str, str, int, bool]]:
        if out not in self._manifests:
            t = self.outs[out]
            assert t.out.oid is not None
            self._manifests[out] = self.view.manifest(t.algo, t.out.oid)
        return self._manifests[out]

    def _lookup(self, out: str, sub: str) -> tuple[tuple[str, str, int, bool] | None, bool]:
        """The file ``sub`` of output ``out``'s manifest, or whether a file
        is below it: from the manifest already read, else from the engine."""
        if out in self._manifests:
            for entry in self._manifests[out]:  # sorted: the first is the one
                if entry[0] == sub:
                    return entry, False
            return None, any(e[0].startswith(sub + "/") for e in self._manifests[out])
        t = self.outs[out]
        assert t.out.oid is not None
        return self.view.manifest_lookup(t.algo, t.out.oid, sub)

    def _file(self, out: str, entry: tuple[str, str, int, bool]) -> _Node:
        _sub, oid, size, isexec = entry
        algo = self.outs[out].algo
        # dvc's manifests record no sizes: unknown until read, as dvc says
        known = None if algo.startswith("md5") else size
        return _Node("file", known, isexec, out=out, algo=algo, oid=oid)

    def expand(self, rel: str) -> None:
        """Makes sure the manifest of the directory output holding ``rel``
        (if any) is in the tree."""
        out = self.owner(rel)
        if out is None or out in self._expanded:
            return
        self._expanded.add(out)
        for entry in self._manifest(out):
            self._add(f"{out}/{entry[0]}", self._file(out, entry))

    def node(self, rel: str) -> _Node | None:
        if not rel:
            return _Node("directory")
        out = self.owner(rel)
        parent, _, name = rel.rpartition("/")
        if out is None or out in self._expanded or rel == out:
            return self.dirs.get(parent, {}).get(name)
        # One path inside an output not listed yet: looked up in its
        # manifest by the engine, not a tree of all its files (one file of
        # 100,000).
        sub = rel[len(out) + 1 :]
        found: _Node | None = None
        entry, is_dir = self._lookup(out, sub)
        if entry is not None:
            found = self._file(out, entry)
        elif is_dir:
            found = _Node("directory", out=out)
        here = self.dirs.get(parent, {}).get(name)
        if here is not None and found is not None:
            return here.merged(found)
        return here or found

    def children(self, rel: str) -> dict[str, _Node] | None:
        self.expand(rel)
        return self.dirs.get(rel)


class RepoTree:
    """A repository at a revision: git-tracked and bale/dvc-tracked files as
    one read-only tree.

    ``repo`` is a local path or any URL ``git clone`` takes (default: the
    repository around the current directory); ``rev`` any git revision
    (default: for a local repository its workspace, as dvc reads it; for a
    URL its default branch). ``remote`` names the remote data comes from
    when no cache has it (default: the repository's default remote);
    ``config`` is merged over the repository's config and ``remote_config``
    over that remote's options, as dvc's ``config`` and ``remote_config``.
    ``jobs`` bounds the parallel reads of :meth:`get` and :meth:`stream`.
    Close it (or use it as a context manager) to drop its temp cache.
    """

    #: How many files :meth:`stream` fetches from a remote at once: the temp
    #: cache holds at most two such batches (the engine moves a batch of
    #: 10,000 small objects at twice the rate of one of 1,000).
    batch = 4096
    #: The same for :meth:`get`, whose copies take that disk space anyway.
    get_batch = 32768

    def __init__(
        self,
        repo: str | os.PathLike[str] | None = None,
        rev: str | None = None,
        remote: str | None = None,
        jobs: int | None = None,
        config: dict[str, Any] | None = None,
        remote_config: dict[str, str] | None = None,
    ) -> None:
        self.repo_url = os.fspath(repo) if repo is not None else None
        self.rev = rev
        self.remote = remote
        self.config = config
        self.remote_config = remote_config
        self.jobs = jobs or min(32, 4 * (os.cpu_count() or 1))
        self._view: View | None = None
        self._index: _Index | None = None

    @property
    def view(self) -> View:
        """The repository at the revision, opened on first use."""
        if self._view is None:
            self._view = open_view(
                self.repo_url, self.rev, self.remote, self.jobs, self.config, self.remote_config
            )
        return self._view

    @property
    def index(self) -> _Index:
        if self._index is None:
            self._index = _Index(self.view)
        return self._index

    def close(self) -> None:
        """Releases what opening the repository took (a temp cache)."""
        if self._view is not None:
            self._view.close()
        self._view = None
        self._index = None

    def __enter__(self) -> RepoTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def missing(self, rel: str) -> TargetNotFoundError:
        return TargetNotFoundError(f"{rel or '/'}: no such file or directory in {self.view.label}")

    def _node(self, rel: str) -> _Node:
        node = self.index.node(rel)
        if node is None:
            raise self.missing(rel)
        return node

    # -- listing --------------------------------------------------------------

    @staticmethod
    def _info(rel: str, node: _Node) -> dict[str, Any]:
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

    def info(self, path: str) -> dict[str, Any]:
        """``{"name", "type", "size", "isexec", "isout"}`` of ``path`` (and
        for a tracked file ``algo``, ``oid`` and, for md5, ``md5``); ``size``
        is None where dvc's manifest does not say it."""
        rel = norm(path)
        return self._info(rel, self._node(rel))

    def ls(self, path: str = "", dvcfiles: bool = False) -> list[dict[str, Any]]:
        """The :meth:`info` of each entry of directory ``path`` (of the file
        ``path``, if it is one), by name; ``dvcfiles`` shows ``.dvc`` files,
        ``dvc.yaml``, ``dvc.lock`` and ``.dvcignore``, which dvc leaves out."""
        rel = norm(path)
        children = self.index.children(rel)
        if children is None:
            return [self.info(rel)]
        return [
            self._info(posixpath.join(rel, name), node)
            for name, node in sorted(children.items())
            if dvcfiles or not _is_metafile(name)
        ]

    def walk(self, path: str = "") -> Iterator[tuple[str, list[str], list[str]]]:
        """``(directory, subdirectory names, file names)`` from ``path`` down,
        as ``os.walk`` gives them (top down, names sorted)."""
        todo = [norm(path)]
        while todo:
            d = todo.pop(0)
            children = self.index.children(d)
            if children is None:
                raise self.missing(d)
            names = sorted(n for n in children if not _is_metafile(n))
            dirs = [n for n in names if children[n].type == "directory"]
            yield d, dirs, [n for n in names if children[n].type == "file"]
            todo[:0] = [posixpath.join(d, n) for n in dirs]

    def files_under(self, path: str) -> list[str]:
        """The files at or under ``path``, sorted."""
        rel = norm(path)
        if self._node(rel).type == "file":
            return [rel]
        found = [posixpath.join(d, f) for d, _dirs, files in self.walk(rel) for f in files]
        return sorted(found)

    def entries(
        self, path: str = "", *, recursive: bool = False, dvc_only: bool = False
    ) -> list[dict[str, Any]]:
        """``path``'s entries as ``dvc ls --json`` gives them (``.dvc`` files
        and ``dvc.yaml`` included): ``{"isout", "isdir", "isexec", "size",
        "md5", "path"}``, ``path`` relative to ``path`` (a file: its name).
        ``recursive`` lists every file below; ``dvc_only`` only what
        bale/dvc track (and the directories that lead to it)."""
        rel = norm(path)
        index = self.index
        node = self._node(rel)
        if node.type == "file":
            found = [(posixpath.basename(rel), node)]
        else:
            found = []
            todo = [rel]
            while todo:
                d = todo.pop()
                for name, child in (index.children(d) or {}).items():
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
        return node.type == "directory" and any(o.startswith(rel + "/") for o in self.index.outs)

    def url(self, path: str) -> str:
        """Where ``path``'s data is on the remote (:func:`bale.api.get_url`)."""
        rel = norm(path)
        node = self._node(rel)
        if node.out is None or node.oid is None or node.algo is None:
            raise OutputNotTrackedError(f"{rel}: not tracked by bale or dvc in {self.view.label}")
        return self.view.object_url(node.algo, node.oid, rel)

    # -- reading --------------------------------------------------------------

    def open(self, path: str) -> io.BufferedIOBase:
        """The file ``path``, opened for reading bytes (seekable)."""
        rel = norm(path)
        view = self.view
        if view.commit is None and rel.partition("/")[0] not in ("", ".git", ".dvc"):
            # The workspace: a file on disk is that file (as dvc reads it),
            # opened without listing the whole workspace first.
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return view.open_git(rel)
        node = self._node(rel)
        if node.type == "directory":
            raise IsADirectoryError(f"{rel}: is a directory in {self.view.label}")
        # Git (or the workspace, on disk) first, as dvc reads: a tracked file
        # present there is that file.
        if node.git:
            return self.view.open_git(rel)
        assert node.algo is not None and node.oid is not None
        return self.view.open_object(node.algo, node.oid, rel, node.size)

    def get(
        self,
        path: str,
        lpath: str,
        recursive: bool = False,
        maxdepth: int | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> None:
        """Copies ``path`` (a file, or with ``recursive`` a directory) to the
        local ``lpath``, in parallel. As dvc does, an existing directory
        ``lpath`` (or one ending in a separator) receives ``path`` under its
        own name. Each file lands under a temp name and is renamed when
        complete: no partial file is left. ``progress(done, total)`` is
        called as files land (a batch at a time)."""
        rel = norm(path)
        node = self._node(rel)
        if os.path.isdir(lpath) or lpath.endswith(os.sep):
            lpath = os.path.join(lpath, posixpath.basename(rel) or "root")
        if node.type == "file":
            pairs = [(rel, lpath)]
        else:
            if not recursive:
                raise IsADirectoryError(f"{rel}: is a directory (get it with recursive=True)")
            depth = rel.count("/") + 1 if rel else 0
            pairs = [
                (f, os.path.join(lpath, *posixpath.relpath(f, rel or ".").split("/")))
                for f in self.files_under(rel)
                if maxdepth is None or f.count("/") + 1 - depth <= maxdepth
            ]
            os.makedirs(lpath, exist_ok=True)
        self._copy_all(pairs, progress)

    def _copy_all(
        self, pairs: list[tuple[str, str]], progress: Callable[[int, int], object] | None = None
    ) -> None:
        """Writes each ``(path, local path)``: the tracked files a batch at
        a time, fetched ahead, by the engine (straight from the cache that
        holds them); what git has, and what no cache holds whole (a file
        kept as chunks), one by one through :meth:`open`."""
        where = dict(pairs)
        one_by_one = [src for src, _dest in pairs if self._tracked(src) is None]
        tracked = [src for src, _dest in pairs if self._tracked(src) is not None]

        def items(names: list[str]) -> list[tuple[str, str, str, bool]]:
            found = []
            for name in names:
                node = self._tracked(name)
                assert node is not None and node.algo and node.oid
                found.append((node.algo, node.oid, where[name], node.isexec))
            return found

        done = 0

        def landed(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, len(pairs))

        # What a cache or a folder remote holds is copied straight from it.
        lacking = [tracked[i] for i in self.view.copy_out(items(tracked), remote=True)]
        landed(len(tracked) - len(lacking))
        # Copies land on disk anyway: batches as big as a fetch from a
        # packed remote wants (each one lists the remote and reads its
        # index copies), still fetched one ahead of the copying.
        size = self.get_batch
        for k, group in enumerate(self._batches(lacking, size)):
            # Moved out of the temp cache, not copied: but what the next
            # batch shares, which its prefetch found there and left.
            wanted = items(group)
            following = set(self._objects(lacking[(k + 1) * size : (k + 2) * size]))
            take = {(a, o) for a, o, _d, _x in wanted} - following
            left = [group[i] for i in self.view.copy_out(wanted, take=take)]
            landed(len(group) - len(left))
            one_by_one += left
        self._copy_each([(src, where[src]) for src in one_by_one], landed)

    def _tracked(self, name: str) -> _Node | None:
        """The node of ``name`` when its bytes are an object (not git's)."""
        node = self.index.node(name)
        return node if node is not None and not node.git and node.algo and node.oid else None

    def _copy_each(
        self, pairs: list[tuple[str, str]], landed: Callable[[int], None] | None = None
    ) -> None:
        def one(pair: tuple[str, str]) -> None:
            src, dest = pair
            parent = os.path.dirname(dest) or "."
            os.makedirs(parent, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=".bale-get-")
            try:
                with os.fdopen(fd, "wb") as out, self.open(src) as f:
                    shutil.copyfileobj(f, out, 1 << 20)
                os.replace(tmp, dest)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

        with concurrent.futures.ThreadPoolExecutor(self.jobs) as pool:
            for fut in [pool.submit(one, pair) for pair in pairs]:
                fut.result()
                if landed is not None:
                    landed(1)

    # -- many files: fetched ahead in batches ---------------------------------

    def _objects(self, names: list[str]) -> list[tuple[str, str]]:
        """The objects of the tracked files among ``names`` (what git has is read from git)."""
        found = []
        for name in names:
            node = self._tracked(name)
            if node is not None:
                assert node.algo and node.oid
                found.append((node.algo, node.oid))
        return found

    def _batches(self, names: list[str], size: int | None = None) -> Iterator[list[str]]:
        """``names`` in groups of :attr:`batch`, the objects of each fetched
        from the remote (if no cache has them) in one parallel request
        batch, the next group's while the caller works on this one. When
        the caller is done with a group its fetched objects leave the temp
        cache again: disk use stays bounded too."""
        size = size or self.batch
        groups = [names[i : i + size] for i in range(0, len(names), size)]
        if not groups:
            return
        view = self.view
        # One worker: fetches and evictions run in order, behind the caller.
        with concurrent.futures.ThreadPoolExecutor(1) as fetcher:
            objects = [self._objects(g) for g in groups]
            ahead = fetcher.submit(view.prefetch, objects[0])
            for i, group in enumerate(groups):
                ahead.result()
                following = set(objects[i + 1]) if i + 1 < len(groups) else set()
                if following:
                    ahead = fetcher.submit(view.prefetch, objects[i + 1])
                try:
                    yield group
                finally:
                    # Not what the next group shares (same content, other
                    # names): its prefetch found it here and did not fetch it.
                    fetcher.submit(view.evict, [o for o in objects[i] if o not in following])

    #: What :meth:`stream` reads in one parallel call, of small files a
    #: cache or a folder remote holds: at most this many bytes, and files.
    slice_bytes = 32 << 20
    slice_files = 1024

    def stream(self, path: str = "", *, prefetch: int | None = None) -> Iterator[tuple[str, bytes]]:
        """Every file at or under ``path`` as ``(name, content)``, in sorted
        order. Objects come from the remote :attr:`batch` files at a time,
        the next batch fetched while this one is consumed. Small files a
        cache (or, for md5 data, a folder remote) holds are read a slice
        at a time in one parallel, verified call (at most
        :attr:`slice_bytes`); the others ``jobs`` at a time ahead of the
        caller, at most ``prefetch`` (default: 4 × ``jobs``) held at once.
        Memory (and the temp cache on disk) stay bounded whatever the
        directory's size.

        >>> for name, data in tree.stream("data/images"):  # doctest: +SKIP
        ...     train_step(decode(data))
        """
        window = max(1, prefetch or 4 * self.jobs)
        names = self.files_under(path)

        def read(name: str) -> bytes:
            with self.open(name) as f:
                return f.read()

        with concurrent.futures.ThreadPoolExecutor(min(self.jobs, window)) as pool:
            for group in self._batches(names):
                for part in self._slices(group):
                    got = self.view.read_small(self._objects(part))

                    def start(
                        name: str, got: dict[tuple[str, str], bytes] = got
                    ) -> concurrent.futures.Future[bytes]:
                        node = self._tracked(name)
                        data = None
                        if node is not None and node.algo and node.oid:
                            data = got.get((node.algo, node.oid))
                        if data is None:
                            return pool.submit(read, name)
                        done: concurrent.futures.Future[bytes] = concurrent.futures.Future()
                        done.set_result(data)
                        return done

                    pending: collections.deque[tuple[str, concurrent.futures.Future[bytes]]]
                    pending = collections.deque()
                    todo = iter(part)
                    try:
                        for name in todo:
                            pending.append((name, start(name)))
                            if len(pending) >= window:
                                break
                        while pending:
                            name, fut = pending.popleft()
                            data = fut.result()
                            nxt = next(todo, None)
                            if nxt is not None:
                                pending.append((nxt, start(nxt)))
                            yield name, data
                    finally:
                        for _name, fut in pending:
                            fut.cancel()

    def _slices(self, names: list[str]) -> Iterator[list[str]]:
        """``names`` in runs of at most :attr:`slice_files` files whose small
        ones (those :meth:`View.read_small` reads) add up to at most
        :attr:`slice_bytes`."""
        part: list[str] = []
        size = 0
        for name in names:
            node = self._tracked(name)
            n = node.size or 0 if node is not None else 0
            n = n if n <= self.view.small else 0
            if part and (len(part) >= self.slice_files or size + n > self.slice_bytes):
                yield part
                part, size = [], 0
            part.append(name)
            size += n
        if part:
            yield part
