"""Many small SFTP reads in flight on one channel, their requests batched.

A DVC-layout pull reads thousands of objects of a few KiB, three SFTP
requests each (open, read, close). Through asyncssh's ``SFTPClient`` every
request is its own SSH packet, each preceded by an ``SSH_MSG_IGNORE`` that
asyncssh sends before every encrypted packet, each a ``send`` system call,
and every answer is read by its own coroutine: about 0.25 ms of client CPU
a file, which bounds a pull on a fast link. Here the SFTP protocol (version
3, RFC draft-ietf-secsh-filexfer-02) is spoken directly on an SSH session
channel: every request made during one turn of the event loop goes out in
one channel write (one SSH packet for dozens of requests), and the answers
are parsed straight from the channel's data, each advancing its read to the
next request. Nothing else of SFTP is done here; everything else (and every
object larger than one read) stays with asyncssh's client.

A read asks for one more byte than the caller's limit, at most the server's
largest read (``limits@openssh.com``, else 16 KiB, as asyncssh assumes).
SFTP promises that a read of a regular file returns what was asked or all
up to its end, so a shorter answer is the whole object; an answer of the
full size is reported as :class:`More`, and the caller reads the rest of
that object the ordinary way. Whatever arrives is hashed by the engine before it is
trusted, so a server that broke the promise would fail the pull, never
corrupt the cache.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

import asyncssh

__all__ = ["More", "PipeLost", "SFTPPipe", "StatusError"]


class More:
    """What :meth:`SFTPPipe.read` returns for an object that may be larger
    than one read: its first bytes; the caller reads the rest another way."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix


_INIT, _VERSION = 1, 2
_OPEN, _CLOSE, _READ = 3, 4, 5
_STATUS, _HANDLE, _DATA = 101, 102, 103
_FX_EOF = 1
_FXF_READ = 1
_U32 = struct.Struct(">I")
_HEAD = struct.Struct(">IBI")  # length, type, request id
_OPEN_TAIL = struct.Struct(">II")  # pflags, attrs flags (none)
_READ_TAIL = struct.Struct(">QI")  # offset, length


class PipeLost(Exception):
    """The channel closed or spoke garbage: every read in flight fails with this."""


class StatusError(Exception):
    """The server refused a request: ``code`` is SFTP's status code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _string(b: bytes) -> bytes:
    return _U32.pack(len(b)) + b


def _packet(kind: int, rid: int, body: bytes) -> bytes:
    return _HEAD.pack(len(body) + 5, kind, rid) + body


class _Session(asyncssh.SSHClientSession[bytes]):
    """Hands the channel's bytes and its end to the pipe."""

    def __init__(self, pipe: SFTPPipe) -> None:
        self._pipe = pipe

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if datatype is None:
            self._pipe._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._pipe._lost(exc)


