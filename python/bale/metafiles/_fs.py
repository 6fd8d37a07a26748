"""Writing files safely: every metafile, config file and cache entry bale
writes goes through :func:`atomic_write`."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from bale import _core

__all__ = ["atomic_write"]


def atomic_write(path: Path | str, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file in the same dir + rename).

    A new file gets the usual ``0666 & ~umask`` mode; an existing one keeps its mode.
    """
    path = Path(path)
    # bale's temp name (see bale.recovery): a killed write's leftover is
    # swept by the next command, and never taken for data.
    tmp = _core.temp_path(path.parent)
    # os.open applies the umask for us, unlike mkstemp's fixed 0600
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        _core.failpoint("temp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
