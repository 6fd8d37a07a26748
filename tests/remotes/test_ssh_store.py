"""SSHStore against a real OpenSSH server (``tests/remotes/sshd.py``): what
only SSH has (logins as dvc-ssh takes them, host keys, permissions on the
server, atomic uploads by rename). What every store promises is checked in
``test_store_conformance.py``, and dvc-ssh both ways in ``test_conformance.py``."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import asyncssh
import pytest

from bale.exceptions import CorruptObjectError
from bale.remotes.errors import (
    ObjectNotFound,
    RemoteAuthError,
    RemoteConfigError,
    RemoteError,
    RemoteUnreachableError,
)
from bale.remotes.sftp_pipe import SFTPPipe
from bale.remotes.ssh import SSHStore
from tests.remotes.sshd import ALIAS, SSHServer, keygen

from .conftest import use_sshd

T = TypeVar("T")
KEY = "files/md5/ab/" + "c" * 30


def _run(
    url: str,
    options: Mapping[str, str],
    body: Callable[[SSHStore], Awaitable[T]],
    jobs: int = 4,
) -> T:
    async def main() -> T:
        store = SSHStore("ssh", url, options, jobs=jobs)
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def _listed(store: SSHStore, prefix: str = "") -> dict[str, int]:
    return {key: size async for key, size in store.list(prefix)}


@pytest.fixture
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> SSHServer:
    return use_sshd(request, monkeypatch)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder every account on the machine can reach (``tmp_path`` is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="bale-ssh-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _src(tmp_path: Path, data: bytes, name: str = "src") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_key_logs_in_as_keyfile_default_key_or_host_alias_names_it(
    server: SSHServer, tmp_path: Path
) -> None:
    root = tmp_path / "remote"
    src = _src(tmp_path, b"over ssh\n")
    # keyfile, and the user and port of the URL
    _run(server.url(root), {"keyfile": str(server.keyfile)}, lambda s: s.put(src, KEY))
    assert (root / KEY).read_bytes() == b"over ssh\n"
    # ~/.ssh/id_ed25519, user and port as options
    url = f"ssh://127.0.0.1{root}"
    options = {"user": server.user, "port": str(server.port)}
    assert _run(url, options, lambda s: s.read_small(KEY, 100)) == b"over ssh\n"
    # a Host alias of ~/.ssh/config gives host, port and user
    got = _run(f"ssh://{ALIAS}{root}", {}, lambda s: s.exists([KEY]))
    assert got == {KEY}


def test_a_refused_login_is_one_line_naming_the_remote_and_never_the_secret(
    server: SSHServer, tmp_path: Path
) -> None:
    url = server.url(tmp_path)
    stranger = tmp_path / "stranger"
    keygen(stranger, "not authorized")
    locked = tmp_path / "locked"
    keygen_with_passphrase(locked, "key-s3cret")
    cases: list[tuple[dict[str, str], str]] = [
        ({"password": "pw-s3cret"}, f"remote 'ssh': {server.user}@{server.host_port} refused"),
        ({"keyfile": str(stranger)}, f"tried key {stranger}"),
        ({"keyfile": str(locked), "passphrase": "wrong-s3cret"}, "cannot use the key"),
        ({"keyfile": str(locked)}, "set passphrase in .dvc/config.local, or ask_passphrase"),
    ]
    for options, expected in cases:
        with pytest.raises(RemoteAuthError) as e:
            _run(url, options, lambda s: s.exists([KEY]))
        message = str(e.value)
        assert message.startswith("remote 'ssh': ") and expected in message, message
        assert "s3cret" not in message and "\n" not in message
        store = SSHStore("ssh", url, options)
        assert "s3cret" not in repr(store)


def test_a_keyfile_that_cannot_be_read_is_a_config_error_naming_it(
    server: SSHServer, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-key"
    with pytest.raises(RemoteConfigError) as e:
        _run(server.url(tmp_path), {"keyfile": str(missing)}, lambda s: s.exists([KEY]))
    assert str(e.value) == f"remote 'ssh': {missing}: No such file or directory"


def keygen_with_passphrase(path: Path, passphrase: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)],
        check=True,
        capture_output=True,
    )


def test_a_key_with_a_passphrase_logs_in_with_it(server: SSHServer, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    shutil.copy(server.keyfile, locked)
    locked.chmod(0o600)
    subprocess.run(
        ["ssh-keygen", "-q", "-p", "-N", "pass phrase", "-f", str(locked)],
        check=True,
        capture_output=True,
    )
    options = {"keyfile": str(locked), "passphrase": "pass phrase"}
    assert _run(server.url(tmp_path), options, lambda s: s.exists([KEY])) == set()


def test_an_unknown_or_changed_host_key_is_refused_saying_how_to_add_it(
    server: SSHServer, tmp_path: Path
) -> None:
    options = {"keyfile": str(server.keyfile)}
    server.known_hosts.rename(tmp_path / "saved")
    try:
        with pytest.raises(RemoteAuthError) as e:
            _run(server.url(tmp_path), options, lambda s: s.exists([KEY]))
        message = str(e.value)
        assert message.startswith(f"remote 'ssh': host {server.host_port} is not in ")
        assert f"ssh-keyscan -p {server.port} 127.0.0.1 >> " in message and "\n" not in message

        other = tmp_path / "other_host"
        key_type, key = keygen(other, "an impostor").split()[:2]
        server.known_hosts.write_text(f"[127.0.0.1]:{server.port} {key_type} {key}\n")
        with pytest.raises(RemoteAuthError) as e:
            _run(server.url(tmp_path), options, lambda s: s.exists([KEY]))
        message = str(e.value)
        assert f"the host key of {server.host_port} is not the one in " in message
        assert "someone is in between" in message and "\n" not in message
    finally:
        shutil.copy(tmp_path / "saved", server.known_hosts)


def test_an_unreachable_port_fails_fast_naming_host_and_port(server: SSHServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(RemoteUnreachableError) as e:
        _run(f"ssh://127.0.0.1:{port}/p", {"timeout": "2"}, lambda s: s.exists([KEY]))
    assert str(e.value).startswith(f"remote 'ssh': cannot reach 127.0.0.1:{port}: ")
    assert time.monotonic() - started < 5


def test_permission_denied_on_one_object_names_it_and_the_rest_work(
    server: SSHServer, shared_dir: Path, tmp_path: Path
) -> None:
    """Logged in as ``nobody``: one object is root's alone, and a directory
    is read-only for nobody."""
    secret, public = "files/md5/00/" + "1" * 30, "files/md5/00/" + "2" * 30
    for key in (secret, public):
        (shared_dir / key).parent.mkdir(parents=True, exist_ok=True)
        (shared_dir / key).write_bytes(key.encode())
    (shared_dir / secret).chmod(0o600)
    url = f"ssh://nobody@{server.host_port}{shared_dir}"
    options = {"keyfile": str(server.keyfile)}
    assert _run(url, options, lambda s: s.read_small(public, 100)) == public.encode()
    with pytest.raises(RemoteError) as e:
        _run(url, options, lambda s: s.get(secret, tmp_path / "got"))
    assert str(e.value) == f"remote 'ssh': read {secret}: permission denied on the server"
    assert not (tmp_path / "got").exists()
    with pytest.raises(RemoteError) as e:
        _run(url, options, lambda s: s.put(_src(tmp_path, b"x"), "files/md5/00/" + "3" * 30))
    assert str(e.value) == (
        f"remote 'ssh': write files/md5/00/{'3' * 30}: permission denied on the server"
    )


def test_a_failed_upload_leaves_nothing_and_a_leftover_temp_is_never_listed(
    server: SSHServer, tmp_path: Path
) -> None:
    root = tmp_path / "remote"
    options = {"keyfile": str(server.keyfile)}
    wrong = "0" * 32
    src = _src(tmp_path, os.urandom(3 << 20))
    with pytest.raises(CorruptObjectError):
        _run(
            server.url(root),
            options,
            lambda s: s.put(src, f"files/md5/00/{wrong[2:]}", expect=("md5", wrong)),
        )
    assert [p for p in root.rglob("*") if p.is_file()] == []
    # what a killed push leaves: a temp beside the objects
    (root / "files" / "md5" / "00" / ".bale-leftover.tmp").write_bytes(b"partial")

    async def look(s: SSHStore) -> tuple[dict[str, int], set[str]]:
        keys = [f"files/md5/00/{c * 30}" for c in "abcdef"] + ["files/md5/00/.bale-leftover.tmp"]
        return await _listed(s), await s.exists(keys)

    assert _run(server.url(root), options, look) == ({}, set())


def test_a_connection_lost_mid_upload_is_retried_and_leaves_one_whole_object(
    server: SSHServer, tmp_path: Path
) -> None:
    root = tmp_path / "remote"
    data = os.urandom(9 << 20)
    src = _src(tmp_path, data)
    drops: list[int] = []

    async def body(s: SSHStore) -> dict[str, int]:
        def progress(n: int) -> None:
            if not drops:  # the first part is sent: the connection goes
                drops.append(n)
                for connection in s._connections:
                    connection.conn.abort()

        await s.put(src, KEY, progress)
        return await _listed(s)

    assert _run(server.url(root), {"keyfile": str(server.keyfile)}, body) == {KEY: len(data)}
    assert drops and (root / KEY).read_bytes() == data
    assert [p.name for p in root.rglob("*") if p.is_file()] == [KEY.rpartition("/")[2]]


def test_without_posix_rename_a_concurrent_writers_object_is_kept(
    server: SSHServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server without ``posix-rename@openssh.com``: the plain rename fails
    on an existing name, which is then another writer's whole object."""
    import asyncssh

    async def unsupported(*args: object) -> None:
        raise asyncssh.SFTPOpUnsupported("POSIX rename not supported")

    monkeypatch.setattr(asyncssh.SFTPClient, "posix_rename", unsupported)
    root = tmp_path / "remote"
    data = os.urandom(1 << 20)
    sources = [_src(tmp_path, data, f"src{i}") for i in range(4)]

    async def body(s: SSHStore) -> dict[str, int]:
        await asyncio.gather(*(s.put(src, KEY) for src in sources))
        return await _listed(s)

    assert _run(server.url(root), {"keyfile": str(server.keyfile)}, body) == {KEY: len(data)}
    assert [p.name for p in root.rglob("*") if p.is_file()] == [KEY.rpartition("/")[2]]


