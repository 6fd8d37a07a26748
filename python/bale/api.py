"""``bale.api``: read a repository's data, params and metrics from Python.

Modelled on ``dvc.api`` (same names, same arguments), for any bale or dvc
repository: ``repo`` is a local path or any URL ``git clone`` takes
(default: the repository around the current directory), ``rev`` any git
revision (default: a local repository's workspace, a URL's default
branch). Nothing is written into the repository's workspace::

    import bale.api

    with bale.api.open("data/train.csv", repo=url, rev="v2") as f:
        for line in f:
            ...
    raw = bale.api.read("models/model.pkl", repo=url, mode="rb")
    bale.api.params_show(repo=url, rev="v2")      # {"train": {"lr": 0.1}, ...}

Many files, as they arrive, with bounded memory (see :func:`stream`)::

    for name, data in bale.api.stream("data/images", repo=url, rev="v2"):
        ...

Errors are :class:`bale.BaleError` s naming what and where; a path that is
not in the repository raises :class:`bale.TargetNotFoundError`, which is a
``FileNotFoundError`` too.
"""

from __future__ import annotations

import io
import os
import posixpath
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from bale.exceptions import BaleError, MetafileError, StageNotFoundError, TargetNotFoundError
from bale.tree import RepoTree

if TYPE_CHECKING:
    from bale.fs import BaleFileSystem
    from bale.pipeline.revision import Files
    from bale.repo import Repo

__all__ = [
    "BaleFileSystem",
    "artifacts_show",
    "get_url",
    "ls",
    "metrics_show",
    "open",
    "params_show",
    "read",
    "stream",
    "walk",
]

_Repo = str | os.PathLike[str] | None


class _Opened:
    """What :func:`open` returns: a context manager only, as dvc's is."""

    def __init__(
        self,
        path: str,
        repo: _Repo,
        rev: str | None,
        remote: str | None,
        mode: str,
        enc: str | None,
        config: dict[str, Any] | None = None,
        remote_config: dict[str, str] | None = None,
    ) -> None:
        self._args = (path, repo, rev, remote, mode, enc)
        self._config = (config, remote_config)
        self._tree: RepoTree | None = None
        self._file: io.IOBase | None = None

    def __enter__(self) -> Any:
        """The file: binary (seekable, verified) or, in text mode, a
        ``TextIOWrapper`` over it."""
        path, repo, rev, remote, mode, encoding = self._args
        config, remote_config = self._config
        self._tree = RepoTree(repo, rev, remote, config=config, remote_config=remote_config)
        try:
            raw = self._tree.open(path)
            if "b" in mode:
                self._file = raw
            else:
                self._file = io.TextIOWrapper(cast("BinaryIO", raw), encoding=encoding)
        except BaseException:
            self._tree.close()
            raise
        return self._file

    def __exit__(self, *exc: object) -> None:
        try:
            if self._file is not None:
                self._file.close()
        finally:
            if self._tree is not None:
                self._tree.close()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"bale.api.open() gives a context manager: use it in a with statement (not .{name})"
        )


def open(
    path: str,
    repo: _Repo = None,
    rev: str | None = None,
    remote: str | None = None,
    mode: str = "r",
    encoding: str | None = None,
    config: dict[str, Any] | None = None,
    remote_config: dict[str, str] | None = None,
) -> _Opened:
    """Opens a file git or bale/dvc tracks in ``repo`` at ``rev``, as a
    context manager; ``mode`` is ``"r"`` (text, in ``encoding``) or ``"rb"``.
    The file is read as it arrives (from the cache, or streamed from
    ``remote``, default the repository's default remote), with ``seek``.
    ``config`` is merged over the repository's config (``{"remote":
    {"name": {...}}}``), ``remote_config`` over that remote's options, as
    ``dvc.api.open`` merges them.

    >>> with bale.api.open("data/train.csv", repo=url, rev="v1") as f:  # doctest: +SKIP
    ...     header = f.readline()
    """
    if "r" not in mode or any(c in mode for c in "wax+"):
        raise ValueError(f"{path}: only reading modes ('r', 'rb') are supported, not {mode!r}")
    return _Opened(path, repo, rev, remote, mode, encoding, config, remote_config)


def read(
    path: str,
    repo: _Repo = None,
    rev: str | None = None,
    remote: str | None = None,
    mode: str = "r",
    encoding: str | None = None,
    config: dict[str, Any] | None = None,
    remote_config: dict[str, str] | None = None,
) -> Any:
    """The whole content of a file (``str``, or ``bytes`` with ``mode="rb"``);
    see :func:`open`."""
    with _Opened(path, repo, rev, remote, mode, encoding, config, remote_config) as f:
        return f.read()


