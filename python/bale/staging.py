"""Staging directories: where a download is put together beside its
destination before one rename publishes it (``get``, ``import``,
``import-url``, ``get-url``).

Apart from :mod:`bale.ops` so that every verb can use it without importing
another verb (``status`` checks import-url sources through
:mod:`bale.ops.urls`, which must not reach :mod:`bale.repo`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["staging_dir"]


def staging_dir(parent: Path, verb: str) -> Path:
    """A new temp directory in ``parent`` (``.bale-<verb>-<pid>-*``), after
    removing those a killed ``bale`` left there (its pid is gone): a
    download interrupted half-way leaves nothing behind once rerun."""
    prefix = f".bale-{verb}-"
    for old in parent.glob(prefix + "*"):
        pid = old.name[len(prefix) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(old, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
