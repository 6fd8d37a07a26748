"""A repository data is read from: a git URL or local path at a revision.

``bale get``, ``bale import``, ``bale update``, ``bale ls``, the fetch of
import outputs and :mod:`bale.api` all read another repository through a
:class:`Source`: its outputs at a commit, its git-tracked files, its
default remote, and its objects brought into a cache, verified.

Where a source lives, as dvc 3.67.1 opens it:

- A local path (anything ``os.path.exists`` finds) is opened in place: its
  ``.dvc/config`` is its config and its cache is the first place objects
  come from (``dvc get`` from a local repository works without a remote).
  Its metafiles are read from git at the resolved commit.
- Any other URL (``file://``, ssh, https) is cloned once into
  ``$XDG_CACHE_HOME/bale/repos/<sha256(url)[:16]>`` (``git clone
  --no-checkout``), fetched again when the revision may have moved (a
  branch, no revision, an id not yet present), and each commit read is
  checked out once, immutably, under ``commits/<sha>`` of that clone (git
  writes to the clone under its lock, ``.git/bale.lock``): the
  config there is the one committed. Such a source has no cache of its own:
  its objects come from its default remote, as in dvc.

Objects come in verified either way: the engine hashes every object it
copies from a local cache, and every object a remote sends.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import posixpath
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from bale import _core, scm
from bale.console import debug, warn
from bale.exceptions import (
    BaleError,
    ConfigError,
    NotARepositoryError,
    ObjectMissingError,
    OutputNotTrackedError,
    RemoteConfigError,
)
from bale.redact import mask_url

if TYPE_CHECKING:
    from bale.index import Tracked
    from bale.remotes import Remote
    from bale.remotes.sync import Moved
    from bale.repo import Repo


class SourceError(BaleError):
    """A source repository cannot be opened or read: not git, unknown
    revision, a path it does not track."""


def cache_home() -> Path:
    """Where bale keeps clones of source repositories (``$XDG_CACHE_HOME/bale``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bale"


def source_url(root: Path, url: str) -> str:
    """Where an import's recorded URL is read from, in the repository at
    ``root``: a relative local path from the root (dvc reads it from the
    current directory, which is the root when dvc is run there)."""
    if "://" in url or os.path.isabs(url) or (":" in url and not os.path.exists(url)):
        return url
    return str(root / url)


def _used(marker: Path) -> bool:
    """Whether the checkout ``marker`` stands for is made; marks it used now."""
    try:
        os.utime(marker)
    except FileNotFoundError:
        return False
    except OSError:
        pass  # a read-only cache: in use all the same
    return True


def _is_sha(rev: str | None) -> bool:
    return rev is not None and len(rev) == 40 and all(c in "0123456789abcdef" for c in rev)


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """git without raising: the caller words the error."""
    return scm.git(cwd, *args, check=False, env={"GIT_TERMINAL_PROMPT": "0"})


def _last_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


@dataclass
class _Clone:
    """A cached ``git clone --no-checkout`` of one URL."""

    url: str
    path: Path
    #: Cloned by this process just now: as current as a fetch would make it.
    fresh: bool = False

    @classmethod
    def of(cls, url: str) -> _Clone:
        tag = hashlib.sha256(url.encode()).hexdigest()[:16]
        path = cache_home() / "repos" / tag
        clone = cls(url, path)
        if not (path / ".git").is_dir():
            clone._create()
            clone.fresh = True
        return clone

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=self.path.parent))
        try:
            proc = _git(self.path.parent, "clone", "--no-checkout", "--quiet", self.url, str(tmp))
            if proc.returncode != 0:
                raise SourceError(
                    f"{mask_url(self.url)}: not a git repository bale can clone "
                    f"(git clone: {_last_line(proc)})"
                )
            try:
                os.rename(tmp, self.path)
            except OSError:
                # Another process cloned it first: use theirs.
                if not (self.path / ".git").is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Holds the clone's lock (waiting for it): git's ref and worktree
        locks fail rather than wait, so two processes reading one URL (a
        data loader's workers) take turns to fetch and check out."""
        fd = os.open(self.path / ".git" / "bale.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # and with it the lock

    def fetch(self) -> None:
        with self._locked():
            proc = _git(
                self.path,
                "fetch",
                "--quiet",
                "--force",
                "--tags",
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
            )
            if proc.returncode != 0:
                raise SourceError(f"{mask_url(self.url)}: git fetch failed: {_last_line(proc)}")
            # The remote's default branch may have changed since the clone.
            _git(self.path, "remote", "set-head", "origin", "--auto")

    def resolve(self, rev: str | None) -> str | None:
        """The commit ``rev`` names here (a branch as the remote has it), or None."""
        candidates = ["refs/remotes/origin/HEAD", "HEAD"] if rev is None else [f"origin/{rev}", rev]
        for name in candidates:
            proc = _git(self.path, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
            if proc.returncode == 0:
                return proc.stdout.decode().strip()
        return None

    def checkout(self, commit: str) -> Path:
        """An immutable checkout of ``commit``, made once (by whichever
        process gets there first). It counts as made once its marker
        (``commits/<sha>.done``) exists: one a killed process left half made
        is removed and made again."""
        dest = self.path / "commits" / commit
        done = dest.with_name(commit + ".done")
        if _used(done):
            return dest
        with self._locked():
            if _used(done):
                return dest
            self._prune()
            if os.path.lexists(dest):
                _git(self.path, "worktree", "remove", "--force", str(dest))
                shutil.rmtree(dest, ignore_errors=True)
            _git(self.path, "worktree", "prune")
            dest.parent.mkdir(parents=True, exist_ok=True)
            proc = _git(self.path, "worktree", "add", "--detach", "--quiet", str(dest), commit)
            if proc.returncode != 0:
                shutil.rmtree(dest, ignore_errors=True)
                _git(self.path, "worktree", "prune")
                raise SourceError(
                    f"{mask_url(self.url)}: cannot check out {commit}: {_last_line(proc)}"
                )
            done.touch()
        return dest

    #: A checkout of a commit no process has opened for this long is
    #: removed when another is made: a registry read at many revisions
    #: does not fill the disk with their files.
    unused_for = 14 * 24 * 3600.0

    def _prune(self) -> None:
        """Removes the checkouts unused for :attr:`unused_for` (under the lock)."""
        commits = self.path / "commits"
        cutoff = time.time() - self.unused_for
        try:
            markers = [p for p in commits.iterdir() if p.name.endswith(".done")]
        except FileNotFoundError:
            return
        for marker in markers:
            with contextlib.suppress(FileNotFoundError):
                if marker.stat().st_mtime >= cutoff:
                    continue
            # Unmarked first: a reader racing this sees it half made and
            # waits for the lock, then makes it again.
            marker.unlink(missing_ok=True)
            shutil.rmtree(commits / marker.name.removesuffix(".done"), ignore_errors=True)
        _git(self.path, "worktree", "prune")


class Source:
    """A repository data is read from, at one commit (use as a context manager).

    >>> url = "https://github.com/org/registry"
    >>> with Source.open(url, rev="v1", repo_type=Repo) as src:  # doctest: +SKIP
    ...     tracked, sub = src.locate("data/train.csv")
    """

    url: str
    rev: str | None
    commit: str
    local: bool

    def __init__(
        self,
        url: str,
        rev: str | None,
        commit: str,
        root: Path,
        local: bool,
        repo_type: type[Repo],
    ) -> None:
        self.url = url
        self.rev = rev
        self.commit = commit
        self.root = root
        self.local = local
        #: The remote data comes from where none is named (dvc's ``--remote``:
        #: "set as a default in the target repository"); None: its own default.
        self.default_remote: str | None = None
        #: Config merged over the source's own (dvc's ``--config``), and
        #: options over those of its remote (``--remote-config``), applied
        #: when its repository is opened.
        self.config: dict[str, Any] | None = None
        self.remote_config: dict[str, str] | None = None
        self._repo_type = repo_type
        self._repo: Repo | None = None
        self._outputs: list[Tracked] | None = None

    def __repr__(self) -> str:
        return f"Source({mask_url(self.url)!r}, rev={self.rev!r}, commit={self.commit[:7]!r})"

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Saves what the source's repository keeps (its parse memo)."""
        if self._repo is not None:
            self._repo.memo.save()

    # Opening

    @classmethod
    def open(
        cls,
        url: str | None,
        rev: str | None = None,
        *,
        repo_type: type[Repo],
        remote: str | None = None,
        config: dict[str, Any] | None = None,
        remote_config: dict[str, str] | None = None,
    ) -> Source:
        """The repository at ``url`` (a local path or anything ``git clone``
        takes; None: the repository around the current directory) at
        ``rev`` (a branch, tag or commit; None: its HEAD, or for a clone the
        remote's default branch). ``repo_type`` is what it is opened as
        (:class:`bale.repo.Repo`; ``type(repo)`` in ``bale.ops``, which
        never import the facade they serve). ``remote`` names the source's
        remote its data comes from (default: its default remote). ``config``
        is merged over the source's config, then ``remote_config`` over the
        options of that remote (``remote``, else the default), as dvc's
        ``get --config --remote-config`` merge them."""
        if url is None:
            root = repo_type(None).root
            src = cls._open_local(str(root), root, rev, repo_type)
        elif os.path.exists(url):
            src = cls._open_local(url, Path(url).absolute(), rev, repo_type)
        else:
            src = cls._open_clone(url, rev, repo_type)
        src.default_remote = remote
        src.config, src.remote_config = config, remote_config
        return src

    @classmethod
    def _open_local(cls, url: str, path: Path, rev: str | None, repo_type: type[Repo]) -> Source:
        if not scm.is_git_repo(path):
            raise SourceError(f"{url}: not a git repository")
        root = Path(os.path.normpath(path))
        commit = cls._resolve_local(url, root, rev)
        debug(f"source {url}: {rev or 'HEAD'} is commit {commit}, read in place")
        return cls(url, rev, commit, root, True, repo_type)

    @staticmethod
    def _resolve_local(url: str, root: Path, rev: str | None) -> str:
        proc = _git(root, "rev-parse", "--verify", "--quiet", f"{rev or 'HEAD'}^{{commit}}")
        if proc.returncode != 0:
            if rev is None:
                raise SourceError(f"{url}: the git repository has no commits")
            raise SourceError(f"{url}: unknown git revision '{rev}'")
        return proc.stdout.decode().strip()

    @classmethod
    def _open_clone(cls, url: str, rev: str | None, repo_type: type[Repo]) -> Source:
        clone = _Clone.of(url)
        # A clone made just now has every branch and the default branch as a
        # fetch would (it still runs when the revision is not in the clone).
        commit = clone.resolve(rev) if clone.fresh or _is_sha(rev) else None
        if commit is None:
            debug(f"source {mask_url(url)}: fetching {clone.path} from it (git fetch)")
            clone.fetch()
            commit = clone.resolve(rev)
        if commit is None:
            if rev is None:
                raise SourceError(f"{mask_url(url)}: the git repository has no commits")
            raise SourceError(f"{mask_url(url)}: unknown git revision '{rev}'")
        where = clone.checkout(commit)
        debug(f"source {mask_url(url)}: {rev or 'its default branch'} is commit {commit} ({where})")
        return cls(url, rev, commit, where, False, repo_type)

    # The repository and its outputs

    @property
    def is_dvc(self) -> bool:
        """Whether the source is a bale or dvc repository (has ``.dvc/``)."""
        return (self.root / ".dvc").is_dir()

    @property
    def repo(self) -> Repo:
        """The source as a :class:`~bale.repo.Repo` (its config, its cache)."""
        if self._repo is None:
            if not self.is_dvc:
                raise NotARepositoryError(
                    f"{mask_url(self.url)}: not a bale or dvc repository "
                    f"(no .dvc/ at {self.rev_label})"
                )
            repo = self._repo_type(self.root)
            configure(repo, self.config, self.default_remote, self.remote_config, self.url)
            self._repo = repo
        return self._repo

    @property
    def rev_label(self) -> str:
        """How messages name the revision: as given, else the short commit."""
        return self.rev or self.commit[:7]

    def outputs(self) -> list[Tracked]:
        """The outputs tracked at :attr:`commit` (``.dvc`` files, then the
        stage outputs ``dvc.lock`` files record), paths under ``repo.root``."""
        if self._outputs is None:
            if not self.is_dvc:
                self._outputs = []
            else:
                from bale.index import collect_at

                self._outputs = collect_at(self.repo, self.commit, self.rev_label)
        return self._outputs

    def _abs(self, path: str) -> Path:
        rel = posixpath.normpath(path.replace(os.sep, "/")).lstrip("/")
        if rel == ".." or rel.startswith("../"):
            raise SourceError(f"{path}: outside the repository {mask_url(self.url)}")
        return self.root if rel == "." else self.root / rel

    def locate(self, path: str) -> tuple[Tracked, str | None] | None:
        """The output covering repository-relative ``path``, and the path
        inside it when it is a directory output (None for the output itself);
        None when no output covers it."""
        want = self._abs(path)
        for t in self.outputs():
            if t.path == want:
                return t, None
        for t in self.outputs():
            if want.is_relative_to(t.path):
                return t, want.relative_to(t.path).as_posix()
        return None

    def outputs_under(self, path: str) -> list[Tracked]:
        """The outputs at or below repository-relative ``path``."""
        want = self._abs(path)
        return [t for t in self.outputs() if t.path.is_relative_to(want)]

    # git

    def _git_prefix(self) -> str:
        sub = scm.subdir(self.root)
        return "" if sub == "." else sub + "/"

    def git_files(self, path: str = "") -> list[tuple[str, int]]:
        """The git-tracked files at or under repository-relative ``path`` at
        :attr:`commit`: ``(repository-relative posix path, size)``."""
        prefix = self._git_prefix()
        rel = (
            ""
            if self._abs(path or ".") == self.root
            else self._abs(path).relative_to(self.root).as_posix()
        )
        spec = prefix + rel
        args = ["ls-tree", "-r", "-l", "-z", "--full-tree", self.commit]
        if spec:
            args += ["--", spec]
        proc = _git(self.root, *args)
        if proc.returncode != 0:
            raise SourceError(
                f"{mask_url(self.url)}: git ls-tree {self.rev_label}: {_last_line(proc)}"
            )
        return [
            (name[len(prefix) :], size or 0)
            for name, _mode, size in scm.sized_blobs(proc.stdout)
            if not spec or name == spec or name.startswith(spec.rstrip("/") + "/")
        ]

    def git_dirs(self) -> dict[str, int]:
        """The directories git tracks at :attr:`commit` (repository-relative,
        under the repository's own directory), each with the size of its git
        tree object (what ``dvc ls`` reports for them)."""
        prefix = self._git_prefix()
        proc = _git(self.root, "ls-tree", "-r", "-t", "-z", "--full-tree", self.commit)
        if proc.returncode != 0:
            raise SourceError(
                f"{mask_url(self.url)}: git ls-tree {self.rev_label}: {_last_line(proc)}"
            )
        trees: dict[str, str] = {}
        for line in proc.stdout.decode("utf-8", errors="surrogateescape").split("\0"):
            meta, _tab, name = line.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "tree" and name.startswith(prefix):
                trees[name[len(prefix) :]] = parts[2]
        if not trees:
            return {}
        check = scm.git(
            self.root,
            "cat-file",
            "--batch-check",
            input="".join(o + "\n" for o in trees.values()).encode(),
        )
        sizes = [int(line.split()[2]) for line in check.stdout.decode().splitlines()]
        return dict(zip(trees, sizes, strict=True))

    def read_git(self, path: str) -> bytes:
        """The content of the git-tracked file at repository-relative ``path`` at :attr:`commit`."""
        rel = self._abs(path).relative_to(self.root).as_posix()
        data = scm.read_paths_at(self.root, [(self.commit, self._git_prefix() + rel)])
        got = data[(self.commit, self._git_prefix() + rel)]
        if got is None:
            raise OutputNotTrackedError(
                f"{path}: not a file git tracks in {mask_url(self.url)} at {self.rev_label}"
            )
        return got

    # Data

    def manifest(self, algo: str, oid: str) -> list[tuple[str, str, int, bool]]:
        """The files of the directory object ``oid``: ``(relative path, id,
        size, isexec)``, read from the source's cache when it is local and
        has the object, else fetched (the directory objects only, never the
        files' data) into bale's user cache (``$XDG_CACHE_HOME/bale/cache``),
        where objects are named by their hash and verified on arrival."""
        return self._trees(algo, oid).manifest(algo, oid)

    def empty_dirs(self, algo: str, oid: str) -> list[str]:
        """The empty directories the (blake3) directory object ``oid``
        records, read as :meth:`manifest` reads its files."""
        return self._trees(algo, oid).empty_dirs(algo, oid)

    def _trees(self, algo: str, oid: str) -> _core.Workspace:
        """A cache that holds the directory object ``oid`` whole (for
        blake3, every tree below it), fetched as :meth:`manifest` says."""
        readers = []
        if self.local and self.is_dvc and self.repo.cache_dir.is_dir():
            readers.append(_core.Workspace(str(self.root), str(self.repo.cache_dir)))
        mine = user_cache()
        readers.append(mine)
        for ws in readers:
            if ws.exists(algo, oid):
                try:
                    ws.manifest(algo, oid)
                    return ws
                except BaleError:  # a blake3 subtree missing
                    pass
        rem = self.remote()
        if algo == "blake3":
            fetch_trees(mine, rem, oid, mask_url(self.url))
            return mine
        _trees_from_dvc_remote(mine, rem, [(algo, oid)])
        if not mine.exists(algo, oid):
            raise ObjectMissingError(
                f"{mask_url(self.url)}: {oid} is not on the source's remote "
                f"'{rem.name}' ({mask_url(rem.url)})"
            )
        return mine

    def remote(self, name: str | None = None) -> Remote:
        """The source's default remote (or the one called ``name``, or
        :attr:`default_remote`), from its config."""
        from bale.remotes import resolve_remote

        name = name or self.default_remote
        try:
            return resolve_remote(self.repo, name)
        except RemoteConfigError as e:
            if name is None and not self.repo.config.core_remote():
                raise RemoteConfigError(
                    f"{mask_url(self.url)}: the source repository has no default remote "
                    f"at {self.rev_label}, and its data is not in a local cache"
                ) from None
            raise RemoteConfigError(f"{mask_url(self.url)}: {e}") from None

    def fetch(
        self,
        ws: _core.Workspace,
        roots: list[tuple[str, str]],
        jobs: int | None = None,
        remote: str | None = None,
    ) -> Moved:
        """Brings every object ``roots`` (``(algo, oid)`` of outputs) reach
        into ``ws``'s cache, verified: from the source's own cache when it is
        a local repository that has them, the rest from its default remote
        (or the one called ``remote``). Raises ObjectMissingError naming the
        source when some are on neither."""
        from bale.remotes.sync import Moved

        total = Moved()
        roots = list(dict.fromkeys(roots))
        if not roots:
            return total
        if self.local and self.is_dvc and self.repo.cache_dir.is_dir():
            _from_folder(ws, self.repo.cache_dir, roots, jobs, total)
            debug(
                f"{mask_url(self.url)}: {total.copied} object(s) copied from its cache "
                f"{self.repo.cache_dir}"
            )
        if lacking(ws, roots):
            total.missing = []
            rem = self.remote(remote)
            debug(
                f"{mask_url(self.url)}: the rest from its remote '{rem.name}' ({mask_url(rem.url)})"
            )
            md5 = [r for r in roots if r[0] != "blake3"]
            native = [r for r in roots if r[0] == "blake3"]
            still = []
            if md5:
                still += _from_dvc_remote(ws, rem, md5, jobs, total)
            if native:
                _from_packed_remote(ws, rem, native, jobs, total)
                still += lacking(ws, native)
            if still:
                first = still[0]
                raise ObjectMissingError(
                    f"{mask_url(self.url)}: {first} is not on the source's remote "
                    f"'{rem.name}' ({mask_url(rem.url)})"
                    + (" nor in its cache" if self.local else "")
                )
        return total


def configure(
    repo: Repo,
    config: dict[str, Any] | None,
    remote: str | None,
    remote_config: dict[str, str] | None,
    label: str,
) -> None:
    """Merges ``config`` over ``repo``'s, then ``remote_config`` over the
    options of remote ``remote`` (else the default), as dvc's ``Config.load``
    merges what ``--config`` and ``--remote-config`` give."""
    if config:
        repo.config.overlay(config)
    if remote_config:
        name = remote or repo.config.core_remote()
        if not name:
            raise RemoteConfigError(
                f"{mask_url(label)}: remote options were given, but the repository "
                "has no default remote: name one (--remote)"
            )
        repo.config.overlay({"remote": {name: remote_config}})


def load_config(path: str | Path) -> dict[str, Any]:
    """A config file given to merge over a source's (``--config``), read
    as dvc's ``Config.load_file`` reads it (a relative path from here)."""
    from bale.config.files import read_ini

    if not Path(path).is_file():
        raise ConfigError(f"{path}: no such config file")
    return read_ini(Path(path))


def _remotes_only(config: dict[str, Any], url: str) -> dict[str, Any]:
    """What an import's recorded config may set on its source: its remotes
    (``remote`` and ``core.remote``). dvc replaces the ``cache`` section
    with the importing repository's; bale keeps the source's own cache and
    state out of reach of a ``.dvc`` file too (a clone's file may come from
    anyone), and says what it leaves out."""
    kept: dict[str, Any] = {}
    for section, options in config.items():
        if section == "remote":
            kept["remote"] = options
        elif section == "core" and isinstance(options, Mapping) and "remote" in options:
            kept["core"] = {"remote": options["remote"]}
            dropped = [k for k in options if k != "remote"]
            if dropped:
                warn(f"import from {mask_url(url)}: core.{', core.'.join(dropped)} not applied")
        else:
            warn(f"import from {mask_url(url)}: config section '{section}' not applied")
    return kept


def open_recorded(
    root: Path, spec: Mapping[str, Any], rev: str | None, repo_type: type[Repo]
) -> Source:
    """The source an import's ``.dvc`` file records (its ``repo:``): the URL,
    and as dvc's ``RepoDependency`` reads them, ``remote`` (a remote's name,
    or options merged over the source's default remote) and ``config`` (a
    config, or a config file's path, from here as dvc reads it; its remotes
    only, see :func:`_remotes_only`)."""
    remote = spec.get("remote")
    config = spec.get("config")
    if isinstance(config, str):
        config = load_config(config)
    elif config is not None and not isinstance(config, Mapping):
        raise ConfigError(f"'config' of an import must be a mapping or a path, not {config!r}")
    if config:
        config = _remotes_only(dict(config), str(spec.get("url")))
    return Source.open(
        source_url(root, str(spec["url"])),
        rev,
        repo_type=repo_type,
        remote=remote if isinstance(remote, str) else None,
        config=dict(config) if config else None,
        remote_config=dict(remote) if isinstance(remote, Mapping) else None,
    )


def lacking(ws: _core.Workspace, roots: list[tuple[str, str]], repair: bool = True) -> list[str]:
    """The ids of the objects ``roots`` reach that ``ws``'s cache lacks
    (a tree it lacks stands for all it holds). With ``repair``, a corrupt
    md5 object counts as lacking and is moved aside (see ``sync_plan``):
    only for a cache of ours."""
    md5 = [r for r in roots if r[0] != "blake3"]
    found: list[str] = []
    if md5:
        files, dirs = ws.sync_plan(md5, repair=repair)
        found += [d.object.oid for d in dirs if d.object.size is None]
        found += [f.oid for f in files if f.size is None]
    for algo, oid in roots:
        if algo != "blake3":
            continue
        if not ws.exists(algo, oid):
            found.append(oid)
        elif _core.is_tree(oid):
            try:
                members = ws.manifest(algo, oid)
            except BaleError:  # a subtree it lacks
                found.append(oid)
                continue
            found += ws.absent(algo, [m for _p, m, _n, _x in members])
    return found


def _reach(src: _core.Workspace, algo: str, oid: str) -> list[tuple[str, str]]:
    """Every object ``oid`` reaches in the cache of ``src`` (itself, its
    subtrees and files); only itself when it is not there."""
    found = [(algo, oid)]
    if not _core.is_tree(oid) or not src.exists(algo, oid):
        return found
    try:
        members = src.manifest(algo, oid)
    except BaleError:
        return found
    found += [(algo, m) for _p, m, _n, _x in members]
    if algo == "blake3":
        dirs = {posixpath.dirname(p) for p, _m, _n, _x in members} - {""}
        parents = {d.rsplit("/", i)[0] for d in dirs for i in range(d.count("/") + 1)}
        for d in sorted(parents):
            sub = src.tree_entry(oid, d)
            if sub is not None:
                found.append((algo, sub))
    return found


def _from_folder(
    ws: _core.Workspace, cache: Path, roots: list[tuple[str, str]], jobs: int | None, total: Moved
) -> None:
    """Copies what ``roots`` reach from a local source's ``cache``, each
    object hashed on the way (the engine's transfer)."""
    from bale.progress import Bar
    from bale.remotes.sync import Moved

    # An engine on the source's cache only reads it (no stat cache saved).
    src = _core.Workspace(str(cache.parent), str(cache))
    pairs = list(dict.fromkeys(p for algo, oid in roots for p in _reach(src, algo, oid)))
    with Bar("Copying from the source's cache") as bar:
        t = ws.transfer(cache, pairs, False, bar.progress, bar.tick, jobs)
    total.add(Moved(t.copied, t.bytes, t.present, list(t.missing)))


def _from_dvc_remote(
    ws: _core.Workspace, rem: Remote, roots: list[tuple[str, str]], jobs: int | None, total: Moved
) -> list[str]:
    """Fetches what ``roots`` reach that ``ws`` lacks; the ids the remote
    does not hold. Taken from what the transfers report, not from another
    plan: for a 100,000-file directory that is a second pass over every
    object saved (an ``update`` of 10 files takes 20% less)."""
    from bale.progress import Bar
    from bale.remotes.movers import open_mover

    if rem.kind == "folder" and not (rem.path and rem.path.is_dir()):
        raise RemoteConfigError(f"remote '{rem.name}': {rem.path} is not a directory")
    moving = open_mover(ws, rem, jobs)
    try:
        files, dirs = ws.sync_plan(roots, repair=True)
        lacking = [d.object for d in dirs if d.object.size is None]
        if lacking:
            with Bar(f"Fetching from {rem.name}") as bar:
                total.add(moving.receive(lacking, bar))
            files, dirs = ws.sync_plan(roots, repair=True)
        # A directory object still lacking is one the remote does not have.
        still = [d.object.oid for d in dirs if d.object.size is None]
        wanted = [f for f in files if f.size is None]
        with Bar(f"Fetching from {rem.name}") as bar:
            moved = moving.receive(wanted, bar)
        total.add(moved)
        absent = set(moved.missing)
        return still + [f.oid for f in wanted if f.key in absent]
    finally:
        moving.close()


def _from_packed_remote(
    ws: _core.Workspace, rem: Remote, roots: list[tuple[str, str]], jobs: int | None, total: Moved
) -> None:
    from bale.progress import Bar
    from bale.remotes import packed
    from bale.remotes.sync import Session, store_jobs

    n = store_jobs(rem, jobs, per_core=4)
    # The index copies of a source's remote are kept with bale's clones,
    # never written into the source repository.
    paths = packed.PackedPaths.for_remote(cache_home() / "remotes", rem)
    with Session(rem, n) as s, Bar(f"Fetching from {rem.name}") as bar:
        targets: list[tuple[str, str | None]] = [(oid, None) for _algo, oid in roots]
        total.add(s.run(packed.fetch(s.store, ws, targets, paths, n, bar)))


#: The largest file copied out of a folder remote's pack in one read (held
#: in memory on the way); files a pack holds whole are small (large ones are
#: chunked), so this is a bound, not a setting.
WHOLE_LIMIT = 64 << 20


def pack_indexes(rem: Remote) -> _core.RemoteIndexes:
    """The pack indexes of ``rem`` (where its blake3 objects are), from the
    copies kept with bale's clones, made to match the remote first."""
    from bale.remotes import packed
    from bale.remotes.sync import Session, store_jobs

    n = store_jobs(rem, None, per_core=4)
    paths = packed.PackedPaths.for_remote(cache_home() / "remotes", rem)
    with Session(rem, n) as s:
        s.run(packed.refresh_indexes(s.store, paths, n))
    return _core.RemoteIndexes(paths.indexes)


def user_cache() -> _core.Workspace:
    """An engine on bale's user cache (``$XDG_CACHE_HOME/bale/cache``): the
    directory objects of sources listed without a cache of their own."""
    root = cache_home() / "ws"
    root.mkdir(parents=True, exist_ok=True)
    return _core.Workspace(str(root), str(cache_home() / "cache"))


def _trees_from_dvc_remote(ws: _core.Workspace, rem: Remote, roots: list[tuple[str, str]]) -> None:
    from bale.progress import Bar
    from bale.remotes.movers import open_mover

    _, dirs = ws.sync_plan(roots, repair=True)
    lacking = [d.object for d in dirs if d.object.size is None]
    if not lacking:
        return
    moving = open_mover(ws, rem, None)
    try:
        with Bar(f"Fetching from {rem.name}") as bar:
            moving.receive(lacking, bar)
    finally:
        moving.close()


def fetch_trees(
    ws: _core.Workspace,
    rem: Remote,
    oid: str,
    label: str,
    along: str | None = None,
    jobs: int | None = None,
) -> None:
    """Fetches the blake3 tree ``oid`` and the trees below it into ``ws``,
    a level at a time (a tree's subtrees are known only once it is read),
    from the packs that hold them: no file data. With ``along`` (a path
    under it), only the trees on the way there. ``label`` names the
    repository in errors."""
    from bale.progress import Bar
    from bale.remotes import packed
    from bale.remotes.sync import Session, store_jobs

    n = store_jobs(rem, jobs, per_core=4)
    paths = packed.PackedPaths.for_remote(cache_home() / "remotes", rem)
    names = along.split("/") if along is not None else None
    with Session(rem, n) as s, Bar(f"Fetching from {rem.name}") as bar:
        s.run(packed.refresh_indexes(s.store, paths, n))
        level, depth = [oid], 0
        while level:
            lacking = [("blake3", t) for t in level if not ws.exists("blake3", t)]
            if lacking:
                moved = s.run(packed.fetch_shallow(s.store, ws, lacking, paths, n, bar))
                if moved.missing:
                    raise ObjectMissingError(
                        f"{label}: the tree {moved.missing[0]} is not on its remote "
                        f"'{rem.name}' ({mask_url(rem.url)})"
                    )
            subs = [sub for t in level for sub in ws.subtrees(t)]
            if names is not None:
                if depth >= len(names) - 1:
                    break
                subs = [(t, name) for t, name in subs if name == names[depth]]
            level, depth = [t for t, _name in subs], depth + 1
