"""SSH remotes (``ssh://[user@]host[:port]/path``) over SFTP, as dvc-ssh has them.

The layout is the folder remote's (``files/md5/ab/cdef…``, bale's packs for
blake3) under the URL's path, which is absolute on the server as dvc reads
it. The connection is asyncssh's, so OpenSSH's client configuration applies:
``~/.ssh/config`` (``Host`` aliases, ``HostName``, ``User``, ``Port``,
``IdentityFile``, ``UserKnownHostsFile``…), the default keys in ``~/.ssh``
and the agent (``SSH_AUTH_SOCK``). dvc-ssh's options mean what they mean
there and come first: ``user`` (else the URL's, else the config's, else the
local user), ``port`` (else the URL's, else the config's, else 22),
``keyfile``, ``password`` or ``ask_password``, ``passphrase`` or
``ask_passphrase`` (for the key), ``allow_agent`` (true), ``timeout``
(seconds to connect and log in; 30 here, where dvc-ssh waits 1800) and
``max_sessions`` (SFTP channels per connection, 10 as OpenSSH's
``MaxSessions``). ``gss_auth`` is refused (:mod:`bale.remotes.support`):
Kerberos needs the ``gssapi`` package, which bale does not ship.

Host keys are checked, as OpenSSH checks them: against ``~/.ssh/known_hosts``
(or the config's ``UserKnownHostsFile``). dvc-ssh does not check them at
all (sshfs connects with ``known_hosts=None``), which lets anyone between
the client and the server read and rewrite what is pushed and pulled. An
unknown host, or a key that differs from the known one, is refused with a
one-line error that says how to add the key (``ssh-keyscan``), never
accepted silently; ``UserKnownHostsFile none`` in ``~/.ssh/config`` turns
the check off for a host, as it does for OpenSSH.

Choices, and why:

- ``put`` writes to a temporary name beside the object
  (``.bale-<token>.tmp``, never listed) and renames it into place with
  ``posix-rename@openssh.com``, which replaces an existing object
  atomically: a reader sees a whole object or none, and writers of the same
  key (two clones pushing one object) both succeed. A server without that
  extension gets a plain SFTP rename, which fails on an existing name; an
  object already there is then a concurrent writer's whole one, and is kept.
- Directories are made when an upload into them finds them missing, once
  per process each: pushing into a populated remote costs no ``mkdir``.
- One SFTP channel is served by one ``sftp-server`` that answers its requests
  in order, so transfers spread over several channels (opened as they are
  needed, up to ``jobs``) on as few connections as ``max_sessions`` allows.
  Within a channel, asyncssh pipelines the block requests of a large read or
  write, so a large object moves at the link's speed on one channel.
  Measured on loopback (2 busy cores, 400 objects of 4 KiB, 8 at a time):
  1, 8 channels on one connection and 8 connections all moved 650-1000
  puts/s and 1100-2000 small reads/s, bound by the client's CPU; 8
  connections were the slowest for puts (a handshake each) and a 64 MiB
  object moved at 110-240 MiB/s whichever way. More channels pay off where
  the server's disk, not the client, is slow; more connections did not.
- Small whole-object reads (``read_small``, most of a DVC-layout pull) take
  one more channel of their own, :mod:`bale.remotes.sftp_pipe`: open, one
  read, close, without a stat, the requests of one turn of the event loop
  in one SSH packet. asyncssh's client spends about 0.25 ms of CPU a file
  on four requests (each its own packet, with an ``SSH_MSG_IGNORE`` before
  it); the pipe about 0.045 ms (10,000 files of 1-8 KiB, loopback).
- ``exists`` lists a directory (``readdir`` gives sizes) when several wanted
  keys share it, and stats the others, all requests in flight at once.
- Compression is off and AES-GCM comes first, as dvc-ssh sets them: zlib in
  the event loop is slower than any link it would save time on.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import getpass
import os
import stat
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from bale.exceptions import BaleError, one_line
from bale.redact import mask_url
from bale.remotes.errors import (
    ObjectNotFound,
    RemoteAuthError,
    RemoteConfigError,
    RemoteError,
    TransientError,
    Unreachable,
)
from bale.remotes.listing import DirectoryStore
from bale.remotes.sftp_pipe import More, PipeLost, SFTPPipe, StatusError
from bale.remotes.store import (
    Expect,
    Progress,
    Sink,
    UploadSource,
    bounded,
    is_temp,
    part_ranges,
    retrying,
    sink_for,
    temp_key,
)
from bale.remotes.support import option_setter

with warnings.catch_warnings():
    # asyncssh still names DSA keys, which cryptography deprecates; the
    # warning would end up on bale's stderr at every command.
    warnings.simplefilter("ignore")
    import asyncssh

__all__ = ["SSHStore", "parse_url"]

T = TypeVar("T")

_DEFAULT_TIMEOUT = 30.0
_DEFAULT_SESSIONS = 10  # OpenSSH's MaxSessions
# A wanted key alone in its directory is stat'ed; this many or more, and one
# listing of the directory answers for all of them.
_LIST_MIN_KEYS = 4
# Objects up to this size are read whole in the event loop (a thread hop
# costs more than the copy); larger ones are read and written in parts.
_INLINE_MAX = 256 * 1024
_PART = 4 << 20
_PARTS_IN_FLIGHT = 2
_CONNECT_ATTEMPTS = 3
_FX_NO_SUCH_FILE, _FX_PERMISSION_DENIED = 2, 3
_ENCRYPTION = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")
_TRANSIENT = (
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    asyncssh.ConnectionLost,
    ConnectionError,
    asyncio.TimeoutError,
)


@dataclass(frozen=True)
class _Target:
    """What ``ssh://[user@]host[:port]/path`` names."""

    host: str
    user: str | None
    port: int | None
    path: str  # absolute, without a trailing slash ("" for /)


