"""The repository lock, shared with DVC.

Writers take an exclusive ``flock`` on ``.dvc/tmp/lock``, the same file and
the same kind of lock that DVC (zc.lockfile) takes, so bale and dvc never
write one repository at once. The kernel drops the lock when its holder dies,
so a lock left by a killed process is never stale: the next writer simply gets
it. Readers take no lock; every write they could observe is atomic.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from bale.exceptions import LockError


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip().split()[0]
    except (OSError, IndexError):
        return "another process"
    return f"process {pid}"


@contextlib.contextmanager
def repo_lock(tmp_dir: Path, timeout: float = 3.0) -> Iterator[None]:
    """Holds the repository's write lock, waiting up to ``timeout`` seconds."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockError(
                        f"{path}: the repository is locked by {_holder(path)} "
                        "(another bale or dvc command is running)"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f" {os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
