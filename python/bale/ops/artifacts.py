"""``bale artifacts get`` and :func:`bale.api.artifacts_show`: an artifact
of another repository (or this one), at a version or stage its registry's
tags name, as dvc finds and downloads it.

dvc asks Studio first and falls back to the repository; bale reads the
repository (its tags, its ``dvc.yaml`` at the commit they name, and the
data from its cache or remote, as ``bale get`` does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale.exceptions import BaleError
from bale.registry import artifacts as registry
from bale.registry import tags as gto
from bale.source import Source

if TYPE_CHECKING:
    from bale.ops.get import GetResult
    from bale.repo import Repo


@dataclass(frozen=True)
class Found:
    """Where an artifact's version is: the commit, and its path there."""

    commit: str
    path: str


def find(
    url: str | None,
    name: str,
    version: str | None = None,
    stage: str | None = None,
    *,
    repo_type: type[Repo],
) -> Found:
    """The commit of ``name``'s ``version`` or ``stage`` (default: its
    greatest version) in the repository at ``url`` (None: this one), and
    the artifact's path there. ``name`` may carry them itself
    (``name@v1.2.0``, ``name#prod``)."""
    short, commit = _resolve(url, name, version, stage, repo_type)
    with Source.open(url, commit, repo_type=repo_type) as src:
        return Found(commit, registry.path_of(src, short))


def _resolve(
    url: str | None, name: str, version: str | None, stage: str | None, repo_type: type[Repo]
) -> tuple[str, str]:
    """The artifact's name without a shortcut, and the commit the
    registry's tags name for it."""
    short, v, s = registry.parse_shortcut(name)
    if (v or s) and (version or stage):
        raise BaleError(
            f"'{name}' names its version or stage: give neither --rev nor --stage with it"
        )
    version, stage = version or v, stage or s
    if version and stage:
        raise registry.ArgumentsError("Artifact version and stage are mutually exclusive.")
    with Source.open(url, None, repo_type=repo_type) as head:
        # a clone was fetched (tags too) to open it: its tags are current
        tags = gto.read(head.root)
    return short, registry.resolve_rev(tags, short, version, stage)


def get(
    url: str,
    name: str,
    version: str | None = None,
    stage: str | None = None,
    out: str | None = None,
    *,
    force: bool = False,
    jobs: int | None = None,
    remote: str | None = None,
    config: dict[str, Any] | None = None,
    remote_config: dict[str, str] | None = None,
    repo_type: type[Repo],
) -> tuple[GetResult, str]:
    """Downloads artifact ``name`` (at ``version`` or ``stage``) of the
    repository at ``url`` to ``out`` (default: its file name, here), as
    ``bale get`` downloads a path; returns what was written and ``out`` as
    dvc names it. ``remote``: the source's remote to download from
    (default: its default remote); ``config`` and ``remote_config`` are
    merged over the source's config and that remote's options."""
    from bale.ops.get import get as get_path

    short, commit = _resolve(url, name, version, stage, repo_type)
    with Source.open(
        url, commit, repo_type=repo_type, remote=remote, config=config, remote_config=remote_config
    ) as src:
        result = get_path(src, registry.path_of(src, short), out, jobs=jobs, force=force)
    return result, os.path.relpath(result.path, Path.cwd())
