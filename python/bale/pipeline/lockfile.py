"""``dvc.lock``: what each stage's last successful run read and wrote.

Written as ``dvc/dvcfile.py: Lockfile.dump_stages`` writes it: the existing
text is parsed in round-trip mode, the stage's entry replaced whole, and the
result dumped by ruamel, so the bytes match dvc's for the same run and a
hand edit elsewhere in the file survives.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale.exceptions import MetafileError
from bale.metafiles import yaml12
from bale.metafiles._fs import atomic_write

if TYPE_CHECKING:
    from bale.metafiles.memo import ParseMemo

SCHEMA_VERSION = "2.0"
# dvc/schema.py DATA_SCHEMA: checksums, meta, path, cloud, files, hash, dataset
_ITEM_KEYS = frozenset(
    {"path", "hash", "md5", "etag", "checksum", "size", "nfiles", "isexec", "version_id"}
    | {"cloud", "files", "dataset"}
)
_ENTRY_KEYS = frozenset({"cmd", "deps", "params", "outs"})


def _check(data: Any, name: str) -> dict[str, dict[str, Any]]:
    if not isinstance(data, dict):
        raise MetafileError(f"{name}: expected a mapping at the top level")
    for key in data:
        if key not in ("schema", "stages", "datasets"):
            raise MetafileError(f"{name}: unknown key {key!r}")
    if data.get("schema") != SCHEMA_VERSION:
        raise MetafileError(f"{name}: invalid schema version (expected schema: '2.0')")
    stages = data.get("stages") or {}
    if not isinstance(stages, dict):
        raise MetafileError(f"{name}: 'stages' must be a mapping")
    for stage, entry in stages.items():
        check_entry(entry, name, f"stages.{stage}")
    return stages


def check_entry(entry: Any, name: str, where: str) -> None:
    """Checks one stage entry against ``LOCK_FILE_STAGE_SCHEMA``."""
    if not isinstance(entry, dict):
        raise MetafileError(f"{name}: {where}: must be a mapping")
    for key in entry:
        if key not in _ENTRY_KEYS:
            raise MetafileError(f"{name}: {where}: unknown key {key!r}")
    if "cmd" not in entry:
        raise MetafileError(f"{name}: {where}: has no 'cmd'")
    for key in ("deps", "outs"):
        items = entry.get(key) or []
        if not isinstance(items, list):
            raise MetafileError(f"{name}: {where}.{key}: must be a list")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise MetafileError(f"{name}: {where}.{key}[{i}]: must have a 'path'")
            for k in item:
                if k not in _ITEM_KEYS:
                    raise MetafileError(f"{name}: {where}.{key}[{i}]: unknown key {k!r}")
    params = entry.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise MetafileError(f"{name}: {where}.params: must map files to their values")


def loads_lock(text: str, name: str, memo: ParseMemo | None = None) -> dict[str, dict[str, Any]]:
    """The stage entries of a ``dvc.lock`` text, checked against dvc's schema;
    ``memo`` (the repository's parse memo) remembers the parse."""
    if not text.strip():
        return {}
    return _check(yaml12.parse(text, name, memo) or {}, name)


def load_lock(path: Path, name: str, memo: ParseMemo | None = None) -> dict[str, dict[str, Any]]:
    """The stage entries of the ``dvc.lock`` at ``path``; none if it is missing."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise MetafileError(f"{name}: is not valid utf-8") from None
    return loads_lock(text, name, memo)


def algo_of(item: Mapping[str, Any] | None) -> str:
    """The engine's algorithm for a lock item: an item without ``hash:`` was
    written by dvc 2.x, hashed with dos2unix md5."""
    return "md5" if item is None or item.get("hash") == "md5" else "md5-dos2unix"


def item(path: str, oid: str, size: int | None, nfiles: int | None, isexec: bool) -> dict[str, Any]:
    """A dep or out of a lock entry, keys in ``to_single_stage_lockfile`` order."""
    ret: dict[str, Any] = {"path": path, "hash": "md5", "md5": oid}
    if size is not None:
        ret["size"] = size
    if nfiles is not None:
        ret["nfiles"] = nfiles
    if isexec:
        ret["isexec"] = True
    return ret


def entry(
    cmd: str | list[str],
    deps: list[dict[str, Any]],
    params: Mapping[str, Mapping[str, Any]],
    outs: list[dict[str, Any]],
) -> dict[str, Any]:
    """A stage's lock entry: cmd, deps, params, outs (empty ones left out),
    deps and outs sorted by path, ``params.yaml`` first, keys sorted."""
    from bale.pipeline.stage import DEFAULT_PARAMS_FILE

    ret: dict[str, Any] = {"cmd": cmd}
    if deps:
        ret["deps"] = sorted(deps, key=lambda d: d["path"])
    files = sorted(params, key=lambda f: (f != DEFAULT_PARAMS_FILE, f))
    values = {f: {k: params[f][k] for k in sorted(params[f])} for f in files}
    if values:
        ret["params"] = values
    if outs:
        ret["outs"] = sorted(outs, key=lambda o: o["path"])
    return ret


def dumps_lock(text: str | None, updates: Mapping[str, dict[str, Any]]) -> str:
    """``text`` (an existing ``dvc.lock``, or None) with the entries of
    ``updates`` replaced or added."""
    data = yaml12.load_roundtrip(text)
    if not data:
        data = {"schema": SCHEMA_VERSION}
    data["stages"] = data.get("stages", {})
    data["stages"].update(updates)
    return yaml12.dumps(data)


def dump_lock(path: Path, updates: Mapping[str, dict[str, Any]]) -> bool:
    """Records ``updates`` in the ``dvc.lock`` at ``path`` atomically; False
    when nothing changed (the file is then left untouched)."""
    try:
        text: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = None
    new = dumps_lock(text, updates)
    if new == text:
        return False
    atomic_write(path, new.encode("utf-8"))
    return True
