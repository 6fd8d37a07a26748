"""Remotes: where a team shares data.

Today: folder remotes (a local path, a network mount) in DVC's remote layout,
which is the cache layout, so the engine copies objects directly between the
two stores. S3 and HTTP remotes, and the packed layout for blake3 data, are
the next issue's work; asking for them is a clear error, never a silent
fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bale.exceptions import RemoteConfigError

if TYPE_CHECKING:
    from bale.repo import Repo

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    path: Path  # the folder, for folder remotes


def resolve_remote(repo: Repo, name: str | None = None) -> Remote:
    """The remote called ``name``, else the default one (``core.remote``)."""
    config = repo.config
    name = name or config.core_remote()
    if not name:
        raise RemoteConfigError(
            "no remote given and no default remote; add one with 'bale remote add -d <name> <path>'"
        )
    url = config.get(f"remote.{name}.url")
    if url is None:
        raise RemoteConfigError(f"remote '{name}' is not configured (see 'bale remote list')")
    scheme = _SCHEME.match(url)
    if scheme and scheme.group(1) != "file":
        raise RemoteConfigError(
            f"remote '{name}': {scheme.group(1)}:// remotes are not supported yet "
            "(folder remotes are)"
        )
    resolved = config.resolved_path(f"remote.{name}.url") or url
    path = Path(resolved.removeprefix("file://"))
    return Remote(name=name, url=url, path=path)
