"""bale: fast, DVC-compatible data version control.

bale works inside DVC 3.x repositories (same ``.dvc`` files, cache and remote
layout for md5 data) and adds a native blake3 mode. The public API::

    import bale
    repo = bale.Repo.init("project")          # or bale.Repo("project")
    repo.add(["data"])
    repo.status()
    repo.checkout()

Every error bale raises on purpose is a :class:`bale.BaleError`.
"""

from __future__ import annotations

from bale.exceptions import *  # noqa: F403
from bale.exceptions import __all__ as _exc_all

__version__ = "0.1.0"

# Not `typing.TYPE_CHECKING`: importing typing costs `bale --version` more
# than the rest of it (mypy treats any name TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from bale.index import Scope
    from bale.repo import Repo

__all__ = ["Repo", "Scope", "__version__", *_exc_all]


def __getattr__(name: str) -> Any:
    # Import lazily so that `bale --version` does not load the engine.
    if name == "Repo":
        from bale.repo import Repo

        return Repo
    if name == "Scope":
        from bale.index import Scope

        return Scope
    raise AttributeError(f"module 'bale' has no attribute {name!r}")
