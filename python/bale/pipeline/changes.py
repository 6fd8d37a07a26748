"""What changed in a stage since ``dvc.lock`` recorded it: dvc's stage status.

Deps and outs are hashed by the engine (md5, with the stat cache), each path
once per command however many stages name it, so a 100k-file directory
shared by fifty stages is walked once.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import scm
from bale.console import debug
from bale.exceptions import MetafileError
from bale.pipeline.lockfile import algo_of
from bale.pipeline.stage import Stage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bale.index import Tracked
    from bale.repo import Repo


@dataclass(frozen=True)
class Hashed:
    oid: str
    size: int
    nfiles: int | None
    isexec: bool


class Hasher:
    """md5 (or dvc 2.x's dos2unix md5) of workspace paths, memoised for one
    command; ``forget`` after a stage rewrites them."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._memo: dict[tuple[Path, str], Hashed | None] = {}
        self._params: dict[Path, Any] = {}
        self._lock = threading.Lock()  # repro -j shares one Hasher

    def hash(self, path: Path, algo: str = "md5") -> Hashed | None:
        key = (path, algo)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        found = None
        if path.exists() or path.is_symlink():
            from bale.progress import Bar

            with Bar(f"Hashing {os.path.relpath(path)}") as bar:
                b = self.repo.workspace.build(str(path), algo, False, False, bar.progress, bar.tick)
            found = Hashed(b.oid, b.size, b.nfiles, b.isexec)
        with self._lock:
            self._memo[key] = found
        return found

    def seed(self, path: Path, algo: str, hashed: Hashed) -> None:
        """Records a hash computed elsewhere this command (a ``.dvc``
        output's status walks the same directory a stage depends on)."""
        with self._lock:
            self._memo[(path, algo)] = hashed

    def params_file(self, path: Path, name: str) -> Any:
        """A params file, parsed once per command however many stages read it."""
        from bale.pipeline.params import load_file

        with self._lock:
            if path in self._params:
                return self._params[path]
        data = load_file(path, name, memo=self.repo.memo)
        with self._lock:
            self._params[path] = data
        return data

    def forget(self, paths: list[Path]) -> None:
        with self._lock:
            for key in [k for k in self._memo if k[0] in paths]:
                del self._memo[key]
            for p in paths:
                self._params.pop(p, None)

    def dep_state(self, path: Path, item: dict[str, Any] | None) -> str | None:
        """A dependency's state against ``item``, its lock entry, in dvc's
        words (``modified``, ``deleted``); None when it matches."""
        return _state(self.hash(path, algo_of(item)), item)

    def out_state(self, path: Path, cache: bool, item: dict[str, Any] | None) -> str | None:
        """An output's state against ``item``, its lock entry (None if the
        lock has none), in dvc's words; None when it matches."""
        if item is not None and cache and item.get("md5"):
            # one engine call answers both: is it cached, and what is there now
            st = self.repo.workspace.status(str(path), algo_of(item), item["md5"])
            if not st.in_cache or st.not_in_cache:
                return "not in cache"
            if st.oid is None:
                return "deleted"
            if st.oid != item["md5"] or st.added or st.deleted or st.modified:
                return "modified"
            return None
        return _state(self.hash(path, algo_of(item)), item)


class _Unknown(Exception):
    """What a commit records cannot tell a dependency's hash (and why)."""


class CommitHasher(Hasher):
    """A :class:`Hasher` that reads git revision ``commit`` instead of the
    workspace, so that :func:`stage_changes` says whether the commit's
    ``dvc.lock`` entries are consistent there: a path's hash is what the
    commit records for it (``recorded``: the lock entries of the stages that
    produce outputs, the ``.dvc`` files), else that of its content in git at
    ``commit``; params files are read from git there; an output is as its
    lock entry records it (what matters is that the entry exists). Nothing
    in the workspace is read or hashed. ``label`` names the revision in
    messages."""

    def __init__(self, repo: Repo, commit: str, label: str, recorded: Sequence[Tracked]) -> None:
        super().__init__(repo)
        self.commit = commit
        self.label = label
        self._recorded = {t.path: t for t in recorded}
        self._top = scm.toplevel(repo.root)
        self._listing = dict(scm.files_under(repo.root, commit))

    def hash(self, path: Path, algo: str = "md5") -> Hashed | None:
        key = (path, algo)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        t = self._recorded.get(path)
        if t is None or not t.out.oid:
            found = self._from_git(path, algo)
        elif t.algo == algo:
            found = Hashed(t.out.oid, t.out.size or 0, t.out.nfiles, t.out.isexec)
        else:
            # recorded by another algorithm (a blake3 .dvc output that a
            # stage's lock records by md5): hashed again, from the cache
            found = self._from_cache(t, algo)
        with self._lock:
            self._memo[key] = found
        return found

    def _from_cache(self, t: Tracked, algo: str) -> Hashed:
        """``t``'s data hashed by ``algo``: checked out of the cache into a
        temporary directory (reflinked where the file system can) and read
        whole, as the workspace hasher would read the workspace copy."""
        import tempfile

        from bale.staging import COPY_TYPES

        ws = self.repo.workspace
        assert t.out.oid is not None
        if not ws.exists(t.algo, t.out.oid):
            raise _Unknown(f"its data ({t.out.oid[:12]}) is not in the cache")
        with tempfile.TemporaryDirectory(prefix="bale-rev-") as tmp:
            dest = Path(tmp) / t.path.name
            got = ws.checkout(str(dest), t.algo, t.out.oid, t.out.isexec, COPY_TYPES)
            if got.missing:
                raise _Unknown(f"{len(got.missing)} of its files are not in the cache")
            b = ws.build(str(dest), algo, False, False)
            return Hashed(b.oid, b.size, b.nfiles, b.isexec)

    def _from_git(self, path: Path, algo: str) -> Hashed | None:
        """The hash of ``path`` as git holds it at the commit (a file, or a
        directory of files), or None when git has nothing there. Its files
        are written to a temporary directory and hashed by the engine, so
        that the hash is the workspace hasher's for the same bytes."""
        import tempfile

        if not path.is_relative_to(self._top):
            return None
        rel = path.relative_to(self._top).as_posix()
        names = {n: b for n, b in self._listing.items() if n == rel or n.startswith(rel + "/")}
        if not names:
            return None
        blobs = scm.read_blobs(self.repo.root, list(names.values()))
        with tempfile.TemporaryDirectory(prefix="bale-rev-") as tmp:
            dest = Path(tmp) / "x"
            for n, blob in names.items():
                where = dest if n == rel else dest / n[len(rel) + 1 :]
                where.parent.mkdir(parents=True, exist_ok=True)
                where.write_bytes(blobs[blob])
            b = self.repo.workspace.build(str(dest), algo, False, False)
            return Hashed(b.oid, b.size, b.nfiles, b.isexec)

    def params_file(self, path: Path, name: str) -> Any:
        from bale.pipeline.params import loads_bytes

        with self._lock:
            if path in self._params:
                return self._params[path]
        rel = path.relative_to(self._top).as_posix() if path.is_relative_to(self._top) else None
        blob = self._listing.get(rel) if rel is not None else None
        if blob is None:
            raise FileNotFoundError(name)
        data = loads_bytes(scm.read_blobs(self.repo.root, [blob])[blob], f"{self.label}:{name}")
        with self._lock:
            self._params[path] = data
        return data

    def dep_state(self, path: Path, item: dict[str, Any] | None) -> str | None:
        # A dependency inside a recorded directory, or one that holds
        # recorded outputs, has no record of its own at the commit: a file
        # in a directory output is looked up in its manifest if the cache
        # holds it; what cannot be told is taken as recorded (and said).
        inside = next((t for p, t in self._recorded.items() if path.is_relative_to(p)), None)
        try:
            if inside is not None and inside.path != path and inside.out.oid:
                return self._inside_state(inside, path, item)
            if any(p.is_relative_to(path) and p != path for p in self._recorded):
                raise _Unknown("it holds outputs recorded elsewhere")
            return super().dep_state(path, item)
        except _Unknown as e:
            debug(f"{path}: taken as its lock records it at {self.label}: {e}")
            return None

    def _inside_state(self, out: Tracked, path: Path, item: dict[str, Any] | None) -> str | None:
        """The state of a file inside the recorded directory ``out``, from
        its manifest in the cache."""
        assert out.out.oid is not None
        if out.algo != algo_of(item):
            raise _Unknown(f"{out.path.name} is recorded by {out.algo}, the dependency otherwise")
        if not self.repo.workspace.exists(out.algo, out.out.oid):
            raise _Unknown(f"the listing of {out.path.name} is not in the cache")
        sub = path.relative_to(out.path).as_posix()
        entry, is_dir = self.repo.workspace.manifest_lookup(out.algo, out.out.oid, sub)
        if is_dir:
            raise _Unknown(f"a directory inside {out.path.name}")
        if entry is None:
            return "deleted"
        return None if (item or {}).get("md5") == entry[1] else "modified"

    def out_state(self, path: Path, cache: bool, item: dict[str, Any] | None) -> str | None:
        return None if item and item.get("md5") else "modified"


@dataclass
class StageChanges:
    """dvc's words for a stage's state; empty when it is up to date."""

    deps: dict[str, Any] = field(
        default_factory=dict
    )  # path -> state, or params file -> {key: state}
    outs: dict[str, str] = field(default_factory=dict)
    always_changed: bool = False
    cmd_changed: bool = False
    frozen: bool = False

    @property
    def changed(self) -> bool:
        """Whether ``status`` reports the stage."""
        return bool(self.deps or self.outs or self.always_changed or self.cmd_changed)

    @property
    def needs_run(self) -> bool:
        """Whether ``repro`` runs it: as ``changed``, except that a frozen
        stage's ``always_changed`` does not count (dvc checks frozen first)."""
        return bool(
            self.deps or self.outs or self.cmd_changed or (self.always_changed and not self.frozen)
        )

    def to_dvc(self) -> list[Any]:
        """The list ``dvc status --json`` prints for the stage."""
        ret: list[Any] = []
        if self.deps:
            ret.append({"changed deps": self.deps})
        if self.outs:
            ret.append({"changed outs": self.outs})
        if self.always_changed:
            ret.append("always changed")
        if self.cmd_changed:
            ret.append("changed command")
        return ret


def _shown(path: Path) -> str:
    """How dvc prints a path in status: relative to the current directory."""
    return os.path.relpath(path)


def dep_shown(written: str, path: Path, repo_root: Path) -> str:
    """How dvc prints a dependency (``Output.__str__``): an absolute path as
    written, one outside the repository absolute, else from the current
    directory."""
    if os.path.isabs(written):
        return written
    if not path.is_relative_to(repo_root):
        return str(path)
    return _shown(path)


def dep_state(now: Hashed | None, recorded: dict[str, Any] | None) -> str | None:
    """A dependency's state in dvc's words (``modified``, ``deleted``), or
    None when ``now`` is what ``recorded`` (its lock or ``.dvc`` entry) says."""
    return _state(now, recorded)


def params_values(
    stage: Stage, repo_root: Path, hasher: Hasher
) -> dict[str, dict[str, Any] | None]:
    """The current values of the stage's params, per file as written (dvc's
    ``read_params``: the tracked keys, or the whole file); None for a file
    that does not exist."""
    from bale.pipeline.params import read_params

    out: dict[str, dict[str, Any] | None] = {}
    for p in stage.params:
        path = stage.abspath(p.path)
        name = (
            path.relative_to(repo_root).as_posix() if path.is_relative_to(repo_root) else str(path)
        )
        try:
            data = hasher.params_file(path, name)
        except FileNotFoundError:
            out[p.path] = None
            continue
        except IsADirectoryError:
            raise MetafileError(f"{name}: is a directory, expected a parameters file") from None
        values = read_params(data, list(p.keys) or None)
        out[p.path] = dict(values) if isinstance(values, dict) else {}
    return out


def stage_changes(
    stage: Stage, entry: dict[str, Any] | None, hasher: Hasher, repo_root: Path
) -> StageChanges:
    """Compares the workspace with ``entry`` (the stage's lock entry) as
    ``dvc/stage: Stage.status`` does."""
    from bale.pipeline.params import changed as params_changed

    ch = StageChanges()
    entry = entry or {}
    if not stage.frozen:
        deps = {d.get("path"): d for d in entry.get("deps") or []}
        for dep in stage.deps:
            state = hasher.dep_state(stage.abspath(dep), deps.get(dep))
            if state:
                ch.deps[_shown(stage.abspath(dep))] = state
        recorded_params = entry.get("params") or {}
        values = params_values(stage, repo_root, hasher)
        for p in stage.params:
            shown = _shown(stage.abspath(p.path))
            actual = values[p.path]
            if actual is None:
                ch.deps[shown] = "deleted"
            elif p.path not in recorded_params:
                ch.deps[shown] = "new"
            else:
                diff = params_changed(recorded_params[p.path], actual, list(p.keys) or None)
                if diff:
                    ch.deps[shown] = diff
    outs = {o.get("path"): o for o in entry.get("outs") or []}
    for so in stage.outs:
        path = stage.abspath(so.path)
        state = hasher.out_state(path, so.cache, outs.get(so.path))
        if state:
            ch.outs[_shown(path)] = state
    # dvc's "callback" stage: a command that reads and writes nothing
    # tracked must always run.
    ch.always_changed = stage.always_changed or not (stage.deps or stage.params or stage.outs)
    ch.cmd_changed = bool(entry) and entry.get("cmd") != stage.cmd
    ch.frozen = stage.frozen
    return ch


def _state(now: Hashed | None, item: dict[str, Any] | None) -> str | None:
    if now is None:
        return "deleted"
    recorded = item.get("md5") if item else None
    if recorded is None or recorded != now.oid:
        return "modified"
    return None