def test_bad_urls_and_options_are_config_errors() -> None:
    for url, options, message in [
        ("ssh://ann:pw-s3cret@host/p", {}, "put the SSH password in the password option"),
        ("ssh:///p", {}, "is not an ssh:// URL"),
        ("ssh://host/p", {"port": "twenty-two"}, "port must be a number"),
        ("ssh://host/p", {"allow_agent": "maybe"}, "allow_agent must be true or false"),
        ("ssh://host/p", {"max_sessions": "0"}, "max_sessions must be a positive number"),
    ]:
        with pytest.raises(RemoteConfigError) as e:
            SSHStore("ssh", url, options)
        assert message in str(e.value) and "s3cret" not in str(e.value)


def test_small_reads_through_the_pipe_give_every_size_whole(
    server: SSHServer, tmp_path: Path
) -> None:
    """Small reads go through sftp_pipe (one read each, a short answer is
    the whole object); sizes around the server's largest read and the limit
    take the ordinary way for their rest, or come back None."""
    root = tmp_path / "remote"
    limit = 1 << 20
    sizes = [0, 1, 5000, 261119, 261120, 261121, 600_000, limit, limit + 1, 3 << 20]
    objects = {f"files/md5/{i:02x}/{'d' * 30}": os.urandom(n) for i, n in enumerate(sizes)}
    for key, data in objects.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)

    async def body(s: SSHStore) -> list[bytes | None]:
        return list(await asyncio.gather(*(s.read_small(k, limit) for k in objects)))

    got = _run(server.url(root), {"keyfile": str(server.keyfile)}, body, jobs=8)
    want = [d if len(d) <= limit else None for d in objects.values()]
    assert [len(g) if g is not None else None for g in got] == [
        len(w) if w is not None else None for w in want
    ]
    assert got == want

    async def missing(s: SSHStore) -> None:
        await s.read_small("files/md5/ff/" + "e" * 30, limit)

    with pytest.raises(ObjectNotFound):
        _run(server.url(root), {"keyfile": str(server.keyfile)}, missing)


