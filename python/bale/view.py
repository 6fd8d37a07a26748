"""A repository at a revision as :mod:`bale.fs` reads it: its git files, its
outputs, their manifests and their objects, without changing it.

Two kinds:

- the workspace of a local repository (``rev`` None, as dvc reads a local
  repository without a revision): the files on disk and the ``.dvc`` and
  ``dvc.lock`` files there;
- a :class:`~bale.source.Source` at a commit: a local repository's git
  (read in place) or a cached clone of a URL.

Objects come from the repository's own cache when it is local and has them;
the rest from its remote into a temporary cache this view owns (a
directory under the system's temp dir, removed by :meth:`View.close`, as
``dvc.api`` uses a temporary cache per repository). A directory output's
manifest (md5), or its trees (blake3), are fetched alone, so listing reads
no file data; a file is streamed when read (:mod:`bale.reader`: every byte
verified first), or fetched ahead in batches (:meth:`View.prefetch`) by
``get`` and ``stream``.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import _core, scm
from bale.exceptions import (
    BaleError,
    NotARepositoryError,
    ObjectMissingError,
    RemoteConfigError,
    TargetNotFoundError,
)
from bale.redact import mask_url
from bale.staging import COPY_TYPES

if TYPE_CHECKING:
    from collections.abc import Collection

    from bale.index import Tracked
    from bale.reader import RemoteReader
    from bale.remotes import Remote
    from bale.repo import Repo
    from bale.source import Source

__all__ = ["View", "open_view"]

GitFile = tuple[str, int | None, bool]


class View:
    """A repository at a commit (``source``), or a local workspace (``source``
    None, ``root`` its root): files, outputs and objects."""

    def __init__(
        self,
        root: Path,
        source: Source | None,
        remote: str | None,
        jobs: int | None,
        config: dict[str, Any] | None = None,
        remote_config: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.source = source
        self.remote_name = remote
        #: merged over the workspace repository's config (a source's own
        #: merge is the source's)
        self.config = config
        self.remote_config = remote_config
        self.jobs = jobs
        self.commit = source.commit if source is not None else None
        if source is None:
            self.label = str(root)
        else:
            self.label = f"{mask_url(source.url)}@{source.rev_label}"
        self._repo: Repo | None = None
        self._tmp: Path | None = None
        self._temp_ws: _core.Workspace | None = None
        self._own_ws: _core.Workspace | None = None
        self._lock = threading.Lock()
        self._temp_lock = threading.Lock()
        self._reader: RemoteReader | None = None
        #: Objects this view fetched into its temp cache (which it may evict).
        self.fetched: set[tuple[str, str]] = set()
        #: blake3 trees whose every subtree is in the temp cache (a lookup
        #: fetches only the ones on its way).
        self._whole_trees: set[str] = set()
        #: The workspace's repository as a source of its remote's data.
        self._ws_source: Source | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        for source in (self.source, self._ws_source):
            if source is not None:
                source.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp = self._temp_ws = None

    # -- the repository --------------------------------------------------------

    @property
    def is_dvc(self) -> bool:
        return (self.root / ".dvc").is_dir()

    def bale_repo(self) -> Repo:
        """The repository as bale opens it (its config, cache and pipelines)."""
        if self.source is not None:
            return self.source.repo
        if self._repo is None:
            from bale.repo import Repo

            if not self.is_dvc:
                raise NotARepositoryError(f"{self.root}: is a git repository, not a bale/dvc one")
            from bale.source import configure

            repo = Repo(self.root)
            configure(repo, self.config, self.remote_name, self.remote_config, str(self.root))
            self._repo = repo
        return self._repo

    def rel(self, t: Tracked) -> str:
        return t.path.relative_to(self.root).as_posix()

    def outputs(self) -> list[Tracked]:
        if self.source is not None:
            return self.source.outputs()
        if not self.is_dvc:
            return []
        from bale import index

        return index.collect(self.bale_repo())

    def git_files(self) -> list[GitFile]:
        if self.commit is None:
            return _disk_files(self.root)
        return _git_files(self.root, self.commit)

    def open_git(self, rel: str) -> io.BufferedIOBase:
        if self.source is None:
            return open(self.root / rel, "rb")
        try:
            return io.BytesIO(self.source.read_git(rel))
        except BaleError:
            raise TargetNotFoundError(f"{rel}: not in git at {self.label}") from None

    # -- objects ---------------------------------------------------------------

    def _own(self) -> _core.Workspace | None:
        """The engine on the repository's own cache, when it is a local one
        (read only: no stat cache)."""
        if self.source is not None and not self.source.local:
            return None
        if self._own_ws is None and self.is_dvc:
            cache = self.bale_repo().cache_dir
            self._own_ws = _core.Workspace(str(self.root), str(cache), None, 1)
        return self._own_ws

    def _temp(self) -> _core.Workspace:
        with self._temp_lock:
            if self._temp_ws is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="bale-api-"))
                # fsspec and pandas never close a filesystem: the temp cache
                # goes when the view does, closed or not.
                weakref.finalize(self, shutil.rmtree, self._tmp, True)
                self._temp_ws = _core.Workspace(
                    str(self._tmp / "ws"), str(self._tmp / "cache"), None, self.jobs
                )
            return self._temp_ws

    def _holder(self, algo: str, oid: str) -> _core.Workspace | None:
        for ws in (self._own(), self._temp_ws):
            if ws is not None and ws.exists(algo, oid):
                return ws
        return None

    def manifest(self, algo: str, oid: str) -> list[tuple[str, str, int, bool]]:
        """The files of the directory output ``oid``; its manifest alone is
        fetched if no cache has it (for md5: no file data)."""
        return list(self._manifest_holder(algo, oid).manifest(algo, oid))

    def manifest_lookup(
        self, algo: str, oid: str, rel: str
    ) -> tuple[tuple[str, str, int, bool] | None, bool]:
        """The file ``rel`` of the directory output ``oid`` (``(entry,
        False)``), else whether one is below it (``(None, is_dir)``), without
        the whole manifest: for blake3, only the trees on the way to ``rel``
        are fetched."""
        return self._manifest_holder(algo, oid, rel).manifest_lookup(algo, oid, rel)

    def _manifest_holder(self, algo: str, oid: str, along: str | None = None) -> _core.Workspace:
        ws = self._holder(algo, oid)
        if ws is not None and (ws is not self._temp_ws or oid in self._whole_trees):
            return ws
        ws = self._temp()
        if algo.startswith("md5"):
            if not ws.exists(algo, oid):
                self._fetch_manifest(ws, algo, oid)
        else:
            self._fetch_trees(ws, oid, along)
            if along is None:
                self._whole_trees.add(oid)
        return ws

    def _fetch_trees(self, ws: _core.Workspace, oid: str, along: str | None = None) -> None:
        from bale.source import fetch_trees

        fetch_trees(ws, self._remote(), oid, self.label, along, self.jobs)

    def _fetch_manifest(self, ws: _core.Workspace, algo: str, oid: str) -> None:
        rem = self._remote()
        key = ws.object_key(algo, oid)
        data = _read_key(rem, key, self.jobs)
        if data is None:
            raise ObjectMissingError(
                f"{self.label}: the manifest {oid} is not on its remote "
                f"'{rem.name}' ({mask_url(rem.url)})"
            )
        ws.ingest_bytes_many([(algo, oid, data, f"remote '{rem.name}'")])

    def _remote(self) -> Remote:
        if self.source is not None:
            return self.source.remote(self.remote_name)
        from bale.remotes import resolve_remote

        try:
            return resolve_remote(self.bale_repo(), self.remote_name)
        except RemoteConfigError as e:
            raise RemoteConfigError(f"{self.label}: {e}") from None

    def prefetch(self, objects: list[tuple[str, str]]) -> None:
        """Brings into the temp cache the objects no cache has yet, in one
        parallel, verified fetch from the remote; but not from a folder
        remote, whose objects (and packs) are read where they are."""
        if self._folder_remote() is not None:
            return
        lacking = [o for o in dict.fromkeys(objects) if self._holder(*o) is None]
        if not lacking:
            return
        source = self._source_for_fetch()
        source.fetch(self._temp(), lacking, self.jobs, remote=self.remote_name)
        self.fetched.update(lacking)

    def _source_for_fetch(self) -> Source:
        if self.source is not None:
            return self.source
        # The workspace's own repository, as a source of its remote's data.
        from bale.repo import Repo
        from bale.source import Source

        with self._lock:
            if self._ws_source is None:
                self._ws_source = Source.open(
                    str(self.root),
                    None,
                    repo_type=Repo,
                    config=self.config,
                    remote_config=self.remote_config,
                )
            return self._ws_source

    def evict(self, objects: list[tuple[str, str]]) -> None:
        """Drops from the temp cache objects this view fetched, once read
        (bounded disk for a stream through a large directory)."""
        ws = self._temp_ws
        for obj in objects:
            if ws is not None and obj in self.fetched:
                self.fetched.discard(obj)
                Path(ws.object_path(*obj)).unlink(missing_ok=True)

    def read_small(self, objects: list[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        """The bytes of the objects among ``objects`` no bigger than
        :attr:`small` that a cache holds, or a folder remote (md5 objects in
        the cache's layout, blake3 ones in one piece in a pack), each
        verified, read in parallel, with no file written; what is not in the
        result is read one by one (:meth:`open_object`)."""
        found: dict[tuple[str, str], bytes] = {}
        todo = list(dict.fromkeys(objects))
        jobs = 2 * (os.cpu_count() or 1)

        def take(got: list[bytes | None], asked: list[tuple[str, str]]) -> None:
            nonlocal todo
            found.update((o, data) for o, data in zip(asked, got, strict=True) if data is not None)
            todo = [o for o in todo if o not in found]

        for ws in (self._own(), self._temp_ws):
            if ws is not None and todo:
                take(ws.read_small(todo, self.small, jobs=jobs), todo)
        folder = self._folder_remote()
        if folder is not None and todo:
            md5 = [o for o in todo if o[0].startswith("md5")]
            if md5:
                take(self._temp().read_small(md5, self.small, jobs=jobs, source=folder), md5)
            b3 = [o for o in todo if o[0] == "blake3"]
            if b3:
                packs = self._remote_reader().indexes()
                take(packs.read_whole(folder, [o for _a, o in b3], self.small, jobs), b3)
        return found

    def copy_out(
        self,
        items: list[tuple[str, str, str, bool]],
        remote: bool = False,
        take: Collection[tuple[str, str]] = (),
    ) -> list[int]:
        """Writes each ``(algo, oid, dest, isexec)`` object at ``dest`` as a
        private copy (never a link into a cache), from whichever cache holds
        it (with ``remote``, also straight from a folder remote: no temp
        copy), in parallel, every object verified first; the indices of
        the items no cache holds whole (nothing written for those). The
        objects in ``take`` that this view fetched are moved out of its
        temp cache rather than copied (gone from it after)."""
        # Local disk work: more threads than this contend for directory
        # locks (10,000 files: 0.4 s with 4 threads, 1.4-1.9 s with 16).
        jobs = 2 * (os.cpu_count() or 1)
        todo = list(range(len(items)))
        own = self._own()
        if own is not None and todo:
            todo = [todo[i] for i in own.copy_out([items[i] for i in todo], COPY_TYPES, jobs=jobs)]
        temp = self._temp_ws
        if temp is not None and todo:
            movable = {o for o in take if o in self.fetched}
            left = []
            for moving in (False, True):
                part = [i for i in todo if (items[i][:2] in movable) is moving]
                if part:
                    wanted = [items[i] for i in part]
                    got = temp.copy_out(wanted, COPY_TYPES, jobs=jobs, take=moving)
                    left += [part[i] for i in got]
            self.fetched -= movable
            todo = sorted(left)
        folder = self._folder_remote() if remote and todo else None
        if folder is not None:
            md5 = [i for i in todo if items[i][0].startswith("md5")]
            left = self._temp().copy_out(
                [items[i] for i in md5], COPY_TYPES, jobs=jobs, source=folder
            )
            b3 = [i for i in todo if items[i][0] == "blake3"]
            if b3:
                from bale.source import WHOLE_LIMIT

                packs = self._remote_reader().indexes()
                whole = [(items[i][1], items[i][2], items[i][3]) for i in b3]
                b3_left = packs.copy_whole(folder, whole, WHOLE_LIMIT, jobs=jobs)
            else:
                b3_left = []
            done = (set(md5) - {md5[i] for i in left}) | (set(b3) - {b3[i] for i in b3_left})
            todo = [i for i in todo if i not in done]
        return todo

    def _folder_remote(self) -> Path | None:
        """The folder of the default (or chosen) remote when it is a local
        folder in the cache's layout; None for any other, or none."""
        try:
            rem = self._remote()
        except BaleError:
            return None  # a fetch says what is wrong
        return rem.path if rem.kind == "folder" and rem.path is not None else None

    def open_object(
        self, algo: str, oid: str, rel: str, size: int | None = None
    ) -> io.BufferedIOBase:
        """The object of the tracked file ``rel``, every byte verified before
        it is returned (:mod:`bale.reader`): from a cache that has it, else
        streamed from the remote (a chunked blake3 file by the chunks each
        read needs; a whole object landed in the temp cache first: a small
        one of a folder remote in one read, see :meth:`_fetch_small`)."""
        from bale import reader

        for ws in (self._own(), self._temp_ws):
            if ws is not None:
                stream = reader.open_cached(ws, algo, oid, name=rel)
                if stream is not None:
                    return stream
        if self._fetch_small(algo, oid, size):
            self.fetched.add((algo, oid))
            stream = reader.open_cached(self._temp(), algo, oid, name=rel)
            if stream is not None:
                return stream
        # The lock for making the reader only: opens of different files
        # (whole md5 objects downloaded first) run side by side.
        with self._lock:
            remote = self._remote_reader()
        try:
            opened = remote.open(algo, oid, size, name=rel)
        except ObjectMissingError as e:
            raise ObjectMissingError(f"{rel}: {e} (in {self.label})") from None
        # A whole object lands in the temp cache first: the view's, to evict
        # with its batch (a stream from a folder remote fetches nothing ahead).
        if self._temp().exists(algo, oid):
            self.fetched.add((algo, oid))
        return opened

    #: A whole (md5) object of a folder remote up to this size is read in
    #: one call and verified into the temp cache, without starting the
    #: remote reader's event loop (most files of a dataset are small).
    small = 1 << 20

    def _fetch_small(self, algo: str, oid: str, size: int | None) -> bool:
        """Whether the md5 object ``oid`` of a folder remote, small and of
        the recorded ``size``, is now in the temp cache (hashed as it
        landed); anything else (absent, big, another remote) is left to
        the remote reader, which says what is wrong."""
        if not algo.startswith("md5"):
            return False
        rem = self._remote()
        if rem.kind != "folder" or rem.path is None:
            return False
        ws = self._temp()
        try:
            with open(rem.path / ws.object_key(algo, oid), "rb") as f:
                if os.fstat(f.fileno()).st_size > self.small:
                    return False
                data = f.read()
        except OSError:
            return False
        if size is not None and len(data) != size:
            return False
        ws.ingest_bytes_many([(algo, oid, data, f"remote '{rem.name}'")])
        return True

    def _remote_reader(self) -> RemoteReader:
        """The reader of the remote's objects, opened once (under the lock)."""
        if self._reader is None:
            from bale.reader import RemoteReader
            from bale.remotes import packed
            from bale.source import cache_home

            rem = self._remote()
            # Pack index copies where Source keeps them: never in the repository.
            indexes = packed.PackedPaths.for_remote(cache_home() / "remotes", rem).indexes
            self._temp()
            assert self._temp_ws is not None
            self._reader = RemoteReader(
                rem.open_store(self.jobs or 8), self._temp_ws, indexes, jobs=self.jobs or 8
            )
        return self._reader

    def object_url(self, algo: str, oid: str, rel: str) -> str:
        if not algo.startswith("md5"):
            raise BaleError(
                f"{rel}: its data ({algo}) is stored in packs on the remote, with no URL of its own"
            )
        remote = self._remote()
        key = (self._own() or self._temp()).object_key(algo, oid)
        base = str(remote.path) if remote.path is not None else remote.url.rstrip("/")
        return f"{base}/{key}"


def _read_key(rem: Remote, key: str, jobs: int | None) -> bytes | None:
    """The whole object ``key`` of remote ``rem``, or None if it has none."""
    if rem.kind == "folder":
        assert rem.path is not None
        try:
            return (rem.path / key).read_bytes()
        except FileNotFoundError:
            return None
    from bale.remotes.errors import ObjectNotFound
    from bale.remotes.sync import Session

    with Session(rem, jobs or 1) as s:
        try:
            return s.run(s.store.read_small(key, 1 << 40))
        except ObjectNotFound:
            return None


def _git_files(root: Path, commit: str) -> list[GitFile]:
    """``(path, size, executable)`` of the files git has at ``commit`` under
    ``root`` (repository-relative), from one ``git ls-tree``; ``.dvc/`` left out."""
    prefix = scm.subdir(root)
    args = ["ls-tree", "-r", "-l", "-z", "--full-tree", commit]
    found: list[GitFile] = []
    for name, mode, size in scm.sized_blobs(scm.git(root, *args).stdout):
        if prefix != ".":
            if not name.startswith(prefix + "/"):
                continue
            name = name[len(prefix) + 1 :]
        if not name.startswith(".dvc/"):
            found.append((name, size, mode == "100755"))
    return found


def _disk_files(root: Path) -> list[GitFile]:
    """The workspace's files under ``root`` (what dvc's local file system
    shows at the workspace), ``.git/`` and ``.dvc/`` left out."""
    found: list[GitFile] = []
    for top, dirs, files in os.walk(root):
        here = Path(top)
        if here == root:
            dirs[:] = [d for d in dirs if d not in (".git", ".dvc")]
        # a repository inside this one is its own (dvc's subrepos), not ours
        dirs[:] = [d for d in dirs if not (here / d / ".dvc").is_dir()]
        for name in files:
            p = here / name
            try:
                st = p.stat()
            except OSError:
                continue  # a broken symlink: dvc shows none either
            found.append((p.relative_to(root).as_posix(), st.st_size, bool(st.st_mode & 0o100)))
    return found


def open_view(
    repo: str | None,
    rev: str | None,
    remote: str | None,
    jobs: int | None,
    config: dict[str, Any] | None = None,
    remote_config: dict[str, str] | None = None,
) -> View:
    """``repo`` (a local path, a URL, or None for the repository around the
    current directory) at ``rev``; a local repository without ``rev`` is
    its workspace, as dvc reads it. ``config`` and ``remote_config`` are
    merged over its config (see :meth:`bale.source.Source.open`)."""
    from bale.repo import Repo
    from bale.source import Source

    local = repo is None or os.path.exists(repo)
    if local and rev is None:
        start = Path(repo) if repo is not None else Path.cwd()
        if not start.is_dir():
            raise NotARepositoryError(f"{repo}: not a repository (not a directory)")
        return View(_root_of(start.absolute()), None, remote, jobs, config, remote_config)
    source = Source.open(
        repo, rev, repo_type=Repo, remote=remote, config=config, remote_config=remote_config
    )
    return View(source.root, source, remote, jobs)


def _root_of(start: Path) -> Path:
    """The bale/dvc repository at or above ``start``; else the top of its
    git work tree (a plain git repository shows its git files)."""
    for d in (start, *start.parents):
        if (d / ".dvc").is_dir():
            return d
    if scm.is_git_repo(start):
        return scm.toplevel(start)
    raise NotARepositoryError(f"{start}: neither a bale/dvc repository nor a git repository")
