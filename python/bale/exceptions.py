"""The one exception family of bale.

Every error bale raises on purpose is a :class:`BaleError`. Where a builtin
exception means the same thing, the subclass derives from it too, so
``except FileNotFoundError`` keeps working for callers who know nothing of bale.
Errors raised by the Rust engine arrive as these same classes (see
``rust/bale-py/src/errors.rs``).
"""

from __future__ import annotations


def one_line(text: object) -> str:
    """``text`` (a message, or an exception's) on one line: bale's errors are."""
    return " ".join(str(text).split())


class BaleError(Exception):
    """Base class of every error bale raises on purpose."""


class NotARepositoryError(BaleError):
    """No ``.dvc/`` directory in this directory or any parent."""


class ConfigError(BaleError):
    """A config file is malformed or holds a bad value."""


class MetafileError(BaleError):
    """A ``.dvc``, ``dvc.yaml`` or ``dvc.lock`` file is malformed."""


class TargetError(BaleError):
    """A target path is invalid: outside the repository, inside ``.dvc/``, ignored, ..."""


class TargetNotFoundError(TargetError, FileNotFoundError):
    """A target path does not exist."""


class OutputNotTrackedError(TargetError):
    """A path is not tracked by any ``.dvc`` file."""


class StageNotFoundError(TargetError):
    """A target names no pipeline stage, ``.dvc`` file or output."""


class StageFailedError(BaleError):
    """A stage's command failed, or did not produce an output it declares."""


class PermissionDeniedError(BaleError, PermissionError):
    """The operating system refused access to a file."""


class NoSpaceError(BaleError, OSError):
    """The disk is full."""


class CorruptObjectError(BaleError):
    """An object in the cache does not hash to its name."""


class ObjectMissingError(BaleError, FileNotFoundError):
    """An object the workspace needs is not in the cache."""


class FileChangedError(BaleError):
    """A file changed while it was being hashed."""


class CheckoutConflictError(BaleError):
    """Checkout would overwrite changes that are not in the cache."""


class LockError(BaleError):
    """Another bale or dvc process holds the repository lock."""


class InvalidOidError(BaleError, ValueError):
    """A string is not a valid object id."""


class NoSCMError(BaleError):
    """A command needs git revisions, and the repository has no git or sets ``core.no_scm``."""


class RemoteError(BaleError):
    """A remote failed; the message names the remote."""


class RemoteConfigError(RemoteError, ConfigError):
    """A remote is not configured, or is configured with something bale cannot use."""


class RemoteAuthError(RemoteError, PermissionError):
    """A remote refused the credentials; the message names where they came from."""


class RemoteNotFoundError(RemoteError, FileNotFoundError):
    """A remote's bucket or base location does not exist."""


class RemoteUnreachableError(RemoteError, ConnectionError):
    """A remote's endpoint could not be reached, even after retries."""


__all__ = [
    "BaleError",
    "CheckoutConflictError",
    "ConfigError",
    "CorruptObjectError",
    "FileChangedError",
    "InvalidOidError",
    "LockError",
    "MetafileError",
    "NoSCMError",
    "NoSpaceError",
    "NotARepositoryError",
    "ObjectMissingError",
    "OutputNotTrackedError",
    "PermissionDeniedError",
    "RemoteAuthError",
    "RemoteConfigError",
    "RemoteError",
    "RemoteNotFoundError",
    "RemoteUnreachableError",
    "StageFailedError",
    "StageNotFoundError",
    "TargetError",
    "TargetNotFoundError",
]