def artifacts_show(
    name: str, version: str | None = None, stage: str | None = None, repo: _Repo = None
) -> dict[str, str]:
    """Where artifact ``name`` of ``dvc.yaml``'s ``artifacts:`` is, as
    ``dvc.api.artifacts_show``: ``{"rev": commit, "path": path}`` for its
    ``version`` (``v1.2.0``), or the latest assignment of ``stage``, or by
    default its greatest version, all read from the registry's git tags
    (GTO's). Open it with ``open(path, repo=repo, rev=rev)``.

    Raises :class:`bale.registry.artifacts.ArtifactNotFoundError` for an
    unknown artifact, version or stage, and a ``ValueError`` (a
    :class:`bale.BaleError` too) when both a version and a stage are given."""
    from bale.ops.artifacts import find
    from bale.repo import Repo

    found = find(None if repo is None else os.fspath(repo), name, version, stage, repo_type=Repo)
    return {"rev": found.commit, "path": os.path.join(*found.path.split("/"))}


def get_url(
    path: str,
    repo: _Repo = None,
    rev: str | None = None,
    remote: str | None = None,
    config: dict[str, Any] | None = None,
    remote_config: dict[str, str] | None = None,
) -> str:
    """The URL of ``path``'s data on ``remote`` (default: the default
    remote): where dvc's layout keeps the object of a tracked file, or the
    ``.dir`` manifest of a directory output. It is not checked to exist.
    Data in bale's packed layout (blake3) has no URL of its own.
    ``config`` and ``remote_config``: see :func:`open`."""
    with RepoTree(repo, rev, remote, config=config, remote_config=remote_config) as tree:
        return tree.url(path)


def ls(
    path: str = "",
    repo: _Repo = None,
    rev: str | None = None,
    recursive: bool = False,
    dvc_only: bool = False,
    remote: str | None = None,
) -> list[dict[str, Any]]:
    """The entries of a directory of ``repo`` at ``rev`` (or the file
    ``path`` names), as ``dvc ls --json`` gives them: ``{"path", "isout",
    "isdir", "isexec", "size", "md5"}`` with ``path`` relative to ``path``.
    With ``recursive``, every file under it; with ``dvc_only``, only what
    bale/dvc tracks. Reads manifests, never data."""
    with RepoTree(repo, rev, remote) as tree:
        return tree.entries(path, recursive=recursive, dvc_only=dvc_only)


