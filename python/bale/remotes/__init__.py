"""Remotes: where a team shares data.

Seven kinds, one layout: a folder (a local path, a network mount), S3,
Google Cloud Storage, Azure Blob Storage, DVC's HTTP protocol (served by ``bale serve``,
:mod:`bale.remotes.serve`), WebDAV and SSH (SFTP). md5
data uses DVC's remote layout, which is the cache layout, so a folder remote is
copied to and from by the engine directly, while the others are
:class:`~bale.remotes.store.Store` implementations driven by
:mod:`bale.remotes.sync`; :mod:`bale.remotes.movers` hides the difference.
blake3 data uses bale's packed layout on every kind (:mod:`bale.remotes.packed`).
Which outputs sync with which remote is :mod:`bale.remotes.plan`'s to say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bale.exceptions import RemoteConfigError
from bale.remotes.support import check_remote

if TYPE_CHECKING:
    from bale.remotes.store import Store
    from bale.repo import Repo


@dataclass(frozen=True)
class Remote:
    """A configured remote: its name, URL, kind and options (``remote.<name>.*``)."""

    name: str
    url: str
    kind: str  # "folder", "s3", "gs", "azure", "http", "webdav" or "ssh"
    path: Path | None = None  # the folder, for folder remotes
    options: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def __repr__(self) -> str:
        # not the options (keys, passwords), nor a password in the URL
        from bale.redact import mask_url

        return f"Remote({self.name!r}, {mask_url(self.url)!r}, {self.kind!r})"

    def open_store(self, jobs: int) -> Store:
        """The remote as a :class:`Store`."""
        if self.kind == "s3":
            from bale.remotes.s3 import S3Store

            return S3Store(self.name, self.url, self.options, jobs=jobs)
        if self.kind == "gs":
            from bale.remotes.gcs import GCSStore

            return GCSStore(self.name, self.url, self.options, jobs=jobs)
        if self.kind == "azure":
            from bale.remotes.azure import AzureStore

            return AzureStore(self.name, self.url, self.options, jobs=jobs)
        if self.kind == "http":
            from bale.remotes.http import HTTPStore

            return HTTPStore(self.name, self.url, self.options, jobs=jobs)
        if self.kind == "webdav":
            from bale.remotes.webdav import WebDAVStore

            return WebDAVStore(self.name, self.url, self.options, jobs=jobs)
        if self.kind == "ssh":
            from bale.remotes.ssh import SSHStore

            return SSHStore(self.name, self.url, self.options, jobs=jobs)
        from bale.remotes.folder import FolderStore

        assert self.path is not None
        return FolderStore(self.name, self.path)


def resolve_remote(repo: Repo, name: str | None = None) -> Remote:
    """The remote called ``name``, else the default one (``core.remote``).

    Raises RemoteConfigError when bale cannot use it (see :mod:`bale.remotes.support`).
    """
    from bale.config import display_path

    config = repo.config
    name = name or config.core_remote()
    if not name:
        raise RemoteConfigError(
            "no remote given and no default remote; add one with 'bale remote add -d <name> <url>'"
        )
    url = config.get(f"remote.{name}.url")
    if url is None:
        raise RemoteConfigError(f"remote '{name}' is not configured (see 'bale remote list')")
    prefix = f"remote.{name}."
    options = {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}

    def origin(option: str) -> str:
        path = config.origin(f"{prefix}{option}")
        return display_path(path) if path is not None else "config"

    # Before any store is opened: an option bale cannot honour (one dvc
    # wrote, say) fails here, naming its file, not halfway through a push.
    kind = check_remote(name, url, options, origin)
    if kind != "folder":
        return Remote(name=name, url=url, kind=kind, options=options)
    resolved = config.resolved_path(f"remote.{name}.url") or url
    path = Path(resolved.removeprefix("file://"))
    return Remote(name=name, url=url, kind=kind, path=path, options=options)