def test_a_small_read_after_the_connection_dropped_opens_a_new_pipe(
    server: SSHServer, tmp_path: Path
) -> None:
    root = tmp_path / "remote"
    (root / KEY).parent.mkdir(parents=True)
    (root / KEY).write_bytes(b"object")

    async def body(s: SSHStore) -> list[bytes | None]:
        first = await s.read_small(KEY, 100)
        for connection in s._connections:
            connection.conn.abort()
        await asyncio.sleep(0.1)
        return [first, await s.read_small(KEY, 100)]

    assert _run(server.url(root), {"keyfile": str(server.keyfile)}, body) == [b"object"] * 2


def test_without_a_channel_for_the_pipe_small_reads_go_the_ordinary_way(
    server: SSHServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "remote"
    (root / KEY).parent.mkdir(parents=True)
    (root / KEY).write_bytes(b"object")
    refused: list[int] = []

    async def no_channel(self: SFTPPipe, *args: object) -> None:
        refused.append(1)
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "no")

    monkeypatch.setattr(SFTPPipe, "start", no_channel)

    async def body(s: SSHStore) -> list[bytes | None]:
        return [await s.read_small(KEY, 100) for _ in range(3)]

    assert _run(server.url(root), {"keyfile": str(server.keyfile)}, body) == [b"object"] * 3
    assert refused == [1]  # asked once, then never again