def walk(
    path: str = "",
    repo: _Repo = None,
    rev: str | None = None,
    remote: str | None = None,
) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` over ``repo`` at ``rev`` from ``path``: ``(directory,
    subdirectory names, file names)``, top down, directories
    repository-relative."""
    with RepoTree(repo, rev, remote) as tree:
        yield from tree.walk(path)


def stream(
    path: str = "",
    repo: _Repo = None,
    rev: str | None = None,
    remote: str | None = None,
    jobs: int | None = None,
    prefetch: int | None = None,
) -> Iterator[tuple[str, bytes]]:
    """Every file at or under ``path`` as ``(name, content)``, in sorted
    order: small files a slice (at most 32 MiB) at a time, the others
    ``jobs`` at a time ahead of the caller, at most ``prefetch`` held at
    once (see :meth:`bale.tree.RepoTree.stream`), so a 100,000-file
    directory streams into a training loop in bounded memory."""
    with RepoTree(repo, rev, remote, jobs) as tree:
        yield from tree.stream(path, prefetch=prefetch)


# ---------------------------------------------------------------------------
# params and metrics


def params_show(
    *targets: str,
    repo: _Repo = None,
    stages: str | Iterable[str] | None = None,
    rev: str | None = None,
    deps: bool = False,
) -> dict[str, Any]:
    """The params ``repo``'s pipelines track at ``rev`` (default: the
    workspace), merged into one dict as ``dvc.api.params_show`` merges them:
    a key two files share is prefixed with its file (``"p.yaml:lr"``).
    ``targets`` (repository-relative params files) are read whole instead;
    ``stages`` (names, or ``dir/dvc.yaml:name``) narrow it to their params;
    ``deps`` leaves out params no stage depends on."""
    from bale.pipeline import revision

    wanted = [stages] if isinstance(stages, str) else list(stages or ())

    def narrow(r: Repo, files: Files, tree: list[str] | None) -> Files:
        if targets:
            files = revision.targeted(r, files, tree, params=_targets(targets))
        return files

    def collect(r: Repo, pipes: Any, tree: list[str] | None) -> Files:
        from dataclasses import replace

        if not wanted:
            return narrow(r, revision.files_of(r, pipes.files, tree, deps_only=deps), tree)
        chosen = _stages(r, pipes.files, wanted)
        files = revision.files_of(r, chosen, tree, deps_only=True)
        files = replace(files, vars={})
        if targets:
            extra = revision.targeted(r, files, tree, params=_targets(targets))
            params = list(dict.fromkeys([*files.params, *extra.params]))
            files = replace(files, params=params)
        return files

    data = _snapshot(repo, rev, collect, "params")
    return _merged(data)


def metrics_show(*targets: str, repo: _Repo = None, rev: str | None = None) -> dict[str, Any]:
    """The metrics ``repo``'s pipelines name at ``rev`` (default: the
    workspace), merged into one dict as ``dvc.api.metrics_show`` merges
    them; ``targets`` (repository-relative files or directories) are read
    instead."""
    from bale.pipeline import revision

    def collect(r: Repo, pipes: Any, tree: list[str] | None) -> Files:
        files = revision.files_of(r, pipes.files, tree)
        if targets:
            files = revision.targeted(r, files, tree, metrics=_targets(targets))
        return files

    return _merged(_snapshot(repo, rev, collect, "metrics"))


def _targets(targets: Iterable[str]) -> list[str]:
    """Repository-relative posix paths, as dvc's ``from_os_path`` makes them."""
    return [posixpath.normpath(Path(t).as_posix()).lstrip("/") for t in targets]


def _stages(repo: Repo, files: list[Any], wanted: list[str]) -> list[Any]:
    """``files`` (pipeline files) keeping only the stages ``wanted`` names
    (as dvc addresses them), and none of their top-level params."""
    from dataclasses import replace

    found: set[str] = set()
    out = []
    for f in files:
        keep = [s for s in f.stages if s.addressing(repo.root) in wanted]
        found.update(s.addressing(repo.root) for s in keep)
        out.append(replace(f, stages=keep, params=[], metrics=[]))
    missing = [w for w in wanted if w not in found]
    if missing:
        raise StageNotFoundError(f"{missing[0]}: no stage of that name in {repo.root}")
    return out


def _snapshot(repo: _Repo, rev: str | None, collect: Any, kind: str) -> dict[str, Any]:
    """The ``kind`` files (``params`` or ``metrics``) ``collect`` picks, read
    in ``repo`` at ``rev``: ``{file: data}``; a file that cannot be read
    raises, as ``dvc.api`` does (``on_error="raise"``)."""
    from bale import index
    from bale.pipeline import revision

    with RepoTree(repo, rev) as at:
        view = at.view
        r = view.bale_repo()
        where = view.label
        if view.commit is None:
            files = collect(r, index.load(r), None)
            snap = revision.workspace(r, files)
        else:
            pipes = index.load_at(r, view.commit, where)
            files = collect(r, pipes, revision.tree_at(r, view.commit))
            snap = revision.at_revisions(r, files, [view.commit])[view.commit]
    data: dict[str, Any] = getattr(snap, kind)
    for name, d in data.items():
        if isinstance(d, dict) and "error" in d:
            if d.get("type") == "FileNotFoundError":
                raise TargetNotFoundError(f"{name}: no such {kind} file in {where}")
            raise MetafileError(f"{d['error']} (in {where})")
    return data


def _merged(files: dict[str, Any]) -> dict[str, Any]:
    """dvc.api's ``_postprocess``: the files' top-level keys in one dict, a
    key more than one file has prefixed with its file's name."""
    counts: Counter[str] = Counter()
    for d in files.values():
        counts.update(list(d) if isinstance(d, dict) else [])
    out: dict[str, Any] = {}
    for name, d in files.items():
        if not isinstance(d, dict):
            raise BaleError(f"{name}: holds no mapping of names to values")
        out.update({(k if counts[k] == 1 else f"{name}:{k}"): v for k, v in d.items()})
    return out


def __getattr__(name: str) -> Any:
    # As dvc.api offers DVCFileSystem; imported on demand, since fsspec
    # costs a read of one file a fifth of a second.
    if name == "BaleFileSystem":
        from bale.fs import BaleFileSystem

        return BaleFileSystem
    raise AttributeError(f"module 'bale.api' has no attribute {name!r}")
