"""bale/dvc-tracked data as an MLflow dataset source: where it is (the
repository, the commit, the path) and what it is (the content hash bale or
dvc records for that path at that commit, in its ``.dvc`` file or
``dvc.lock``; never hashed again here).

This module is what MLflow's ``mlflow.dataset_source`` entry point names:
it imports nothing of MLflow but the base class at module level, so
MLflow's registry can load it while it is itself being imported.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from mlflow.data.dataset_source import DatasetSource

from bale.exceptions import BaleError, CorruptObjectError, OutputNotTrackedError

if TYPE_CHECKING:
    from mlflow.data.meta_dataset import MetaDataset

    from bale.tree import RepoTree

__all__ = ["SOURCE_TYPE", "BaleDatasetSource", "HashMismatchError", "dataset", "locate"]

#: The source type MLflow records beside the source's JSON.
SOURCE_TYPE = "bale"
#: MLflow keeps a dataset's digest in 36 characters (``MAX_DATASET_DIGEST_SIZE``):
#: an md5 (32) or an md5 directory id (``<md5>.dir``) fits; a blake3 id (64)
#: is cut to its first 32 hex digits there (the source keeps it whole).
DIGEST_SIZE = 36
_FIELDS = ("url", "rev", "path", "algo", "hash")
#: Where a copy of the repository is for others (its ``origin``), if it has one.
_ORIGIN = "origin"


class HashMismatchError(CorruptObjectError):
    """The repository no longer records, at the commit, the hash a run recorded."""


class BaleDatasetSource(DatasetSource):
    """A file or directory bale or dvc tracks, at one commit of a repository.

    ``url`` is the repository as bale opens it (a local path or a git URL),
    ``origin`` (None if none) its ``origin`` remote's URL, where
    :meth:`load` reads when ``url`` is a path that does not exist here (on
    another machine), ``rev`` the full commit id, ``path`` repository-relative (posix),
    ``algo`` and ``hash`` the content id the repository records for it
    (``md5``/``md5-dos2unix`` as dvc, or ``blake3``; a directory's md5 id
    ends in ``.dir``).

    As a raw source (``mlflow.data.get_source`` aside, for
    ``resolve_dataset_source``) it takes a ``bale://`` URL,
    ``bale://data/train.csv?repo=<url>&rev=<rev>`` (``repo`` defaults to the
    repository around the current directory, ``rev`` to its HEAD), or a
    dict with ``path`` and optionally ``url`` and ``rev`` (``to_dict``'s
    keys); the hash is then read from the repository's records (one the
    dict gives must be that one).
    """

    def __init__(
        self, url: str, rev: str, path: str, algo: str, hash: str, origin: str | None = None
    ) -> None:
        self.url = url
        self.rev = rev
        self.path = path
        self.algo = algo
        self.hash = hash
        self.origin = origin

    def _key(self) -> tuple[str | None, ...]:
        return (self.url, self.rev, self.path, self.algo, self.hash, self.origin)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BaleDatasetSource) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"BaleDatasetSource({self.path!r} @ {self.rev[:7]} of {self.url!r}, "
            f"{self.algo}:{self.hash})"
        )

    @staticmethod
    def _get_source_type() -> str:
        return SOURCE_TYPE

    def load(self, dst_path: str | None = None) -> str:
        """Writes the data into the directory ``dst_path`` (default: a new
        temporary directory) under its own name (a file replaced, a
        directory refused if it exists), through :mod:`bale.api`'s
        reader (every byte checked against its object id as it is copied),
        after checking that the repository still records :attr:`hash` for
        :attr:`path` at :attr:`rev`; returns the local path written."""
        from bale.tree import RepoTree

        where = self.url
        if self.origin is not None and _is_path(where) and not os.path.exists(where):
            where = self.origin
        with RepoTree(where, self.rev) as tree:
            info = tree.info(self.path)
            found = (info.get("algo"), info.get("oid"))
            if found != (self.algo, self.hash):
                raise HashMismatchError(
                    f"{self.path}: {tree.view.label} records {found[0]}:{found[1]}, "
                    f"not the {self.algo}:{self.hash} this dataset was logged with"
                )
            dst = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp("-bale"))
            dst.mkdir(parents=True, exist_ok=True)
            target = dst / (posixpath.basename(self.path) or "root")
            is_dir = info["type"] == "directory"
            if is_dir and target.exists():
                # a copy would land inside it (cp's rule), beside what is there
                raise BaleError(f"{target}: already exists; load into another directory")
            tree.get(self.path, os.fspath(target), recursive=is_dir)
        return os.fspath(target)

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        if isinstance(raw_source, str):
            return raw_source.startswith(f"{SOURCE_TYPE}://")
        return (
            isinstance(raw_source, dict)
            and isinstance(raw_source.get("path"), str)
            and set(raw_source) <= {*_FIELDS, _ORIGIN}
        )

    @classmethod
    def _resolve(cls, raw_source: Any) -> BaleDatasetSource:
        if isinstance(raw_source, str):
            parts = urlsplit(raw_source)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            path = (parts.netloc + parts.path).lstrip("/")
            return locate(path, query.get("repo"), query.get("rev"))
        found = locate(raw_source["path"], raw_source.get("url"), raw_source.get("rev"))
        said = (raw_source.get("algo", found.algo), raw_source.get("hash", found.hash))
        if said != (found.algo, found.hash):
            raise HashMismatchError(
                f"{found.path}: {found.rev[:7]} records {found.algo}:{found.hash}, "
                f"not {said[0]}:{said[1]}"
            )
        return found

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = dict(zip(_FIELDS, self._key(), strict=False))
        if self.origin is not None:
            found[_ORIGIN] = self.origin
        return found

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> BaleDatasetSource:
        missing = [k for k in _FIELDS if not isinstance(source_dict.get(k), str)]
        if missing:
            raise BaleError(f"a bale dataset source without {', '.join(missing)}: {source_dict}")
        d = source_dict
        origin = d.get(_ORIGIN) or None
        return cls(d["url"], d["rev"], d["path"], d["algo"], d["hash"], origin)

    @property
    def digest(self) -> str:
        """The hash as an MLflow dataset digest (see :data:`DIGEST_SIZE`)."""
        h = self.hash
        return h if len(h) <= DIGEST_SIZE else h[:32]


def locate(
    path: str, repo: str | os.PathLike[str] | None = None, rev: str | None = None
) -> BaleDatasetSource:
    """The source of ``path`` in ``repo`` (default: the repository around the
    current directory) at ``rev`` (default: HEAD), with the hash bale or
    dvc records for it there. Refuses a path that is not tracked by bale or
    dvc at that commit, and (``rev`` None, a local repository) one the
    workspace holds otherwise: its record (``.dvc`` file or ``dvc.lock``)
    differs from HEAD's, or its files differ from their record (the
    engine's status, as ``bale status``: unchanged files are not read
    again). What is logged must be what a commit holds."""
    from bale.tree import RepoTree, norm

    rel = norm(path)
    local = repo is None or os.path.exists(repo)
    with RepoTree(repo, rev or "HEAD") as tree:
        info = tree.info(rel)
        view = tree.view
        assert view.commit is not None
        if info.get("oid") is None:
            raise OutputNotTrackedError(f"{rel}: not tracked by bale or dvc in {view.label}")
        if local or repo is None:
            url, shared = repo_urls(view.root)
            origin = shared if shared != url else None
        else:
            url, origin = os.fspath(repo), None
        found = BaleDatasetSource(url, view.commit, rel, info["algo"], info["oid"], origin)
    if rev is None and local:
        with RepoTree(url) as ws:
            _same_in_workspace(ws, found)
    return found


def _same_in_workspace(ws: RepoTree, src: BaleDatasetSource) -> None:
    """Refuses ``src`` (at HEAD) unless the workspace ``ws`` holds it as is."""
    here = ws.info(src.path)
    if (here.get("algo"), here.get("oid")) != (src.algo, src.hash):
        raise BaleError(
            f"{src.path}: its record in the workspace differs from HEAD's "
            f"({src.rev[:7]}); commit it, or name a revision"
        )
    index = ws.index
    out = src.path if src.path in index.outs else index.owner(src.path)
    assert out is not None  # tracked: an output, or inside a directory output
    t = index.outs[out]
    st = ws.view.bale_repo().workspace.status(str(t.path), t.algo, t.out.oid)
    if st.oid == t.out.oid:
        return
    sub = src.path[len(out) + 1 :]
    changed = [*st.modified, *st.deleted, *st.added]
    if not sub or st.oid is None or any(c == sub or c.startswith(sub + "/") for c in changed):
        raise BaleError(
            f"{src.path}: changed in the workspace since {src.rev[:7]} recorded it "
            "(see bale status); commit it, or name a revision"
        )


def repo_urls(root: Path) -> tuple[str, str]:
    """The repository as bale opens it here (its root), and as others find
    it: the ``origin`` remote's URL if it has one, else its root too."""
    from bale import scm

    local = os.fspath(root)
    out = scm.git(root, "remote", "get-url", "origin", check=False)
    shared = out.stdout.decode().strip() if out.returncode == 0 else ""
    return local, shared or local


def _is_path(url: str) -> bool:
    """Whether ``url`` names a local path rather than a URL git clones
    (``scheme://...`` or scp-like ``host:path``)."""
    return "://" not in url and not _SCP.match(url)


#: git's scp-like syntax, ``[user@]host:path`` (a colon before any slash)
_SCP = re.compile(r"^[\w.-]+(@[\w.-]+)?:(?!/)")


def dataset(
    path: str,
    repo: str | os.PathLike[str] | None = None,
    rev: str | None = None,
    name: str | None = None,
) -> MetaDataset:
    """``path`` of ``repo`` at ``rev`` (see :func:`locate`) as an MLflow
    dataset, for ``mlflow.log_input``: a ``MetaDataset`` named ``name``
    (default: the path) whose digest is the recorded hash::

        mlflow.log_input(bale.mlflow.dataset("data/train.csv"))
    """
    from mlflow.data.meta_dataset import MetaDataset

    src = locate(path, repo, rev)
    # MLflow's stubs leave MetaDataset.profile abstract; the class is complete
    return MetaDataset(src, name=name or src.path, digest=src.digest)  # type: ignore[abstract]
