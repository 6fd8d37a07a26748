"""The run cache: outputs of runs seen before, found by what went in.

Laid out as dvc's (``dvc/stage/cache.py``), so dvc and bale share entries:
``<cache>/runs/<key[:2]>/<key>/<value>``, where the file holds the stage's
lock entry as YAML, ``value`` is the sha256 of that entry as sorted JSON
without ``size``/``nfiles`` keys (at any depth, as dvc filters them), and
``key`` the same with ``outs`` reduced to their paths.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale.exceptions import BaleError
from bale.metafiles import yaml12
from bale.metafiles._fs import atomic_write
from bale.pipeline.lockfile import check_entry
from bale.pipeline.stage import Stage

if TYPE_CHECKING:
    from bale.metafiles.memo import ParseMemo


def _filtered(d: Any) -> Any:
    if isinstance(d, list):
        return [_filtered(e) for e in d]
    if isinstance(d, dict):
        return {k: _filtered(v) for k, v in d.items() if k not in ("size", "nfiles")}
    return d


def _sha256(d: Any) -> str:
    return hashlib.sha256(json.dumps(_filtered(d), sort_keys=True).encode("utf-8")).hexdigest()


def value_of(entry: dict[str, Any]) -> str:
    return _sha256(entry)


def key_of(entry: dict[str, Any]) -> str:
    keyed = copy.copy(entry)
    keyed["outs"] = [o["path"] for o in entry.get("outs") or []]
    return _sha256(keyed)


def cacheable(stage: Stage) -> bool:
    """dvc's ``_can_hash``: a command, something read (files or params),
    something written, nothing persisted, nothing always changed, every
    output inside the repository's workspace."""
    if stage.always_changed or not stage.cmd or not stage.outs:
        return False
    if not (stage.deps or stage.params):
        return False
    return not any(o.persist or "://" in o.path for o in stage.outs)


def loads_entry(text: str, name: str, memo: ParseMemo | None = None) -> dict[str, Any] | None:
    """A run-cache file's text as its lock entry; None unless it is a valid
    one. ``memo`` (the repository's parse memo) remembers the parse."""
    try:
        entry = yaml12.parse(text, name, memo)
        check_entry(entry, name, "entry")
    except BaleError:
        return None
    return entry  # type: ignore[no-any-return]


def _name(key: str, value: str) -> str:
    return f"{key[:2]}/{key}/{value}"


def is_entry_named(name: str, data: bytes) -> bool:
    """Whether ``data`` is a valid entry whose own key and value give ``name``
    (``<key[:2]>/<key>/<value>`` below ``runs``): entries are named by their
    content, so one from elsewhere (a remote) is trusted only then."""
    try:
        entry = loads_entry(data.decode("utf-8"), name)
    except UnicodeDecodeError:
        return False
    return entry is not None and _name(key_of(entry), value_of(entry)) == name


def entry_files(runs: Path) -> list[Path]:
    """Every entry file under a ``runs`` directory (not the temp files of a
    write in progress)."""
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.glob("*/*/*") if p.is_file() and not p.name.startswith("."))


class RunCache:
    def __init__(self, cache_dir: Path, memo: ParseMemo | None = None) -> None:
        self.dir = cache_dir / "runs"
        self.memo = memo

    def path(self, key: str, value: str) -> Path:
        return self.dir / _name(key, value)

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The newest entry recorded for ``key``, if any is readable; a
        corrupt one is skipped (dvc deletes it; we leave it to dvc)."""
        d = self.dir / key[:2] / key
        try:
            names = sorted(os.scandir(d), key=lambda e: e.stat().st_mtime, reverse=True)
        except FileNotFoundError:
            return None
        for e in names:
            if e.name.startswith("."):
                continue
            try:
                entry = loads_entry(Path(e.path).read_text(encoding="utf-8"), e.path, self.memo)
            except (OSError, UnicodeDecodeError):
                continue
            if entry is not None:
                return entry
        return None

    def save(self, entry: dict[str, Any]) -> bool:
        """Records ``entry``; False when it was already there."""
        path = self.path(key_of(entry), value_of(entry))
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, yaml12.dumps(entry).encode("utf-8"))
        return True
