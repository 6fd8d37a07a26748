"""A real WebDAV server on loopback for tests: WsgiDAV on cheroot (what the
``wsgidav`` command runs), serving a folder, in a thread of the test process.

Test modules import the fixture (``from tests.remotes.webdav_server import
webdav_server  # noqa: F401``), or call :func:`serving_webdav`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["WebDAVServer", "serving_webdav", "webdav_server"]


@dataclass(frozen=True)
class WebDAVServer:
    url: str  # webdav://127.0.0.1:PORT (no trailing slash)
    root: Path  # the folder it serves
    user: str | None = None
    password: str | None = None


@contextmanager
def serving_webdav(
    root: Path, user: str | None = None, password: str | None = None
) -> Iterator[WebDAVServer]:
    """Serves ``root`` over WebDAV on 127.0.0.1 (a free port); with ``user``,
    only that user with ``password`` (basic auth) may read or write."""
    pytest.importorskip("wsgidav", reason="wsgidav is not installed (pip install wsgidav cheroot)")
    from cheroot import wsgi
    from wsgidav.wsgidav_app import WsgiDAVApp

    users: Any = True if user is None else {user: {"password": password}}
    config = {
        "provider_mapping": {"/": str(root)},
        "simple_dc": {"user_mapping": {"*": users}},
        "http_authenticator": {
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "verbose": 0,
        "logging": {"enable": False},
        "property_manager": True,
        "lock_storage": True,
    }
    app = WsgiDAVApp(config)
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=16)
    server.prepare()
    port = server.bind_addr[1]
    thread = threading.Thread(target=server.serve, name="wsgidav-test", daemon=True)
    thread.start()
    try:
        yield WebDAVServer(f"webdav://127.0.0.1:{port}", root, user, password)
    finally:
        server.stop()
        thread.join(10)


@pytest.fixture
def webdav_server(tmp_path: Path) -> Iterator[WebDAVServer]:
    """An anonymous WebDAV server over an empty folder, for one test."""
    root = tmp_path / "dav"
    root.mkdir()
    with serving_webdav(root) as server:
        yield server
