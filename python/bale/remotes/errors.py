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
]


class ObjectNotFound(RemoteError, FileNotFoundError):
    """The remote does not hold the object asked for."""


class TransientError(RemoteError):
    """A failure worth retrying: timeout, dropped connection, 5xx, throttling."""