class SFTPPipe:
    """Small whole-object reads over one SFTP channel; :meth:`start` it first."""

    def __init__(self, max_read: int) -> None:
        self._max_read = max_read
        self._loop = asyncio.get_running_loop()
        self._chan: asyncssh.SSHClientChannel[bytes] | None = None
        self._next = 0
        # request id -> what to do with its answer (type, body)
        self._waiting: dict[int, Callable[[int, bytes], None]] = {}
        self._out: list[bytes] = []
        self._flushing = False
        self._buf = b""
        self._version: asyncio.Future[int] | None = None
        self.broken: BaseException | None = None

    async def start(self, conn: asyncssh.SSHClientConnection, timeout: float) -> None:
        """Opens the channel on ``conn`` and agrees on SFTP version 3."""
        self._version = self._loop.create_future()
        self._chan, _ = await conn.create_session(
            lambda: _Session(self), subsystem="sftp", encoding=None
        )
        self._chan.write(_U32.pack(5) + bytes([_INIT]) + _U32.pack(3))
        version = await asyncio.wait_for(self._version, timeout)
        if version != 3:
            self.close()
            raise PipeLost(f"the server speaks SFTP version {version}, not 3")

    def close(self) -> None:
        if self._chan is not None:
            self._chan.close()
        self._lost(None)

    async def read(self, path: bytes, limit: int) -> bytes | More:
        """The whole file at ``path`` if it is at most ``limit`` bytes and
        fits one read, else its first bytes as :class:`More`. Raises :class:`StatusError` (the
        server's refusal, ``SFTPNoSuchFile``'s code for a missing file) or
        :class:`PipeLost`."""
        if self.broken is not None:
            raise PipeLost(str(self.broken))
        ask = min(limit + 1, self._max_read)
        done: asyncio.Future[bytes | More] = self._loop.create_future()

        def opened(kind: int, body: bytes) -> None:
            if kind != _HANDLE:
                return _fail(done, kind, body)
            handle = body[4 : 4 + _U32.unpack_from(body)[0]]
            self._request(_READ, _string(handle) + _READ_TAIL.pack(0, ask), partial(handle))

        def partial(handle: bytes) -> Callable[[int, bytes], None]:
            def got(kind: int, body: bytes) -> None:
                # The handle is closed whatever the answer; what the close
                # answers does not change what was read.
                if kind != -1:
                    self._request(_CLOSE, _string(handle), _ignore)
                if done.done():
                    return
                if kind == _DATA:
                    data = body[4 : 4 + _U32.unpack_from(body)[0]]
                    done.set_result(More(data) if len(data) >= ask else data)
                elif kind == _STATUS and _U32.unpack_from(body)[0] == _FX_EOF:
                    done.set_result(b"")
                else:
                    _fail(done, kind, body)

            return got

        self._request(_OPEN, _string(path) + _OPEN_TAIL.pack(_FXF_READ, 0), opened)
        return await done

    # -- the wire -------------------------------------------------------------

    def _request(self, kind: int, body: bytes, then: Callable[[int, bytes], None]) -> None:
        if self.broken is not None:
            then(-1, b"")
            return
        rid = self._next
        self._next = (rid + 1) & 0xFFFFFFFF
        self._waiting[rid] = then
        self._out.append(_packet(kind, rid, body))
        if not self._flushing:
            # Whatever else is asked during this turn of the loop goes out
            # in the same write.
            self._flushing = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flushing = False
        out, self._out = self._out, []
        if self.broken is None and self._chan is not None and out:
            self._chan.write(b"".join(out))

    def _received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        pos, end = 0, len(buf)
        try:
            while end - pos >= 4:
                n = _U32.unpack_from(buf, pos)[0]
                if end - pos - 4 < n:
                    break
                kind = buf[pos + 4]
                if kind == _VERSION:
                    if self._version is not None and not self._version.done():
                        self._version.set_result(_U32.unpack_from(buf, pos + 5)[0])
                else:
                    rid = _U32.unpack_from(buf, pos + 5)[0]
                    then = self._waiting.pop(rid)
                    then(kind, buf[pos + 9 : pos + 4 + n])
                pos += 4 + n
        except (KeyError, struct.error, IndexError) as e:
            # an answer to nothing asked, or one cut short: nothing after it can be trusted
            self._lost(PipeLost(f"garbled SFTP answer ({type(e).__name__})"))
            if self._chan is not None:
                self._chan.close()
            return
        self._buf = buf[pos:]

    def _lost(self, exc: BaseException | None) -> None:
        if self.broken is None:
            self.broken = exc or PipeLost("the SFTP channel closed")
        waiting, self._waiting = self._waiting, {}
        if self._version is not None and not self._version.done():
            self._version.set_exception(PipeLost(str(self.broken)))
        for then in waiting.values():
            then(-1, b"")


def _ignore(kind: int, body: bytes) -> None:
    pass


def _fail(done: asyncio.Future[Any], kind: int, body: bytes) -> None:
    if done.done():
        return
    if kind == _STATUS:
        code = _U32.unpack_from(body)[0]
        n = _U32.unpack_from(body, 4)[0] if len(body) >= 8 else 0
        message = body[8 : 8 + n].decode("utf-8", "replace") or f"status {code}"
        done.set_exception(StatusError(code, message))
    elif kind == -1:
        done.set_exception(PipeLost("the SFTP channel closed"))
    else:
        done.set_exception(PipeLost(f"unexpected SFTP answer type {kind}"))
