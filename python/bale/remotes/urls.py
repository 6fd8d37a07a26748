"""Reading a URL outside any repository: a local path, ``s3://`` or
``http(s)://``, as ``import-url``, ``get-url`` and ``ls-url`` see it.

What dvc 3.67.1 records of a source (``dvc_data.hashfile.meta.Meta.from_info``),
which :attr:`Info.checksum` reproduces:

- a local file or directory: its ``md5`` (of the content; a directory's is
  its ``.dir`` manifest's), computed by the engine as it stores the data;
- an S3 object: its ``etag`` (the ETag header without its quotes); an S3
  prefix: ``md5`` of a ``.dir``-shaped manifest whose entries carry each
  object's ``etag`` instead of an ``md5`` (``[{"etag": ..., "relpath": ...}]``);
- an HTTP file: ``checksum``, the ETag header as sent (quotes kept), else
  its Content-MD5. A server that sends neither gets a checksum dvc derives
  from Python object tokens, which bale cannot reproduce: refused. HTTP has
  no directories (dvc cannot list them either).

Bytes move through the remote stores (:class:`~bale.remotes.s3.S3Store`,
:class:`~bale.remotes.http.HTTPStore`): one S3 store rooted at the bucket,
one HTTP store rooted at the file's parent URL. Their errors name the URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import posixpath
import shutil
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from bale.exceptions import BaleError, ConfigError, TargetError, TargetNotFoundError
from bale.redact import mask_url
from bale.remotes.store import bounded

if TYPE_CHECKING:
    from bale.progress import Bar
    from bale.remotes import Remote
    from bale.remotes.http import HTTPStore
    from bale.remotes.s3 import S3Store

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

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = mask_url(url)

    def info(self) -> Info:
        """What is at the URL; :class:`UrlMissingError` if nothing is."""
        raise NotImplementedError

    def listing(self, recursive: bool, maxdepth: int | None = None) -> list[Entry]:
        """What a directory URL holds (files, and with ``recursive`` unset,
        its subdirectories), as ``dvc ls-url`` lists them."""
        raise NotImplementedError

    def tree(self, maxdepth: int | None = None) -> Node:
        """The URL as ``dvc ls-url --tree`` draws it, named by its path in
        its file system (an S3 URL without ``s3://``)."""
        info = self.info()
        name = self.url.removeprefix("s3://")
        if not info.isdir:
            return Node(name, False, info.size)
        return tree_of_files(name, info.files, maxdepth)

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

    def __init__(self, url: str, path: Path) -> None:
        super().__init__(url)
        self.path = path

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

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(work)

    async def _close_store(self) -> None:
        raise NotImplementedError

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


class S3Url(_Remote):
    """``s3://bucket/key``: the object ``key``, or every object under ``key/``."""

    def __init__(self, url: str, options: Mapping[str, str], jobs: int) -> None:
        from bale.remotes.s3 import S3Store

        super().__init__(url, jobs)
        bucket, _, key = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise TargetError(f"{self.shown}: not an s3://bucket/key URL")
        self.key = key.strip("/")
        self._store: S3Store = S3Store(self.shown, f"s3://{bucket}", options, jobs=jobs)

    async def _close_store(self) -> None:
        await self._store.close()

    def info(self) -> Info:
        return self._run(self._info())

    async def _info(self) -> Info:
        if self.key and not self.url.endswith("/"):
            head = await self._store.head(self.key)
            if head is not None:
                size, etag = head
                return Info(isdir=False, size=size, checksum={"etag": etag})
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
            async for key, size, etag in self._store.list_etags(prefix)
            if not key.endswith("/")
        ]
        for f in found:
            check_relpath(self.url, prefix, f.path)
        return found

    def listing(self, recursive: bool, maxdepth: int | None = None) -> list[Entry]:
        return walk_listing(self.info().files, recursive, maxdepth)

    def download(self, dest: Path, info: Info, jobs: int, bar: Bar) -> None:
        try:
            self._run(self._download(dest, info, jobs, bar))
        except BaseException:
            _remove(dest)
            raise

    async def _download(self, dest: Path, info: Info, jobs: int, bar: Bar) -> None:
        step = lambda n: bar.step(n, files=0)  # noqa: E731
        if not info.isdir:
            bar.add_total(1)
            await self._store.get(self.key, dest, step)
            bar.step(files=1)
            return
        dest.mkdir()
        bar.add_total(len(info.files))
        prefix = self.key + "/" if self.key else ""

        async def get(f: Entry) -> None:
            target = dest / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            await self._store.get(prefix + f.path, target, step)
            bar.step(files=1)

        await bounded(info.files, get, jobs)


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

    async def _close_store(self) -> None:
        await self._store.close()

    def info(self) -> Info:
        headers = self._run(self._store.head_info(self.name))
        if headers is None:
            raise UrlMissingError(f"{self.shown}: not found (HTTP 404)")
        checksum = headers.get("ETag") or headers.get("Content-MD5")
        if not checksum:
            raise TargetError(
                f"{self.shown}: the server sends no ETag or Content-MD5, so a change "
                "could not be told; download it with get-url and add it instead"
            )
        length = headers.get("Content-Length")
        size = int(length) if length is not None and length.isdigit() else None
        return Info(isdir=False, size=size, checksum={"checksum": checksum})

    def listing(self, recursive: bool, maxdepth: int | None = None) -> list[Entry]:
        raise TargetError(f"{self.shown}: HTTP URLs cannot be listed")

    def download(self, dest: Path, info: Info, jobs: int, bar: Bar) -> None:
        bar.add_total(1)
        try:
            self._run(self._store.get(self.name, dest, lambda n: bar.step(n, files=0)))
        except BaseException:
            _remove(dest)
            raise
        bar.step(files=1)


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
    ``file://``, ``s3://``, ``http(s)://``, or ``remote://<name>/<path>``
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
    if scheme not in ("s3", "http", "https"):
        shown = mask_url(url)
        raise BaleError(f"{shown}: bale cannot read {scheme}:// URLs (local, s3, http(s) only)")
    _check_options(url, scheme, options)
    if scheme == "s3":
        return S3Url(inner, options, jobs)
    return HTTPUrl(inner, options, jobs)


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
