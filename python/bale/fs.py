"""``bale://``: a repository at a revision as an fsspec file system.

:class:`BaleFileSystem` shows the files git tracks and the files bale or
dvc track (``.dvc`` files and ``dvc.lock`` outputs, directory outputs
expanded from their manifests) as one read-only tree, as dvc's
``DVCFileSystem`` does (see :mod:`bale.tree`)::

    fs = BaleFileSystem(repo="https://github.com/org/registry", rev="v2")
    fs.ls("data")                       # names, sizes, types: manifests only
    with fs.open("data/train.csv") as f:
        head = f.read(100)
    fs.get("data/images", "local/images", recursive=True)  # in parallel

It is registered under the protocol ``bale`` (an ``fsspec.specs`` entry
point), so anything that takes an fsspec URL reads tracked data::

    pandas.read_csv("bale://data/train.csv", storage_options={"repo": url, "rev": "v2"})

Paths are relative to the repository's root (a leading ``/`` is the root
too); names in listings are returned without it. ``*.dvc``, ``dvc.yaml``,
``dvc.lock`` and ``.dvcignore`` are left out of listings (``dvcfiles=True``
shows them), as dvc leaves them out; ``.dvc/`` and ``.git/`` are never
shown. Nothing is written into the repository's workspace.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

from fsspec.spec import AbstractFileSystem

from bale.exceptions import BaleError
from bale.tree import RepoTree, norm
from bale.view import View

__all__ = ["PROTOCOL", "BaleFileSystem"]

PROTOCOL = "bale"


class BaleFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """A repository at a revision: git-tracked and bale/dvc-tracked files as
    one read-only tree (the arguments are :class:`~bale.tree.RepoTree`'s).
    Close it (or use it as a context manager) to drop its temp cache."""

    protocol = PROTOCOL
    root_marker = ""
    # A workspace changes under us: instances are not shared by fsspec.
    cachable = False

    def __init__(
        self,
        repo: str | os.PathLike[str] | None = None,
        rev: str | None = None,
        remote: str | None = None,
        jobs: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tree = RepoTree(repo, rev, remote, jobs)

    @property
    def view(self) -> View:
        """The repository at the revision (opened on first use)."""
        return self.tree.view

    def close(self) -> None:
        self.tree.close()

    def __enter__(self) -> BaleFileSystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
        if path.startswith(PROTOCOL + "://"):
            path = path[len(PROTOCOL) + 3 :]
        return norm(path)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return self.tree.info(self._strip_protocol(path))

    def ls(
        self, path: str, detail: bool = True, dvcfiles: bool = False, **kwargs: Any
    ) -> list[dict[str, Any]] | list[str]:
        entries = self.tree.ls(self._strip_protocol(path), dvcfiles=dvcfiles)
        return entries if detail else [e["name"] for e in entries]

    def entries(
        self, path: str = "", *, recursive: bool = False, dvc_only: bool = False
    ) -> list[dict[str, Any]]:
        """See :meth:`RepoTree.entries` (``dvc ls --json``'s entries)."""
        return self.tree.entries(self._strip_protocol(path), recursive=recursive, dvc_only=dvc_only)

    def url(self, path: str) -> str:
        """Where ``path``'s data is on the remote (:func:`bale.api.get_url`)."""
        return self.tree.url(self._strip_protocol(path))

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> io.BufferedIOBase:
        if mode != "rb":
            raise OSError(f"{path}: {PROTOCOL}:// is read-only (mode {mode!r})")
        return self.tree.open(self._strip_protocol(path))

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        with self._open(path) as f:
            size = f.seek(0, os.SEEK_END)
            lo = 0 if start is None else start if start >= 0 else max(0, size + start)
            hi = size if end is None else end if end >= 0 else size + end
            f.seek(lo)
            return f.read(max(0, hi - lo))

    def get(
        self,
        rpath: str,
        lpath: str,
        recursive: bool = False,
        callback: Any = None,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Copies ``rpath`` to the local ``lpath`` in parallel (see
        :meth:`RepoTree.get`: each file complete or not at all); an fsspec
        ``callback`` is told the file count and the files as they land."""
        if isinstance(rpath, list) or isinstance(lpath, list):
            raise BaleError(f"{PROTOCOL}:// get: one source and one destination, not lists")

        def progress(done: int, total: int) -> None:
            if callback is not None:
                callback.set_size(total)
                callback.absolute_update(done)

        self.tree.get(self._strip_protocol(rpath), os.fspath(lpath), recursive, maxdepth, progress)

    def stream(self, path: str = "", *, prefetch: int | None = None) -> Iterator[tuple[str, bytes]]:
        """Every file at or under ``path`` as ``(name, content)``, fetched
        ahead with bounded memory (see :meth:`RepoTree.stream`)."""
        return self.tree.stream(self._strip_protocol(path), prefetch=prefetch)
