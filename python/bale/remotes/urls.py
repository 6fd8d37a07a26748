"""Reading a URL outside any repository, as ``import-url``, ``get-url`` and
``ls-url`` see it: a local path, ``s3://``, ``gs://``, ``azure://``,
``ssh://``, ``webdav(s)://`` or ``http(s)://``.

What dvc 3.67.1 records of a source (``dvc_data.hashfile.meta.Meta.from_info``
with the plugin's file system; the hash is the one its ``PARAM_CHECKSUM``
names), which :attr:`Info.checksum` and :attr:`Info.meta` reproduce:

- a local file or directory: its ``md5`` (of the content; a directory's is
  its ``.dir`` manifest's), computed by the engine as it stores the data;
- an S3 object: its ``etag`` (the ETag header without its quotes); an S3
  prefix: ``md5`` of a ``.dir``-shaped manifest whose entries carry each
  object's ``etag`` instead of an ``md5`` (``[{"etag": ..., "relpath": ...}]``);
- a GCS object (dvc-gs, gcsfs): ``etag``, the JSON API's base64 etag as
  hex, then ``size`` and ``version_id``, the object's generation (a
  string); a GCS prefix: as an S3 prefix, each entry's etag in hex;
- an Azure blob (dvc-azure, adlfs): ``etag``, the ETag with its quotes
  (adlfs and dvc both add them where missing); a prefix as on S3, with
  quoted etags;
- an SSH file or directory (dvc-ssh, sshfs): ``md5`` of the content, as
  for a local path: sshfs knows no checksum, so dvc reads the bytes (and,
  its ``info`` having no ``mode``, never records ``isexec``);
- a WebDAV file (dvc-webdav, webdav4): ``etag``, the ``getetag`` property
  exactly as the server writes it (WsgiDAV's has no quotes); a collection:
  as an S3 prefix, but the relpaths in subdirectories lose their first two
  characters (:meth:`WebDAVUrl._record`). A file without ``getetag`` makes
  dvc fail; bale refuses it;
- an HTTP file: ``checksum``, the ETag header as sent (quotes kept), else
  its Content-MD5. A server that sends neither gets a checksum dvc derives
  from Python object tokens, which bale cannot reproduce: refused. HTTP has
  no directories (dvc cannot list them either).

Checked against dvc and its plugins on the test servers (SeaweedFS,
fake-gcs-server, OpenSSH, WsgiDAV) in tests/interop/test_import_url.py and
tests/remotes/test_url_sources.py. **Azure is untested here** (no emulator
runs, and dvc-azure is not installed): its record was read from dvc-data's
``Meta.from_info`` and adlfs's ``_details``; only :class:`AzureUrl`'s URL
and option handling is tested.

Bytes move through the remote stores (:mod:`bale.remotes`): an object store
rooted at the bucket or container, an SSH, WebDAV or HTTP store rooted at
the URL's parent directory. Their errors name the URL, never a secret.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import posixpath
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from bale.exceptions import BaleError, ConfigError, TargetError, TargetNotFoundError
from bale.redact import mask_url
from bale.remotes.store import bounded

if TYPE_CHECKING:
    from bale.progress import Bar
    from bale.remotes import Remote
    from bale.remotes.azure import AzureStore
    from bale.remotes.gcs import GCSStore
    from bale.remotes.http import HTTPStore
    from bale.remotes.s3 import S3Store
    from bale.remotes.ssh import SSHStore
    from bale.remotes.webdav import WebDAVStore

__all__ = ["Entry", "Info", "Node", "Url", "UrlMissingError", "open_url"]

T = TypeVar("T")


class UrlMissingError(TargetNotFoundError):
    """Nothing is at the URL."""


@dataclass(frozen=True)
class Entry:
    """One file (or, in a shallow listing, directory) below a URL."""

    path: str  # relative to the URL, ``/``-separated
    isdir: bool
    size: int | None
    etag: str | None = None
    #: False for a symbolic link or special file on SSH: listed, never imported
    regular: bool = True


@dataclass(frozen=True)
class Info:
    """What a URL holds now: a file or a directory, its size, and for S3
    and HTTP the checksum dvc records (``{"etag": ...}``, ``{"checksum": ...}``
    or a directory's ``{"md5": "<...>.dir"}``); local sources are hashed
    when they are stored, so their ``checksum`` is empty."""

    isdir: bool
    size: int | None
    nfiles: int | None = None
    checksum: dict[str, str] = field(default_factory=dict)
    files: tuple[Entry, ...] = ()
    #: what dvc records after the size (a GCS object's ``version_id``)
    meta: dict[str, str] = field(default_factory=dict)
    #: why bale cannot record the source as dvc would (import-url and
    #: update refuse it, saying this; get-url and ls-url read it anyway)
    unrecordable: str | None = None


@dataclass
class Node:
    """A URL as ``ls-url --tree`` draws it: a file, or a directory and what
    it holds (down to the depth asked), each level sorted by name."""

    name: str
    isdir: bool
    size: int | None
    children: list[Node] = field(default_factory=list)


def tree_of_files(name: str, files: Iterable[Entry], maxdepth: int | None) -> Node:
    """The tree of a directory known by its files (an S3 prefix, whose
    directories have no size of their own), cut ``maxdepth`` levels down."""
    root = Node(name, True, None)
    dirs = {"": root}
    for f in sorted(files, key=lambda e: e.path):
        parent = ""
        *above, leaf = f.path.split("/")
        for part in above:
            key = f"{parent}/{part}" if parent else part
            if key not in dirs:
                dirs[key] = Node(part, True, None)
                dirs[parent].children.append(dirs[key])
            parent = key
        dirs[parent].children.append(Node(leaf, False, f.size))
    _cut(root, maxdepth)
    return root


def _cut(node: Node, maxdepth: int | None) -> None:
    node.children.sort(key=lambda n: n.name)
    if maxdepth is not None and maxdepth <= 0:
        node.children = []
    for child in node.children:
        _cut(child, None if maxdepth is None else maxdepth - 1)


def etag_tree_md5(files: list[Entry]) -> str:
    """The ``.dir`` id dvc gives an S3 prefix: its manifest with ``etag``
    entries, serialized as a ``.dir`` object is (sorted by relpath, keys
    sorted, dvc's JSON separators)."""
    entries = sorted(({"etag": f.etag, "relpath": f.path} for f in files), key=_relpath)
    body = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(body).hexdigest() + ".dir"


def _relpath(entry: Mapping[str, Any]) -> str:
    return str(entry["relpath"])


class Url:
    """A source URL, opened for reading (use as a context manager: a
    remote one holds an event loop and its connections)."""

    #: dvc records the source by the md5 of its content (a local path, SSH):
    #: bale hashes the bytes it downloads (:attr:`Info.checksum` stays empty).
    hashed = False

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = mask_url(url)

    @property
    def fs_path(self) -> str:
        """The URL as dvc's file system names it (``ls-url`` of a file, the
        root of ``ls-url --tree``): without ``s3://`` or ``gs://``, an SSH or
        WebDAV URL's path."""
        return self.url.partition("://")[2]

    def named(self, isdir: bool) -> str:
        """The URL as dvc's ``ls-url`` lists it alone (a file, or anything
        with ``-L 0``): its file system's ``info`` name."""
        return self.fs_path

    def info(self) -> Info:
        """What is at the URL; :class:`UrlMissingError` if nothing is."""
        raise NotImplementedError

    def isdir(self) -> bool:
        """Whether the URL is a directory; :class:`UrlMissingError` if
        nothing is there (at most what :meth:`info` costs)."""
        return self.info().isdir

    def listing(self, recursive: bool, maxdepth: int | None = None) -> list[Entry]:
        """What a directory URL holds (files, and with ``recursive`` unset,
        its subdirectories), as ``dvc ls-url`` lists them."""
        raise NotImplementedError

    def tree(self, maxdepth: int | None = None) -> Node:
        """The URL as ``dvc ls-url --tree`` draws it, named by its path in
        its file system (an S3 URL without ``s3://``)."""
        info = self.info()
        if not info.isdir:
            return Node(self.fs_path, False, info.size)
        return tree_of_files(self.fs_path, info.files, maxdepth)

    def download(self, dest: Path, info: Info, jobs: int, bar: Bar) -> None:
        """Writes what :meth:`info` found into ``dest`` (a new path); on
        failure nothing is left there."""
        raise NotImplementedError

    def close(self) -> None:
        """Releases connections."""

    def __enter__(self) -> Url:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalUrl(Url):
    """A path on this machine (``file://`` URLs included)."""

    hashed = True

    def __init__(self, url: str, path: Path) -> None:
        super().__init__(url)
        self.path = path

    @property
    def fs_path(self) -> str:
        return str(self.path.absolute())

    def info(self) -> Info:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise UrlMissingError(f"{self.url}: no such file or directory") from None
        except OSError as e:
            raise TargetError(f"{self.url}: cannot be read: {e.strerror}") from None
        return Info(isdir=self.path.is_dir(), size=None if self.path.is_dir() else st.st_size)

    def listing(self, recursive: bool, maxdepth: int | None = None) -> list[Entry]:
        # In the file system's order, as dvc lists (fsspec's walk: scandir's).
        out: list[Entry] = []
        for root, dirs, files in os.walk(self.path):
            rel = Path(root).relative_to(self.path)
            shallow = _shallow(len(rel.parts), recursive, maxdepth)
            names = [(f, False) for f in files]
            names += [(d, True) for d in dirs] if shallow else []
            for name, isdir in names:
                size = Path(root, name).stat().st_size
                out.append(Entry((rel / name).as_posix(), isdir, size))
            if shallow:
                dirs.clear()
        return out

    def tree(self, maxdepth: int | None = None) -> Node:
        self.info()
        return _local_node(self.path, self.url, maxdepth)

    def download(self, dest: Path, info: Info, jobs: int, bar: Bar) -> None:
        # Only get-url copies a local source; import-url has the engine store it.
        try:
            if info.isdir:
                shutil.copytree(self.path, dest, symlinks=False)
            else:
                shutil.copyfile(self.path, dest)
        except BaseException:
            _remove(dest)
            raise


class _Remote(Url):
    """A URL read through a remote store, on an event loop of its own."""

    def __init__(self, url: str, jobs: int) -> None:
        super().__init__(url)
        self._jobs = jobs
        self._loop = asyncio.new_event_loop()

    #: the kind's store (bale.remotes), rooted at the bucket or the URL's parent
    _store: Any

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(work)

    async def _close_store(self) -> None:
        await self._store.close()

    def _download(
        self, keys: list[tuple[str, Path]], isdir: bool, dest: Path, jobs: int, bar: Bar
    ) -> None:
        """Gets each (key, target) from the store into ``dest`` (a new file,
        or a new directory of them); on failure nothing is left at ``dest``."""

        async def run() -> None:
            step = lambda n: bar.step(n, files=0)  # noqa: E731
            if isdir:
                dest.mkdir()
            bar.add_total(len(keys))

            async def get(item: tuple[str, Path]) -> None:
                key, target = item
                target.parent.mkdir(parents=True, exist_ok=True)
                await self._store.get(key, target, step)
                bar.step(files=1)

            await bounded(keys, get, jobs)

        try:
            self._run(run())
        except BaseException:
            _remove(dest)
            raise

    def close(self) -> None:
        try:
            self._run(self._close_store())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()


def check_relpath(url: str, prefix: str, relpath: str) -> None:
    """Refuses a listed key that is not a plain relative name under
    ``prefix``: a key is a name, not a path, and one with empty, ``.`` or
    ``..`` parts would be written outside the destination."""
    if any(part in ("", ".", "..") for part in relpath.split("/")):
        raise TargetError(
            f"{url}: key {prefix + relpath!r} is not a relative file name bale can write "
            "(it has an empty, '.' or '..' part)"
        )


class _ObjectUrl(_Remote):
    """``<scheme>://bucket/key`` of an object store: the object ``key``, or
    every object under ``key/`` (a directory, as dvc's file systems see a
    prefix). Each store says how it heads one object and lists a prefix."""

    form = ""  # for messages

    def __init__(self, url: str, jobs: int) -> None:
        super().__init__(url, jobs)
        bucket, _, key = url.partition("://")[2].partition("/")
        if not bucket:
            raise TargetError(f"{self.shown}: not a URL of the form {self.form}")
        self.bucket = bucket
        self.key = key.strip("/")

    async def _head(self, key: str) -> Info | None:
        """What dvc records of the object ``key`` (None if there is none)."""
        raise NotImplementedError

    def _list(self, prefix: str) -> AsyncIterator[tuple[str, int, str]]:
        """(key, size, etag as dvc records it) of every object under ``prefix``."""
        raise NotImplementedError

    def info(self) -> Info:
        return self._run(self._info())

    async def _info(self) -> Info:
        if self.key and not self.url.endswith("/"):
            found = await self._head(self.key)
            if found is not None:
                return found
        files = await self._files(self.key + "/" if self.key else "")
        if not files:
            raise UrlMissingError(f"{self.shown}: no such object or prefix")
        return Info(
            isdir=True,
            size=sum(f.size or 0 for f in files),
            nfiles=len(files),
            checksum={"md5": etag_tree_md5(files)},
            files=tuple(files),
        )

    async def _files(self, prefix: str) -> list[Entry]:
        """Every object under ``prefix``, relative to it (folder markers,
        keys ending in ``/``, are not files)."""
        found = [
            Entry(key[len(prefix) :], False, size, etag)
            async for key, size, etag in self._list(prefix)
            if not key.endswith("/")
        ]
        for f in found:
            check_relpath(self.url, prefix, f.path)
        return found

    def listing(self, recursive: bool, maxdepth: int | None = None) -> list[Entry]:
        return walk_listing(self.info().files, recursive, maxdepth)

    def download(self, dest: Path, info: Info, jobs: int, bar: Bar) -> None:
        prefix = self.key + "/" if self.key else ""
        keys = (
            [(self.key, dest)]
            if not info.isdir
            else [(prefix + f.path, dest / f.path) for f in info.files]
        )
        self._download(keys, info.isdir, dest, jobs, bar)


class S3Url(_ObjectUrl):
    """``s3://bucket/key``: the object ``key``, or every object under ``key/``."""

    form = "s3://bucket/key"

    def __init__(self, url: str, options: Mapping[str, str], jobs: int) -> None:
        from bale.remotes.s3 import S3Store

        super().__init__(url, jobs)
        self._store: S3Store = S3Store(self.shown, f"s3://{self.bucket}", options, jobs=jobs)

    async def _head(self, key: str) -> Info | None:
        head = await self._store.head(key)
        if head is None:
            return None
        size, etag = head
        return Info(isdir=False, size=size, checksum={"etag": etag})

    def _list(self, prefix: str) -> AsyncIterator[tuple[str, int, str]]:
        return self._store.list_etags(prefix)


class GCSUrl(_ObjectUrl):
    """``gs://bucket/key``: the object ``key``, or every object under ``key/``.

    dvc records the JSON API's etag decoded from base64 to hex (fake-gcs-server
    makes it the content's MD5; Google's is opaque and changes when the
    object is written again, even with the same bytes: a change to dvc and
    bale alike), and a file's generation as ``version_id``.
    """

    form = "gs://bucket/key"

    def __init__(self, url: str, options: Mapping[str, str], jobs: int) -> None:
        from bale.remotes.gcs import GCSStore

        super().__init__(url, jobs)
        self._store: GCSStore = GCSStore(self.shown, f"gs://{self.bucket}", options, jobs=jobs)

    async def _head(self, key: str) -> Info | None:
        meta = await self._store.object_meta(key)
        if meta is None:
            return None
        size, etag, generation = meta
        return Info(
            isdir=False,
            size=size,
            checksum={"etag": self._hex(key, etag)},
            meta={"version_id": generation} if generation else {},
        )

    async def _list(self, prefix: str) -> AsyncIterator[tuple[str, int, str]]:
        async for key, size, etag in self._store.list_etags(prefix):
            yield key, size, self._hex(key, etag)

    def _hex(self, key: str, etag: str) -> str:
        """dvc-data's ``base64.b64decode(etag).hex()``; refused where it would fail."""
        try:
            return base64.b64decode(etag, validate=True).hex() if etag else ""
        except ValueError:
            raise TargetError(
                f"{self.shown}: the etag of {key!r} is not base64 ({etag!r}), so dvc could "
                "not record it either"
            ) from None


class AzureUrl(_ObjectUrl):
    """``azure://container/key``: the blob ``key``, or every blob under ``key/``.

    dvc records a blob's ETag with its double quotes. Untested against a
    service: see the module docstring.
    """

    form = "azure://container/key"

    def __init__(self, url: str, options: Mapping[str, str], jobs: int) -> None:
        from bale.remotes.azure import AzureStore

        super().__init__(url, jobs)
        self._store: AzureStore = AzureStore(
            self.shown, f"azure://{self.bucket}", options, jobs=jobs
        )

    async def _head(self, key: str) -> Info | None:
        meta = await self._store.blob_meta(key)
        if meta is None:
            return None
        size, etag = meta
        return Info(isdir=False, size=size, checksum={"etag": quoted_etag(etag)})

    async def _list(self, prefix: str) -> AsyncIterator[tuple[str, int, str]]:
        async for key, size, etag in self._store.list_etags(prefix):
            yield key, size, quoted_etag(etag)


def quoted_etag(etag: str) -> str:
    """An Azure ETag as dvc records it: between double quotes, whether the
    SDK gave them or not (adlfs's ``_normalize_etag_quotes``)."""
    return f'"{etag.strip(chr(34))}"' if etag else ""


class _WalkedUrl(_Remote):
    """A URL of a store that lists one directory at a time (SSH, WebDAV),
    rooted at the URL's parent: the URL is the store's key :attr:`name`."""

    def __init__(self, url: str, jobs: int) -> None:
        super().__init__(url, jobs)
        path = urlsplit(url).path.rstrip("/")
        self.parent, _, self.name = path.rpartition("/")
        if not self.name:
            raise TargetError(f"{self.shown}: names no file or directory below the server's root")

    @property
    def fs_path(self) -> str:
        return unquote(urlsplit(self.url).path.rstrip("/"))

    async def _stat(self) -> Entry | None:
        """The URL itself (its ``path`` empty), None if nothing is there."""
        raise NotImplementedError

    async def _children(self, rel: str) -> list[Entry]:
        """What the directory ``rel`` (relative to the URL) holds, in the
        server's order, paths relative to the URL."""
        raise NotImplementedError

    def _file_record(self, f: Entry) -> str | None:
        """What dvc records of one file of a directory (its etag), or None
        for a source recorded by content (:attr:`hashed`)."""
        return None

    def info(self) -> Info:
        return self._run(self._info())

    def isdir(self) -> bool:
        me = self._run(self._stat())
        if me is None:
            raise UrlMissingError(f"{self.shown}: no such file or directory")
        return me.isdir

    async def _info(self) -> Info:
        me = await self._stat()
        if me is None:
            raise UrlMissingError(f"{self.shown}: no such file or directory")
        if not me.isdir:
            checksum, why = self._record([me], False)
            return Info(isdir=False, size=me.size, checksum=checksum, unrecordable=why)
        files = await self._all_files()
        checksum, why = self._record(files, True)
        return Info(
            isdir=True,
            size=sum(f.size or 0 for f in files),
            nfiles=len(files),
            checksum=checksum,
            files=tuple(files),
            unrecordable=why,
        )

    def _record(self, files: list[Entry], isdir: bool) -> tuple[dict[str, str], str | None]:
        """What dvc records of the file (``files`` is the URL itself) or of
        the directory holding ``files``, or why bale cannot record it so."""
        raise NotImplementedError

    async def _all_files(self) -> list[Entry]:
        """Every file below the URL, a level of directories at a time."""
        files: list[Entry] = []
        level = [""]
        while level:
            below: list[str] = []
            for children in await bounded(level, self._children, self._jobs):
                for c in children:
                    if c.isdir:
                        below.append(c.path)
                    else:
                        files.append(c)
            level = below
        return files

    def listing(self, recursive: bool, maxdepth: int | None = None) -> list[Entry]:
        return self._run(self._listing(recursive, maxdepth))

    async def _listing(self, recursive: bool, maxdepth: int | None) -> list[Entry]:
        # dvc's ls_url over fsspec's walk: depth first, in each directory
        # its files then (where it stops) its subdirectories, in the
        # server's order.
        out: list[Entry] = []

        async def visit(rel: str, depth: int) -> None:
            children = await self._children(rel)
            out.extend(c for c in children if not c.isdir)
            dirs = [c for c in children if c.isdir]
            if _shallow(depth, recursive, maxdepth):
                out.extend(dirs)
                return
            for d in dirs:
                await visit(d.path, depth + 1)

        await visit("", 0)
        return out

    def tree(self, maxdepth: int | None = None) -> Node:
        return self._run(self._tree(maxdepth))

    async def _tree(self, maxdepth: int | None) -> Node:
        # dvc's _ls_tree: each directory listed and sorted by name, sizes
        # as the server gives them (a directory's too, where it has one).
        me = await self._stat()
        if me is None:
            raise UrlMissingError(f"{self.shown}: no such file or directory")
        root = Node(self.fs_path, me.isdir, me.size)

        async def fill(node: Node, rel: str, depth: int | None) -> None:
            if not node.isdir or (depth is not None and depth <= 0):
                return
            for c in sorted(await self._children(rel), key=lambda e: e.path):
                child = Node(c.path.rpartition("/")[2], c.isdir, c.size)
                node.children.append(child)
                await fill(child, c.path, None if depth is None else depth - 1)

        await fill(root, "", maxdepth)
        return root

    def download(self, dest: Path, info: Info, jobs: int, bar: Bar) -> None:
        keys = (
            [(self.name, dest)]
            if not info.isdir
            else [(f"{self.name}/{f.path}", dest / f.path) for f in info.files]
        )
        self._download(keys, info.isdir, dest, jobs, bar)


class SSHUrl(_WalkedUrl):
    """``ssh://[user@]host[:port]/path``: a file, or a directory and all
    below it, read over SFTP as :class:`~bale.remotes.ssh.SSHStore` reads
    (host keys checked, which dvc-ssh does not do). dvc records its content's
    md5, so bale hashes what it downloads (:attr:`hashed`)."""

    hashed = True

    def __init__(self, url: str, options: Mapping[str, str], jobs: int) -> None:
        from bale.remotes.ssh import SSHStore

        super().__init__(url, jobs)
        parts = urlsplit(url)
        parent = urlunsplit((parts.scheme, parts.netloc, self.parent or "/", "", ""))
        self._store: SSHStore = SSHStore(self.shown, parent, options, jobs=jobs)

    def named(self, isdir: bool) -> str:
        return self.fs_path + "/" if isdir else self.fs_path  # sshfs's info names a directory so

    async def _stat(self) -> Entry | None:
        found = await self._store.stat_key(unquote(self.name))
        return None if found is None else Entry("", found[0], found[1])

    async def _children(self, rel: str) -> list[Entry]:
        base = unquote(self.name)
        start = len(base) + 1
        out = []
        for key, kind, size in await self._store.list_dir(f"{base}/{rel}".rstrip("/")):
            isdir = kind == "directory"
            out.append(Entry(key[start:], isdir, size, regular=isdir or kind == "file"))
        return out

    def _record(self, files: list[Entry], isdir: bool) -> tuple[dict[str, str], str | None]:
        # The md5 comes from the downloaded bytes (hashed). sshfs lists a
        # symbolic link as a file of the link's own size, then reads through
        # it: dvc records a size that disagrees with the content.
        for f in files:
            if not f.regular:
                return {}, (
                    f"{self.shown}: {f.path} is a symbolic link or special file; "
                    "bale imports regular files only"
                )
        return {}, None


class WebDAVUrl(_WalkedUrl):
    """``webdav[s]://host/path``: a file, or a collection and all below it.
    dvc records a file's ``getetag`` as the server writes it."""

    def __init__(self, url: str, options: Mapping[str, str], jobs: int) -> None:
        from bale.remotes.webdav import WebDAVStore

        super().__init__(url, jobs)
        parts = urlsplit(url)
        parent = urlunsplit((parts.scheme, parts.netloc, self.parent, "", ""))
        self._store: WebDAVStore = WebDAVStore(self.shown, parent, options, jobs=jobs)

    async def _stat(self) -> Entry | None:
        found = await self._store.props(unquote(self.name), "0")
        if not found:
            return None
        _, isdir, size, etag = found[0]
        return Entry("", isdir, None if isdir else size, etag)

    async def _children(self, rel: str) -> list[Entry]:
        base = unquote(self.name)
        found = await self._store.props(f"{base}/{rel}".rstrip("/"), "1") or []
        start = len(base) + 1
        return [
            Entry(key[start:], isdir, None if isdir else size, etag)
            for key, isdir, size, etag in found
        ]

    def _record(self, files: list[Entry], isdir: bool) -> tuple[dict[str, str], str | None]:
        for f in files:
            if not f.etag:
                # dvc-data finds no etag in the info and fails (NotImplementedError)
                return {}, (
                    f"{self.shown}: the server gives {f.path or 'it'} no ETag (getetag), so a "
                    "change could not be told; download it with get-url and add it instead"
                )
        if not isdir:
            return {"etag": str(files[0].etag)}, None
        # dvc-webdav roots its client at the URL, so the directory's path in
        # it is ".", while the walk names its subdirectories "s", "sub/t"
        # (relative to the URL): dvc-data's _build_tree cuts len(".") + 1
        # characters off each, so a file "s/y" is recorded as "/y", "sub/t/w"
        # as "b/t/w" (seen with dvc 3.67.1, dvc-webdav 3.0.1, webdav4 0.11).
        # Only the change check reads this manifest (it is never stored), so
        # bale writes what dvc computes, or both tools would see a change at
        # every update.
        recorded = []
        for f in files:
            parent, _, leaf = f.path.rpartition("/")
            recorded.append(replace(f, path=f"{parent[2:]}/{leaf}" if parent else leaf))
        if len({f.path for f in recorded}) != len(recorded):
            # dvc's tree keeps one of the files that share a name then, and
            # counts one less in nfiles
            return {}, (
                f"{self.shown}: dvc-webdav would record two of its files under one name "
                "(it drops the first two characters of each subdirectory's path), so bale "
                "cannot record it as dvc does; download it with get-url and add it instead"
            )
        return {"md5": etag_tree_md5(recorded)}, None


class HTTPUrl(_Remote):
    """``http(s)://host/path``: one file (HTTP has no directories)."""

    def __init__(self, url: str, options: Mapping[str, str], jobs: int) -> None:
        from bale.remotes.http import HTTPStore

        super().__init__(url, jobs)
        # The store is rooted at the file's parent; a query stays with the name.
        parts = urlsplit(url)
        parent, _, name = parts.path.rpartition("/")
        if not name:
            raise TargetError(f"{self.shown}: names no file (HTTP has no directories)")
        base = urlunsplit((parts.scheme, parts.netloc, parent, "", ""))
        self.name = name + (f"?{parts.query}" if parts.query else "")
        self._store: HTTPStore = HTTPStore(self.shown, base, options, jobs=jobs)

    @property
    def fs_path(self) -> str:
        return self.url  # dvc's HTTP file system keeps the whole URL

    def info(self) -> Info:
        headers = self._run(self._store.head_info(self.name))
        if headers is None:
            raise UrlMissingError(f"{self.shown}: not found (HTTP 404)")
        checksum = headers.get("ETag") or headers.get("Content-MD5")
        length = headers.get("Content-Length")
        size = int(length) if length is not None and length.isdigit() else None
        if not checksum:
            why = (
                f"{self.shown}: the server sends no ETag or Content-MD5, so a change "
                "could not be told; download it with get-url and add it instead"
            )
            return Info(isdir=False, size=size, unrecordable=why)
        return Info(isdir=False, size=size, checksum={"checksum": checksum})

    def listing(self, recursive: bool, maxdepth: int | None = None) -> list[Entry]:
        raise TargetError(f"{self.shown}: HTTP URLs cannot be listed")

    def download(self, dest: Path, info: Info, jobs: int, bar: Bar) -> None:
        self._download([(self.name, dest)], False, dest, jobs, bar)


def _local_node(path: Path, name: str, maxdepth: int | None) -> Node:
    """A local path as a :class:`Node`; directories have their own size (as
    the file system gives it, and as dvc shows it)."""
    node = Node(name, path.is_dir(), path.stat().st_size)
    if node.isdir and (maxdepth is None or maxdepth > 0):
        deeper = None if maxdepth is None else maxdepth - 1
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            node.children.append(_local_node(Path(entry.path), entry.name, deeper))
    return node


def _shallow(depth: int, recursive: bool, maxdepth: int | None) -> bool:
    """Whether a directory ``depth`` levels down lists its subdirectories
    instead of entering them (dvc's ``ls_url``: always without ``-R``, and
    at the last level ``-L`` allows)."""
    return not recursive or bool(maxdepth and depth >= maxdepth - 1)


def walk_listing(files: Iterable[Entry], recursive: bool, maxdepth: int | None) -> list[Entry]:
    """``files`` (every file below a URL) in the order ``dvc ls-url`` walks
    them: top down, depth first, in each directory its files then (where it
    stops) its subdirectories, each sorted by name."""
    here: dict[str, list[Entry]] = {}
    below: dict[str, set[str]] = {}
    for f in files:
        parent, _, _ = f.path.rpartition("/")
        here.setdefault(parent, []).append(f)
        while parent:
            up, _, _ = parent.rpartition("/")
            below.setdefault(up, set()).add(parent)
            parent = up
    out: list[Entry] = []

    def visit(rel: str, depth: int) -> None:
        out.extend(sorted(here.get(rel, []), key=lambda e: e.path))
        subdirs = sorted(below.get(rel, ()))
        if _shallow(depth, recursive, maxdepth):
            out.extend(Entry(d, True, None) for d in subdirs)
            return
        for d in subdirs:
            visit(d, depth + 1)

    visit("", 0)
    return out


def _remove(path: Path) -> None:
    """Removes what a failed download left at ``path``."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def local_path(url: str, base: Path) -> Path | None:
    """The local path ``url`` names (relative ones from ``base``), or None
    for a URL of another scheme."""
    if url.startswith("file://"):
        return Path(unquote(url.removeprefix("file://")))
    if "://" in url:
        return None
    return Path(os.path.normpath(base / url))


def open_url(
    url: str,
    *,
    base: Path,
    fs_config: Mapping[str, str] | None = None,
    jobs: int = 16,
    remotes: Callable[[str], Remote] | None = None,
) -> Url:
    """``url`` opened for reading: a path (relative ones from ``base``),
    ``file://``, ``s3://``, ``gs://``, ``azure://``, ``ssh://``,
    ``webdav(s)://``, ``http(s)://``, or ``remote://<name>/<path>``
    under a configured remote (``remotes(name)`` gives its
    :class:`~bale.remotes.Remote`). Refuses any other scheme by name."""
    options = dict(fs_config or {})
    if url.startswith("remote://"):
        if remotes is None:
            raise TargetError(f"{url}: remote:// URLs need a repository")
        name, _, rest = url.removeprefix("remote://").partition("/")
        remote = remotes(name)
        if remote.path is not None:  # a folder remote, its path resolved from its config file
            inner = str(remote.path / rest)
        else:
            inner = posixpath.join(remote.url.rstrip("/"), rest) if rest else remote.url
        inherited = {k: v for k, v in remote.options.items() if k != "url"}
        return _open(url, inner, base, {**inherited, **options}, jobs)
    return _open(url, url, base, options, jobs)


def _open(url: str, inner: str, base: Path, options: dict[str, str], jobs: int) -> Url:
    path = local_path(inner, base)
    if path is not None:
        return LocalUrl(url, path)
    scheme = inner.partition("://")[0].lower()
    kind = _KINDS.get(scheme)
    if kind is None:
        shown = mask_url(url)
        raise BaleError(
            f"{shown}: bale cannot read {scheme}:// URLs "
            "(local paths, s3, gs, azure, ssh, webdav(s) and http(s) it can)"
        )
    _check_options(url, scheme, options)
    return kind(inner, options, jobs)


_KINDS: dict[str, Callable[[str, Mapping[str, str], int], Url]] = {
    "s3": S3Url,
    "gs": GCSUrl,
    "azure": AzureUrl,
    "ssh": SSHUrl,
    "webdav": WebDAVUrl,
    "webdavs": WebDAVUrl,
    "http": HTTPUrl,
    "https": HTTPUrl,
}


def _check_options(url: str, scheme: str, options: Mapping[str, str]) -> None:
    """Refuses an option a remote of this kind does not have (a typo would
    otherwise be ignored) or that bale's store cannot honour."""
    from bale.config import REMOTE_SCHEMAS
    from bale.remotes.support import kind_of, refuse_options

    known = REMOTE_SCHEMAS[scheme]
    for option in options:
        if option not in known or option == "url":
            raise ConfigError(f"{mask_url(url)}: unknown --fs-config option '{option}'")
    refuse_options(mask_url(url), kind_of(url) or scheme, options, lambda _o: "--fs-config")
