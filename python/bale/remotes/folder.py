"""A folder remote as a :class:`~bale.remotes.store.Store`.

md5 data on a folder remote is copied by the engine directly (it has the
cache's layout, and the engine hashes while it copies); this store serves
the packed layout, whose few large files gain nothing from the engine, so
that packs go through one code path for every kind of remote.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from bale import _core
from bale.remotes.errors import ObjectNotFound, RemoteError
from bale.remotes.store import Expect, Progress, Sink, check_object, sink_for

_BLOCK = 1 << 20


class FolderStore:
    """Objects as files under ``root``; writes are temp file + rename."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise RemoteError(f"remote '{self.name}': bad key {key!r}")
        return self.root.joinpath(*parts)

    async def exists(self, keys: Iterable[str]) -> set[str]:
        wanted = list(keys)
        return await asyncio.to_thread(lambda: {k for k in wanted if self._path(k).is_file()})

    async def list(self, prefix: str) -> AsyncIterator[tuple[str, int]]:
        def walk() -> list[tuple[str, int]]:
            base = self.root / prefix if prefix else self.root
            found = []
            for dirpath, _dirs, files in os.walk(base):
                for name in files:
                    if name.startswith("."):
                        continue  # temp files of writers
                    path = os.path.join(dirpath, name)
                    key = os.path.relpath(path, self.root).replace(os.sep, "/")
                    found.append((key, os.stat(path).st_size))
            return found

        for item in await asyncio.to_thread(walk):
            yield item

    async def get(
        self,
        key: str,
        dest: Path | Sink,
        progress: Progress | None = None,
        byte_range: tuple[int, int] | None = None,
    ) -> int:
        src = self._path(key)
        out = sink_for(dest)

        def copy() -> int:
            try:
                f = open(src, "rb")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                raise ObjectNotFound(f"remote '{self.name}': {key} not found") from None
            with f:
                start, end = byte_range or (0, os.fstat(f.fileno()).st_size)
                f.seek(start)
                offset = 0
                while offset < end - start:
                    block = f.read(min(_BLOCK, end - start - offset))
                    if not block:
                        raise RemoteError(f"remote '{self.name}': {key} is shorter than expected")
                    out.write(block, offset)
                    offset += len(block)
                    if progress is not None:
                        progress(len(block))
            out.close()
            return offset

        try:
            return await asyncio.to_thread(copy)
        except BaseException:
            out.discard()
            raise

    async def read_small(self, key: str, limit: int) -> bytes | None:
        path = self._path(key)

        def read() -> bytes | None:
            try:
                with open(path, "rb") as f:
                    if os.fstat(f.fileno()).st_size > limit:
                        return None
                    return f.read()
            except FileNotFoundError:
                raise ObjectNotFound(f"remote '{self.name}': {key} not found") from None

        return await asyncio.to_thread(read)

    async def put(
        self,
        src: Path,
        key: str,
        progress: Progress | None = None,
        consume: bool = False,
        expect: Expect = None,
    ) -> None:
        dest = self._path(key)

        def copy() -> None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            # bale's temp name: gc -c finds a killed push's leftovers by it.
            tmp = _core.temp_path(dest.parent)
            try:
                if not (consume and _linked(src, tmp)):
                    try:
                        shutil.copyfile(src, tmp)
                    except OSError as e:
                        # copyfile names the source even when the write
                        # failed: a full disk is the remote's disk.
                        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
                        if e.filename != str(src) or full:
                            where = f"remote '{self.name}': {dest}"
                            raise RemoteError(f"{where}: {e.strerror}") from None
                        raise
                _core.failpoint("temp")
                # What landed is what is checked (md5 objects usually take the
                # engine's verified copy instead: remotes.movers).
                check_object(tmp, expect)
                os.chmod(tmp, 0o444)
                os.replace(tmp, dest)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                raise
            if progress is not None:
                progress(dest.stat().st_size)

        await asyncio.to_thread(copy)

    async def delete(self, keys: Iterable[str]) -> None:
        doomed = [self._path(k) for k in keys]

        def remove() -> None:
            for path in doomed:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

        await asyncio.to_thread(remove)

    async def close(self) -> None:
        pass


def _linked(src: Path, dest: Path) -> bool:
    """Hard-links ``src`` (a staged pack, never changed again) as ``dest``:
    no second copy of its bytes when the remote is on the same file system."""
    try:
        os.link(src, dest)
    except OSError:
        return False
    return True
