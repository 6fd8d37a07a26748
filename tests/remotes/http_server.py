"""``bale serve`` in a background thread, for tests that need an HTTP remote.

Test modules import the fixture (``from tests.remotes.http_server import
http_remote  # noqa: F401``); there is deliberately no conftest.py here.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from bale.remotes.serve import make_app

__all__ = ["HTTPRemote", "http_remote", "running", "serving"]


@dataclass(frozen=True)
class HTTPRemote:
    url: str  # no trailing slash
    folder: Path


@contextmanager
def running(app: web.Application, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Runs ``app`` on 127.0.0.1 (a free port) in a thread with its own loop; yields the URL
    (``https://`` with a ``tls`` server context)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    started = threading.Event()
    port: list[int] = []

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
        port.append(runner.addresses[0][1])
        started.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=main, name="bale-serve-test", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("test server did not start")
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port[0]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@contextmanager
def serving(folder: Path, *, token: str | None = None, read_only: bool = False) -> Iterator[str]:
    """``bale serve folder`` for the duration of the block; yields the base URL."""
    with running(make_app(folder, token=token, read_only=read_only)) as url:
        yield url


@pytest.fixture
def http_remote(tmp_path: Path) -> Iterator[HTTPRemote]:
    """A fresh, empty folder served by ``bale serve`` without auth."""
    folder = tmp_path / "served"
    folder.mkdir()
    with serving(folder) as url:
        yield HTTPRemote(url=url, folder=folder)
