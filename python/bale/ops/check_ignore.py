"""``check-ignore``: whether ``.dvcignore`` (or a name bale and dvc never
track) keeps a path out of the repository's data.

The decision is the engine's (:func:`bale._core.ignored_reason`, the same
matcher that the workspace walk, ``add`` and the pipeline loaders use), so
this command can never disagree with what bale actually skips.
"""

from __future__ import annotations

import os

from bale import _core
from bale.repo import Repo


def ignored_reason(repo: Repo, target: str) -> str | None:
    """Why ``target`` (as the user typed it, relative to the current
    directory) is not tracked, or ``None`` when it would be. A path outside
    the repository is never ignored, as dvc says. The target need not exist.

    >>> ignored_reason(Repo("."), "model.tmp")  # doctest: +SKIP
    'it is ignored by .dvcignore'
    """
    # abspath, not resolve: dvc normalises "sub/../x" but follows no symlink.
    path = os.path.abspath(target)
    return _core.ignored_reason(repo.root, path)