def parse_url(name: str, url: str) -> _Target:
    """``ssh://[user@]host[:port]/path`` → its parts; refuses a password in the URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "ssh" or not parts.hostname:
        raise RemoteConfigError(f"remote '{name}': '{mask_url(url)}' is not an ssh:// URL")
    if parts.password is not None:
        raise RemoteConfigError(
            f"remote '{name}': put the SSH password in the password option "
            f"({option_setter(name)}), not in the URL"
        )
    try:
        port = parts.port
    except ValueError:
        raise RemoteConfigError(f"remote '{name}': '{url}' has a bad port") from None
    user = unquote(parts.username) if parts.username else None
    return _Target(parts.hostname, user, port, unquote(parts.path).rstrip("/"))


# Asked once per process for each host, user, port and secret, as dvc-ssh
# asks: every store of a run shares the answer.
_asked: dict[tuple[str, str | None, int | None, str], str] = {}
_ask_lock = threading.Lock()


def _ask(target: _Target, user: str | None, port: int | None, what: str) -> str:
    with _ask_lock:
        key = (target.host, user, port, what)
        if key not in _asked:
            where = f"{user}@{target.host}" if user else target.host
            where += f":{port}" if port else ""
            _asked[key] = getpass.getpass(f"Enter a {what} for {where}:\n")
        return _asked[key]


def _flag(name: str, option: str, options: Mapping[str, str], default: bool) -> bool:
    value = options.get(option)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise RemoteConfigError(f"remote '{name}': {option} must be true or false, not '{value}'")


def _number(name: str, option: str, options: Mapping[str, str]) -> float | None:
    value = options.get(option)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise RemoteConfigError(f"remote '{name}': {option} must be a positive number")
    return number


class _NoPipe(Exception):
    """The server gives no channel for the small-read pipe."""


@dataclass
class _Channel:
    """One SFTP channel and the connection it runs on."""

    sftp: asyncssh.SFTPClient
    conn: _Connection
    busy: int = 0


@dataclass
class _Connection:
    conn: asyncssh.SSHClientConnection
    channels: builtins.list[_Channel] = field(default_factory=list)
    opening: int = 0  # channels being opened on it
    pipes: int = 0  # small-read pipes on it (sftp_pipe), a session each


class SSHStore(DirectoryStore):
    """The objects under ``ssh://[user@]host[:port]/path``; see the module docstring.

    Built inside the running event loop's task; connections are made on first use.
    """

    _list_min_keys = _LIST_MIN_KEYS

    def __init__(self, name: str, url: str, options: Mapping[str, str], *, jobs: int = 16) -> None:
        self.name = name
        self._jobs = max(1, jobs)
        self._target = parse_url(name, url)
        self._options = dict(options)
        self._user = options.get("user") or self._target.user
        port = options.get("port")
        try:
            self._port = int(port) if port is not None else self._target.port
        except ValueError:
            raise RemoteConfigError(f"remote '{name}': port must be a number") from None
        self._timeout = _number(name, "timeout", options) or _DEFAULT_TIMEOUT
        sessions = _number(name, "max_sessions", options)
        self._per_connection = int(sessions) if sessions else _DEFAULT_SESSIONS
        self._keyfile = options.get("keyfile")
        self._ask_password = _flag(name, "ask_password", options, False)
        self._ask_passphrase = _flag(name, "ask_passphrase", options, False)
        self._agent = _flag(name, "allow_agent", options, True)
        self._root = self._target.path
        self._max_channels = self._jobs
        self._connections: builtins.list[_Connection] = []
        self._channels: builtins.list[_Channel] = []
        self._first: asyncio.Future[_Channel] | None = None
        self._opening = 0
        self._connecting = asyncio.Lock()
        self._connect_options: asyncssh.SSHClientConnectionOptions | None = None
        self._dirs: dict[str, asyncio.Future[None]] = {}
        self._piping: asyncio.Future[SFTPPipe] | None = None
        self._pipes: builtins.list[SFTPPipe] = []
        self._no_pipe = False
        self._closed = False

    def __repr__(self) -> str:
        return f"SSHStore({self.name!r}, {self._shown()!r})"

    def _shown(self) -> str:
        """``ssh://[user@]host[:port]/path`` for messages: never a secret."""
        user = f"{self._user}@" if self._user else ""
        port = f":{self._port}" if self._port else ""
        return f"ssh://{user}{self._target.host}{port}{self._root or '/'}"

    # -- the Store protocol -------------------------------------------------

    async def get(
        self,
        key: str,
        dest: Path | Sink,
        progress: Progress | None = None,
        byte_range: tuple[int, int] | None = None,
    ) -> int:
        out = sink_for(dest)
        try:
            size = await self._run(
                "read", key, lambda c: self._get(c, key, out, progress, byte_range)
            )
        except BaseException:
            out.discard()
            raise
        out.close()
        return size

    async def read_small(self, key: str, limit: int) -> bytes | None:
        prefix = b""
        if not self._no_pipe:
            data = await retrying(
                lambda: self._pipe_read(key, limit), attempts=_CONNECT_ATTEMPTS + 1
            )
            if not isinstance(data, More):
                return data
            prefix = data.prefix
        return await self._run("read", key, lambda c: self._read_small(c, key, limit, prefix))

    async def _pipe_read(self, key: str, limit: int) -> bytes | More:
        """``key`` whole through the pipe (see :mod:`bale.remotes.sftp_pipe`),
        or More when it is larger than one read or there is no pipe."""
        pipe = await self._pipe()
        if pipe is None:
            return More(b"")
        try:
            return await pipe.read(self._path(key).encode(), limit)
        except StatusError as e:
            if e.code == _FX_NO_SUCH_FILE:
                raise ObjectNotFound(f"remote '{self.name}': no object {key}") from None
            if e.code == _FX_PERMISSION_DENIED:
                raise RemoteError(
                    f"remote '{self.name}': read {key}: permission denied on the server"
                ) from None
            raise RemoteError(f"remote '{self.name}': read {key}: the server says {e}") from None
        except PipeLost as e:
            raise TransientError(
                f"remote '{self.name}': read {key}: connection lost ({_reason(e)})"
            ) from None

    async def _pipe(self) -> SFTPPipe | None:
        """The pipe for small reads, opened once (again after it broke);
        None when the server will not give it a channel."""
        piping = self._piping
        if piping is None or (
            piping.done()
            and (piping.cancelled() or piping.exception() is not None or piping.result().broken)
        ):
            piping = self._piping = asyncio.ensure_future(self._open_pipe())
        try:
            return await asyncio.shield(piping)
        except _NoPipe:
            self._no_pipe = True
            return None

    async def _open_pipe(self) -> SFTPPipe:
        channel = await self._acquire()
        connection = channel.conn
        # the server's largest read, as asyncssh learnt it
        pipe = SFTPPipe(channel.sftp.limits.max_read_len)
        connection.pipes += 1  # a session slot, as a channel takes one
        try:
            await pipe.start(connection.conn, self._timeout)
        except BaseException as e:
            connection.pipes -= 1
            pipe.close()
            if isinstance(e, (asyncssh.ChannelOpenError, PipeLost)):
                # no room for one more channel, or an SFTP other than
                # version 3: small reads go the ordinary way
                raise _NoPipe() from None
            if isinstance(e, (asyncssh.Error, ConnectionError, asyncio.TimeoutError)):
                lost = connection.conn.is_closed()
                if lost:
                    self._drop(channel)
                raise self._error("open", "SFTP", e, lost) from None
            raise
        finally:
            channel.busy -= 1
        self._pipes = [p for p in self._pipes if not p.broken] + [pipe]
        return pipe

    async def _read_small(
        self, channel: _Channel, key: str, limit: int, prefix: bytes
    ) -> bytes | None:
        """``key`` whole if it is at most ``limit`` bytes, over asyncssh's
        client: the size first, then the bytes after ``prefix`` (its first
        bytes, already read)."""
        async with await channel.sftp.open(self._path(key), "rb") as f:
            size = (await f.stat()).size or 0
            if size > limit:
                return None
            rest = size - len(prefix)
            data = prefix + await _read(f, rest, len(prefix)) if rest > 0 else prefix[:size]
        if len(data) != size:
            raise TransientError(f"remote '{self.name}': {key}: short read")
        return data

    async def put(
        self,
        src: Path,
        key: str,
        progress: Progress | None = None,
        consume: bool = False,
        expect: Expect = None,
    ) -> None:
        temp = temp_key(key)
        try:
            await self._run("write", key, lambda c: self._put(c, src, key, temp, progress, expect))
        except BaseException:
            await asyncio.shield(self._forget(temp))
            raise

    async def delete(self, keys: Iterable[str]) -> None:
        async def remove(key: str) -> None:
            async def once(channel: _Channel) -> None:
                with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                    await channel.sftp.remove(self._path(key))

            await self._run("delete", key, once)

        await bounded(sorted(set(keys)), remove, self._jobs)

    async def close(self) -> None:
        self._closed = True
        connections, self._connections, self._channels = self._connections, [], []
        for pipe in self._pipes:
            pipe.close()
        for connection in connections:
            for channel in connection.channels:
                channel.sftp.exit()
            connection.conn.close()
        for connection in connections:
            with contextlib.suppress(Exception):
                await connection.conn.wait_closed()

    # -- reading --------------------------------------------------------------

    def _path(self, key: str) -> str:
        return f"{self._root}/{key}"

    async def _get(
        self,
        channel: _Channel,
        key: str,
        out: Sink,
        progress: Progress | None,
        byte_range: tuple[int, int] | None,
    ) -> int:
        """Writes the object (or its range) into ``out``; returns the bytes written."""
        # block_size=0: each read below is one request. asyncssh's own
        # parallel read of a part gathers its blocks into a bytearray and
        # copies that into bytes, which cost more client CPU than the
        # decryption; here the blocks of a part go to the sink as they are.
        block = channel.sftp.limits.max_read_len
        async with await channel.sftp.open(self._path(key), "rb", block_size=0) as f:
            size = (await f.stat()).size or 0
            start, end = byte_range if byte_range is not None else (0, size)
            if end > size:
                raise RemoteError(f"remote '{self.name}': object {key} ends before byte {end}")

            async def piece(offset: int, want: int) -> bytes:
                data = await _read(f, want, offset)
                while len(data) < want:  # a server may answer a read in parts
                    more = await _read(f, want - len(data), offset + len(data))
                    if not more:
                        raise TransientError(f"remote '{self.name}': {key}: short read")
                    data += more
                return data

            async def part(offset: int) -> None:
                want = min(_PART, end - offset)
                pieces = await asyncio.gather(
                    *(piece(o, n) for o, n in part_ranges(offset + want, block, offset))
                )
                if want <= _INLINE_MAX:
                    out.writev(pieces, offset - start)
                else:
                    # In a thread: a sink may do real work per write (the
                    # engine hashes a download, or stores a pack's objects).
                    await asyncio.to_thread(out.writev, pieces, offset - start)
                if progress is not None:
                    progress(want)

            await bounded(range(start, end, _PART), part, _PARTS_IN_FLIGHT)
        return end - start

    async def _holds(self, key: str) -> bool:
        return await self._size(key) is not None

    async def _size(self, key: str) -> int | None:
        """The size of the object ``key``, None if there is none."""

        async def once(channel: _Channel) -> int | None:
            try:
                attrs = await channel.sftp.stat(self._path(key))
            except asyncssh.SFTPNoSuchFile:
                return None
            if attrs.permissions is not None and not stat.S_ISREG(attrs.permissions):
                return None
            return attrs.size or 0

        return await self._run("stat", key, once)

    async def _children(self, directory: str) -> builtins.list[tuple[str, int | None]]:
        """(key, size) of what ``directory`` holds, size None for a directory;
        empty when it does not exist. Temporary uploads are left out."""

        async def once(channel: _Channel) -> builtins.list[tuple[str, int | None]]:
            try:
                names = await channel.sftp.readdir(self._path(directory))
            except asyncssh.SFTPNoSuchFile:
                return []
            out: builtins.list[tuple[str, int | None]] = []
            head = f"{directory}/" if directory else ""
            for entry in names:
                leaf = entry.filename
                if not isinstance(leaf, str) or leaf in (".", ".."):
                    continue
                if is_temp(leaf):
                    continue
                mode = entry.attrs.permissions
                if mode is not None and stat.S_ISDIR(mode):
                    out.append((head + leaf, None))
                elif mode is None or stat.S_ISREG(mode):
                    out.append((head + leaf, entry.attrs.size or 0))
            return out

        return await self._run("list", directory or "/", once)

    # -- beyond the Store protocol: reading an ssh:// URL for import-url -----

    async def stat_key(self, key: str) -> tuple[bool, int] | None:
        """``(is a directory, size)`` of what ``key`` names, a symbolic link
        followed (as sshfs's ``info``); None if nothing is there."""

        async def once(channel: _Channel) -> tuple[bool, int] | None:
            try:
                attrs = await channel.sftp.stat(self._path(key).rstrip("/") or "/")
            except asyncssh.SFTPNoSuchFile:
                return None
            mode = attrs.permissions or 0
            return stat.S_ISDIR(mode), attrs.size or 0

        return await self._run("stat", key, once)

    async def list_dir(self, directory: str) -> builtins.list[tuple[str, str, int]]:
        """``(key, kind, size)`` of each entry of ``directory`` in the
        server's order, ``kind`` being ``file``, ``directory``, ``link`` or
        ``other`` (not followed: readdir's attributes are lstat's)."""

        async def once(channel: _Channel) -> builtins.list[tuple[str, str, int]]:
            names = await channel.sftp.readdir(self._path(directory).rstrip("/") or "/")
            out: builtins.list[tuple[str, str, int]] = []
            head = f"{directory}/" if directory else ""
            for entry in names:
                leaf = entry.filename
                if not isinstance(leaf, str) or leaf in ("", ".", ".."):
                    continue
                mode = entry.attrs.permissions or 0
                kind = (
                    "directory"
                    if stat.S_ISDIR(mode)
                    else "file"
                    if stat.S_ISREG(mode)
                    else "link"
                    if stat.S_ISLNK(mode)
                    else "other"
                )
                out.append((head + leaf, kind, entry.attrs.size or 0))
            return out

        return await self._run("list", directory or "/", once)

    # -- writing --------------------------------------------------------------

    async def _put(
        self,
        channel: _Channel,
        src: Path,
        key: str,
        temp: str,
        progress: Progress | None,
        expect: Expect,
    ) -> None:
        sftp = channel.sftp
        try:
            f = await sftp.open(self._path(temp), "wb")
        except asyncssh.SFTPNoSuchFile:
            await self._directory(sftp, self._path(key).rpartition("/")[0])
            f = await sftp.open(self._path(temp), "wb")
        async with f:
            size = os.stat(src).st_size
            if size <= _INLINE_MAX:
                data = UploadSource.whole(src, expect)
                await f.write(data, 0)
                if progress is not None:
                    progress(len(data))
            else:
                source = await asyncio.to_thread(UploadSource, src, expect)
                # The next part is read (and hashed) while the ones before
                # it are written: reading and sending take turns otherwise.
                writes: set[asyncio.Future[Any]] = set()
                try:
                    offset = 0
                    async for chunk in source.chunks(_PART, progress):
                        writes.add(asyncio.ensure_future(f.write(chunk, offset)))
                        offset += len(chunk)
                        while len(writes) >= _PARTS_IN_FLIGHT:
                            done, writes = await asyncio.wait(
                                writes, return_when=asyncio.FIRST_COMPLETED
                            )
                            for write in done:
                                write.result()
                    while writes:
                        done, writes = await asyncio.wait(
                            writes, return_when=asyncio.FIRST_COMPLETED
                        )
                        for write in done:
                            write.result()
                except BaseException:
                    for write in writes:
                        write.cancel()
                    await asyncio.gather(*writes, return_exceptions=True)
                    raise
                finally:
                    source.close()
        await self._rename(sftp, temp, key)

    async def _rename(self, sftp: asyncssh.SFTPClient, temp: str, key: str) -> None:
        """Renames ``temp`` over ``key``, atomically (see the module docstring)."""
        try:
            await sftp.posix_rename(self._path(temp), self._path(key))
            return
        except asyncssh.SFTPOpUnsupported:
            pass
        try:
            await sftp.rename(self._path(temp), self._path(key))
        except asyncssh.SFTPFailure:
            # A plain rename fails on an existing name: a concurrent writer's
            # whole object (every writer renames whole files only).
            if await sftp.exists(self._path(key)):
                await sftp.remove(self._path(temp))
                return
            raise

    async def _directory(self, sftp: asyncssh.SFTPClient, path: str) -> None:
        """Makes the directory ``path`` (absolute, without a trailing slash)
        and those above it, once per process each."""
        if not path:
            return
        pending = self._dirs.get(path)
        if pending is None:
            pending = asyncio.ensure_future(self._make_directory(sftp, path))
            self._dirs[path] = pending
        try:
            await asyncio.shield(pending)
        except BaseException:
            if pending.done():
                self._dirs.pop(path, None)  # a failure is tried again next time
            raise

    async def _make_directory(self, sftp: asyncssh.SFTPClient, path: str) -> None:
        try:
            await sftp.mkdir(path)
        except asyncssh.SFTPNoSuchFile:
            await self._directory(sftp, path.rpartition("/")[0])
            with contextlib.suppress(asyncssh.SFTPFailure, asyncssh.SFTPFileAlreadyExists):
                await sftp.mkdir(path)
        except (asyncssh.SFTPFailure, asyncssh.SFTPFileAlreadyExists):
            # OpenSSH answers "failure" for a directory that exists (another
            # writer made it); anything else shows at the upload that follows.
            pass

    async def _forget(self, temp: str) -> None:
        """Best effort: a temporary upload left behind is never listed."""
        with contextlib.suppress(Exception):
            channel = await self._acquire()
            try:
                await asyncio.wait_for(channel.sftp.remove(self._path(temp)), self._timeout)
            finally:
                channel.busy -= 1

    # -- one operation ----------------------------------------------------------

    async def _run(self, op: str, key: str, body: Callable[[_Channel], Awaitable[T]]) -> T:
        """``body`` on a channel, errors mapped (see :meth:`_error`), transient ones retried."""

        async def once() -> T:
            channel = await self._acquire()
            try:
                return await body(channel)
            except asyncssh.SFTPNoSuchFile as e:
                if op == "read":
                    raise ObjectNotFound(f"remote '{self.name}': no object {key}") from None
                raise self._error(op, key, e) from None
            except (asyncssh.Error, ConnectionError, asyncio.TimeoutError) as e:
                # (not OSError: a local file's error is no remote's)
                lost = channel.conn.conn.is_closed()
                if lost or isinstance(e, _TRANSIENT):
                    self._drop(channel)
                raise self._error(op, key, e, lost) from None
            finally:
                channel.busy -= 1

        return await retrying(once, attempts=_CONNECT_ATTEMPTS + 1)

    def _error(self, op: str, key: str, e: BaseException, lost: bool = False) -> BaleError:
        where = f"remote '{self.name}': {op} {key}"
        if lost or isinstance(e, _TRANSIENT):
            return TransientError(f"{where}: connection lost ({_reason(e)})")
        if isinstance(e, asyncssh.SFTPPermissionDenied):
            return RemoteError(f"{where}: permission denied on the server")
        if isinstance(e, asyncssh.SFTPNoSuchFile):
            return RemoteError(f"{where}: no such file or directory on the server")
        if isinstance(e, asyncssh.SFTPError):
            return RemoteError(f"{where}: the server says {_reason(e)}")
        if isinstance(e, asyncssh.DisconnectError):
            return TransientError(f"{where}: disconnected ({_reason(e)})")
        return TransientError(f"{where}: {_reason(e)}")

    # -- channels and connections ---------------------------------------------

    async def _acquire(self) -> _Channel:
        """The least busy channel, a new one when all are busy and more are
        allowed; the caller decrements ``busy`` when done."""
        if self._closed:
            raise RemoteError(f"remote '{self.name}': the store is closed")
        if not self._channels:
            # The first channel is opened once, however many operations wait:
            # a refused login is reported once, not once per job.
            if self._first is None or self._first.done():
                self._first = asyncio.ensure_future(self._open_channel())
            first = self._first
            try:
                await asyncio.shield(first)
            finally:
                if first.done() and self._first is first:
                    self._first = None
        best = min(self._channels, key=lambda c: c.busy, default=None)
        if (best is None or best.busy > 0) and (
            len(self._channels) + self._opening < self._max_channels
        ):
            self._opening += 1
            try:
                best = await self._open_channel()
            except TransientError:
                # a server that refuses more channels (MaxSessions, MaxStartups): use those open
                self._max_channels = max(1, len(self._channels))
                if not self._channels:
                    raise
            finally:
                self._opening -= 1
            best = min(self._channels, key=lambda c: c.busy)
        assert best is not None
        best.busy += 1
        return best

    async def _open_channel(self) -> _Channel:
        async with self._connecting:  # one new connection at a time, filled before the next
            connection = next(
                (
                    c
                    for c in self._connections
                    if len(c.channels) + c.opening + c.pipes < self._per_connection
                ),
                None,
            )
            if connection is None:
                connection = _Connection(await self._connect())
                self._connections.append(connection)
            connection.opening += 1  # a slot taken before the wait: no other open takes it
        try:
            sftp = await asyncio.wait_for(connection.conn.start_sftp_client(), self._timeout)
        except asyncssh.ChannelOpenError as e:
            if connection.channels:
                # The server allows fewer sessions than max_sessions says:
                # the next channel goes on a new connection.
                self._per_connection = len(connection.channels)
                return await self._open_channel()
            connection.conn.close()
            self._connections.remove(connection)
            raise RemoteError(
                f"remote '{self.name}': {self._target.host} has no SFTP ({_reason(e)})"
            ) from None
        except (asyncssh.Error, ConnectionError, asyncio.TimeoutError) as e:
            raise self._error("open", "SFTP", e) from None
        finally:
            connection.opening -= 1
        channel = _Channel(sftp, connection)
        connection.channels.append(channel)
        self._channels.append(channel)
        return channel

    def _drop(self, channel: _Channel) -> None:
        """Forgets a channel whose connection broke; the retry opens another."""
        if channel in self._channels:
            self._channels.remove(channel)
        connection = channel.conn
        if channel in connection.channels:
            connection.channels.remove(channel)
        if connection.conn.is_closed() and connection in self._connections:
            self._connections.remove(connection)
            for other in connection.channels:
                if other in self._channels:
                    self._channels.remove(other)

    async def _connect(self) -> asyncssh.SSHClientConnection:
        options = await self._client_options()
        host = self._target.host
        try:
            return await asyncssh.connect(host, options=options)
        except asyncssh.HostKeyNotVerifiable:
            raise RemoteAuthError(self._host_key_refused(options)) from None
        except asyncssh.PermissionDenied:
            raise RemoteAuthError(
                f"remote '{self.name}': {self._login(options)} refused the login "
                f"({self._offered()})"
            ) from None
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as e:
            raise RemoteAuthError(
                f"remote '{self.name}': cannot use the key {self._keyfile or '(default)'}: "
                f"{_reason(e)} (set passphrase in .dvc/config.local, or ask_passphrase)"
            ) from None
        except (OSError, asyncio.TimeoutError, asyncssh.ConnectionLost) as e:
            raise Unreachable(
                f"remote '{self.name}': cannot reach {self._where(options)}: {_reason(e)}"
            ) from None
        except asyncssh.DisconnectError as e:
            raise RemoteError(
                f"remote '{self.name}': {self._where(options)} ended the connection: {_reason(e)}"
            ) from None

    async def _client_options(self) -> asyncssh.SSHClientConnectionOptions:
        """asyncssh's options, with ``~/.ssh/config`` read once (in a thread)."""
        if self._connect_options is None:
            kwargs: dict[str, Any] = {
                "connect_timeout": self._timeout,
                "login_timeout": self._timeout,
                "encryption_algs": _ENCRYPTION,
                "compression_algs": None,
            }
            if self._user:
                kwargs["username"] = self._user
            if self._port:
                kwargs["port"] = self._port
            password = self._options.get("password")
            if password is None and self._ask_password:
                password = await asyncio.to_thread(
                    _ask, self._target, self._user, self._port, "password"
                )
            passphrase = self._options.get("passphrase")
            if passphrase is None and self._ask_passphrase:
                passphrase = await asyncio.to_thread(
                    _ask, self._target, self._user, self._port, "passphrase"
                )
            preferred: builtins.list[str] = []
            if self._keyfile:
                kwargs["client_keys"] = [os.path.expanduser(self._keyfile)]
            if self._keyfile or passphrase is not None:
                preferred.append("publickey")
            if passphrase is not None:
                kwargs["passphrase"] = passphrase
            if password is not None:
                kwargs["password"] = password
                preferred += ["keyboard-interactive", "password"]
            if preferred:
                # as dvc-ssh: only the methods the remote's options name
                kwargs["preferred_auth"] = preferred
            if not self._agent:
                kwargs["agent_path"] = None
            host = self._target.host
            try:
                self._connect_options = await asyncio.to_thread(
                    lambda: asyncssh.SSHClientConnectionOptions(host=host, **kwargs)
                )
            except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as e:
                raise RemoteAuthError(
                    f"remote '{self.name}': cannot use the key {self._keyfile}: {_reason(e)}"
                    " (set passphrase in .dvc/config.local, or ask_passphrase)"
                ) from None
            except OSError as e:
                # a key file or ~/.ssh/config that cannot be read: name it
                where = f"{e.filename}: " if e.filename else ""
                raise RemoteConfigError(f"remote '{self.name}': {where}{_reason(e)}") from None
            except ValueError as e:
                raise RemoteConfigError(f"remote '{self.name}': {_reason(e)}") from None
        return self._connect_options

    # -- messages ---------------------------------------------------------------

    def _where(self, options: asyncssh.SSHClientConnectionOptions) -> str:
        host = getattr(options, "host", "") or self._target.host
        port = getattr(options, "port", None) or self._port or 22
        return f"{host}:{port}"

    def _login(self, options: asyncssh.SSHClientConnectionOptions) -> str:
        user = getattr(options, "username", None) or self._user or "?"
        return f"{user}@{self._where(options)}"

    def _offered(self) -> str:
        """What was tried, for a refused login: never the secrets themselves."""
        tried = []
        if self._keyfile:
            tried.append(f"key {self._keyfile}")
        elif "password" not in self._options and not self._ask_password:
            tried.append("the default keys in ~/.ssh")
        if self._agent and os.environ.get("SSH_AUTH_SOCK") and not self._keyfile:
            tried.append("the ssh-agent")
        if "password" in self._options or self._ask_password:
            tried.append("the password")
        return "tried " + ", ".join(tried) if tried else "no credentials to try"

    def _host_key_refused(self, options: asyncssh.SSHClientConnectionOptions) -> str:
        """Why the host key was refused: unknown, or not the one known."""
        host = getattr(options, "host", "") or self._target.host
        port = getattr(options, "port", None) or 22
        files = getattr(options, "known_hosts", None)
        if not files:
            files = [str(Path("~", ".ssh", "known_hosts").expanduser())]
        paths = [str(f) for f in files] if isinstance(files, (list, tuple)) else []
        known = False
        for path in paths:
            with contextlib.suppress(Exception):
                trusted = asyncssh.match_known_hosts(path, host, host, port)
                known = known or bool(trusted[0] or trusted[1])
        shown = paths[0] if paths else "known_hosts"
        entry = host if port == 22 else f"[{host}]:{port}"
        scan = f"ssh-keyscan -p {port} {host} >> {shown}"
        if known:
            return (
                f"remote '{self.name}': the host key of {host}:{port} is not the one in "
                f"{shown}: the key changed, or someone is in between; if the change is "
                f"expected, replace it: ssh-keygen -R '{entry}' -f {shown}; {scan}"
            )
        return (
            f"remote '{self.name}': host {host}:{port} is not in {shown}; check its "
            f"key's fingerprint, then add it: {scan}"
        )


async def _read(f: asyncssh.SFTPClientFile, size: int, offset: int) -> bytes:
    """``size`` bytes from ``offset`` (fewer at the end), as bytes: the file
    is opened in binary mode, which asyncssh's types cannot tell."""
    data = await f.read(size, offset)
    assert isinstance(data, bytes)
    return data


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or str(e)
    return one_line(reason or type(e).__name__)
