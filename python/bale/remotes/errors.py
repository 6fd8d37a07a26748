"""Errors of the remote layer.

The public ones live in :mod:`bale.exceptions` (one family for all of bale);
the two here are the store's signals to the sync layer and rarely escape it.
"""

from __future__ import annotations

from bale.exceptions import (
    RemoteAuthError,
    RemoteConfigError,
    RemoteError,
    RemoteNotFoundError,
    RemoteUnreachableError,
)

__all__ = [
    "ObjectNotFound",
    "RemoteAuthError",
    "RemoteConfigError",
    "RemoteError",
    "RemoteNotFoundError",
    "RemoteUnreachableError",
    "TransientError",
    "Unreachable",
    "transport_error",
]


class ObjectNotFound(RemoteError, FileNotFoundError):
    """The remote does not hold the object asked for."""


class TransientError(RemoteError):
    """A failure worth retrying: timeout, dropped connection, 5xx, throttling."""


class Unreachable(TransientError):
    """No connection could be made, or no answer came in time: retried, and
    raised as a :class:`RemoteUnreachableError` once the retries run out
    (:func:`bale.remotes.store.retrying`)."""


def transport_error(remote: str, endpoint: str, e: BaseException) -> RemoteError:
    """The error for an aiohttp failure below HTTP (S3, GCS): all but TLS
    failures are retried, since a certificate stays wrong however often."""
    import asyncio

    import aiohttp

    from bale.exceptions import one_line

    if isinstance(e, aiohttp.ClientSSLError):
        return RemoteError(f"remote '{remote}': TLS with {endpoint} failed: {e}")
    if isinstance(e, aiohttp.ClientConnectorError):
        reason = e.os_error.strerror or type(e.os_error).__name__
        return Unreachable(f"remote '{remote}': cannot reach {endpoint}: {reason}")
    if isinstance(e, asyncio.TimeoutError):
        return Unreachable(f"remote '{remote}': {endpoint} did not answer in time")
    return TransientError(f"remote '{remote}': {one_line(str(e) or type(e).__name__)}")
