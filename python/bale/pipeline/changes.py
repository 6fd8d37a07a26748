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

from bale.exceptions import MetafileError
from bale.pipeline.lockfile import algo_of
from bale.pipeline.stage import Stage

if TYPE_CHECKING:
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
            item = deps.get(dep)
            now = hasher.hash(stage.abspath(dep), algo_of(item))
            state = _state(now, item)
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
        item = outs.get(so.path)
        path = stage.abspath(so.path)
        if item is not None and so.cache and item.get("md5"):
            # one engine call answers both: is it cached, and what is there now
            st = hasher.repo.workspace.status(str(path), algo_of(item), item["md5"])
            if not st.in_cache or st.not_in_cache:
                ch.outs[_shown(path)] = "not in cache"
            elif st.oid is None:
                ch.outs[_shown(path)] = "deleted"
            elif st.oid != item["md5"] or st.added or st.deleted or st.modified:
                ch.outs[_shown(path)] = "modified"
            continue
        state = _state(hasher.hash(path, algo_of(item)), item)
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
