"""A real OpenSSH server on loopback for tests: Debian's ``openssh-server``.

``make dev`` installs it (``sysdeps``, as root with apt); where it is
missing the tests that need it are skipped, saying so. The server runs as
this user (root, in the test containers), started as
``shared/test-servers.md`` describes: a host key and a user key generated
into a temporary directory, ``sshd -D -e`` on 127.0.0.1 and a free port,
public-key and password logins, SFTP by ``internal-sftp``. Its files sit
in a directory every user can traverse, so that another account (``nobody``,
to see a permission refused) can log in with the same key.

The server's home is the local file system, so what a test writes over
SFTP to ``ssh://…/<dir>`` is in ``<dir>`` here. :attr:`SSHServer.home` is a
``HOME`` for the clients: ``.ssh/known_hosts`` names the server's key, and
``.ssh/config`` has a host alias; tests point ``HOME`` there and never read
or write the real ``~/.ssh``.

Test modules import the session fixture (there is no conftest for it)::

    from tests.remotes.sshd import sshd  # noqa: F401
"""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["SSHServer", "sshd", "start_sshd"]

SSHD = Path("/usr/sbin/sshd")
ALIAS = "bale-test-sshd"
_READY_TIMEOUT = 20.0
_START_ATTEMPTS = 3
_PR_SET_PDEATHSIG = 1


@dataclass
class SSHServer:
    """A running ``sshd``; ``stop()`` ends it."""

    port: int
    user: str
    dir: Path  # keys, config, log
    home: Path  # a HOME for clients: .ssh/known_hosts, .ssh/config, .ssh/id_ed25519
    process: subprocess.Popen[bytes]

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def keyfile(self) -> Path:
        """The private key the server accepts (also ``home/.ssh/id_ed25519``)."""
        return self.dir / "user_key"

    @property
    def known_hosts(self) -> Path:
        return self.home / ".ssh" / "known_hosts"

    def url(self, path: Path | str) -> str:
        """``ssh://user@127.0.0.1:port/<absolute path>``."""
        return f"ssh://{self.user}@{self.host_port}{Path(path).resolve()}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.dir / "sshd.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _die_with_parent() -> None:
    """Makes the kernel end the server if the test process dies without stopping it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def keygen(path: Path, comment: str) -> str:
    """A new ed25519 key pair at ``path`` (and ``path.pub``); returns the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


def _answers(port: int, process: subprocess.Popen[bytes]) -> bool:
    """True once the server sends its SSH banner; False if it exited."""
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(4).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def start_sshd() -> SSHServer:
    """Generates keys and a config in a new directory and starts ``sshd`` there."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("no OpenSSH server (make dev installs openssh-server, as root with apt)")
    if os.geteuid() != 0:
        pytest.skip("the test sshd runs as root (it logs in as whoever started it)")
    # sshd's privilege separation directory, which the Debian service makes at boot
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    # sshd reads authorized_keys as the user logging in: readable by all
    base = Path(tempfile.mkdtemp(prefix="bale-sshd-"))
    base.chmod(0o755)
    host_pub = keygen(base / "host_key", "bale-test-host")
    user_pub = keygen(base / "user_key", "bale-test-user")
    (base / "authorized_keys").write_text(user_pub + "\n")
    (base / "authorized_keys").chmod(0o644)
    user = getpass.getuser()
    tail = ""
    for _ in range(_START_ATTEMPTS):
        port = _free_port()
        config = base / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"HostKey {base / 'host_key'}",
                    f"PidFile {base / 'sshd.pid'}",
                    f"AuthorizedKeysFile {base / 'authorized_keys'}",
                    "StrictModes no",
                    "UsePAM no",
                    "PermitRootLogin yes",
                    "PasswordAuthentication yes",
                    "KbdInteractiveAuthentication no",
                    "MaxStartups 100",
                    "Subsystem sftp internal-sftp",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        with (base / "sshd.log").open("wb") as log:
            process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config), "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        home = base / "home"
        server = SSHServer(port=port, user=user, dir=base, home=home, process=process)
        if _answers(port, process):
            _client_home(server, host_pub)
            return server
        tail = server.log_tail()
        process.kill()
        process.wait()
    shutil.rmtree(base, ignore_errors=True)
    raise RuntimeError(f"sshd did not start ({_START_ATTEMPTS} tries); last log:\n{tail}")


def _client_home(server: SSHServer, host_pub: str) -> None:
    """``HOME/.ssh`` as a user who has logged in before would have it."""
    ssh = server.home / ".ssh"
    ssh.mkdir(parents=True, mode=0o700, exist_ok=True)
    key_type, key = host_pub.split()[:2]
    server.known_hosts.write_text(f"[127.0.0.1]:{server.port} {key_type} {key}\n")
    shutil.copy(server.keyfile, ssh / "id_ed25519")
    shutil.copy(server.keyfile.with_suffix(".pub"), ssh / "id_ed25519.pub")
    (ssh / "id_ed25519").chmod(0o600)
    (ssh / "config").write_text(
        f"Host {ALIAS}\n  HostName 127.0.0.1\n  Port {server.port}\n  User {server.user}\n"
    )


@pytest.fixture(scope="session")
def sshd() -> Iterator[SSHServer]:
    """One OpenSSH server per test session (per xdist worker)."""
    server = start_sshd()
    try:
        yield server
    finally:
        server.stop()
