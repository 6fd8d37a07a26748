"""``check-ignore``: whether ``.dvcignore`` (or a name bale and dvc never
track) keeps a path out of the repository's data, and by which rule.

The decision is the engine's (:func:`bale._core.check_ignore`, the same
matcher that the workspace walk, ``add`` and the pipeline loaders use), so
this command can never disagree with what bale actually skips; this module
only renders the rule as ``dvc check-ignore -d`` prints it.
"""

from __future__ import annotations

import os

from bale import _core
from bale.repo import Repo


def check_ignore(repo: Repo, target: str) -> _core.IgnoreCheck:
    """Whether ``target`` (as the user typed it, relative to the current
    directory; it need not exist) is ignored, and the rule that decided.
    A path outside the repository is never ignored, as dvc says.

    >>> c = check_ignore(Repo("."), "model.tmp")  # doctest: +SKIP
    >>> c.ignored, details(c)  # doctest: +SKIP
    (True, '.dvcignore:1:*.tmp')
    """
    # abspath, not resolve: dvc normalises "sub/../x" but follows no symlink.
    return _core.check_ignore(repo.root, os.path.abspath(target))


def details(check: _core.IgnoreCheck) -> str | None:
    """The rule as dvc prints it before a path in ``check-ignore -d``:
    ``<.dvcignore>:<line>:<pattern>``, ``:<pattern>`` for one of dvc's own
    patterns, ``in sub_repo:<name>``; ``None`` when no rule matched."""
    if check.kind == "dvcignore":
        return f"{check.file}:{check.line}:{check.pattern}"
    if check.kind == "default":
        return f":{check.pattern}"
    if check.kind == "subrepo":
        return f"in sub_repo:{check.pattern}"
    if check.kind == "bale-temp":
        # bale's own rule (dvc has none): its temp files are never data
        return f"bale-temp::{check.pattern}"
    return None


def ignored_reason(repo: Repo, target: str) -> str | None:
    """Why ``target`` is not tracked, in words, or ``None`` when it would be.

    >>> ignored_reason(Repo("."), "model.tmp")  # doctest: +SKIP
    'it is ignored by .dvcignore:1:*.tmp'
    """
    return _core.ignored_reason(repo.root, os.path.abspath(target))
