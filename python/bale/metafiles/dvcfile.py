"""Reading and writing single-stage ``.dvc`` files, byte-compatible with DVC 3.x.

Loading is :mod:`bale.metafiles.yaml12` (YAML 1.2, as dvc reads it); validation mirrors
``dvc.schema.SINGLE_STAGE_SCHEMA`` and ``dvc.output.SCHEMA``. Updating an existing
file re-parses its text with ruamel.yaml in round-trip mode and applies a diff,
exactly like ``dvc/stage/serialize.py: to_single_stage_file``, so comments, flow
style and hand-written keys survive.
"""

from __future__ import annotations

import copy
import hashlib
import json
import posixpath
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import _core
from bale.exceptions import InvalidOidError, MetafileError
from bale.metafiles import yaml12
from bale.metafiles._fs import atomic_write

if TYPE_CHECKING:
    from bale.metafiles.memo import ParseMemo

__all__ = [
    "DvcFile",
    "Out",
    "dump_dvcfile",
    "dumps_dvcfile",
    "dvcfile_path_for",
    "load_dvcfile",
    "loads_dvcfile",
    "stage_md5",
]

DVCFILE_SUFFIX = ".dvc"
NATIVE_META_KEY = "bale"
NATIVE_HASH = "blake3"

# dvc/schema.py SINGLE_STAGE_SCHEMA
_TOP_KEYS = frozenset(
    {"md5", "wdir", "deps", "outs", "locked", "frozen", "meta", "always_changed", "desc"}
)
# dvc/output.py SCHEMA (ARTIFACT_SCHEMA + ANNOTATION_SCHEMA + output-only keys)
_OUT_KEYS = frozenset(
    {
        "path",
        "md5",
        "etag",
        "checksum",
        "hash",
        "size",
        "nfiles",
        "isexec",
        "version_id",
        "files",
        "cloud",
        "cache",
        "push",
        "remote",
        "persist",
        "desc",
        "type",
        "labels",
        "meta",
        "fs_config",
    }
)
# Describe one particular version of the content: only kept while the oid is unchanged.
_VERSION_KEYS = ("etag", "checksum", "version_id", "files", "cloud")
_CHECKSUM_KEYS = ("md5", "etag", "checksum")
_BOOL_KEYS = ("isexec", "cache", "push", "persist")
_STR_KEYS = ("path", "hash", "version_id", "remote", "desc", "type")
_INT_KEYS = ("size", "nfiles")


@dataclass
class Out:
    """One entry of a ``.dvc`` file's ``outs`` list."""

    path: str
    hash_name: str | None
    oid: str | None
    size: int | None = None
    nfiles: int | None = None
    isexec: bool = False
    cache: bool = True
    push: bool = True
    remote: str | None = None

    @property
    def algo(self) -> str:
        """The engine's name for this output's hash: outputs without a
        ``hash:`` key are DVC 2.x ones, hashed with ``md5-dos2unix``."""
        return self.hash_name or "md5-dos2unix"

    @property
    def is_dir(self) -> bool:
        """True when the output is a directory (``.dir``/``.tree`` oid or ``nfiles`` set)."""
        if self.oid is not None and _core.is_tree(self.oid):
            return True
        return self.nfiles is not None


@dataclass
class DvcFile:
    """A loaded ``.dvc`` file."""

    path: Path
    outs: list[Out]
    deps: list[dict[str, Any]]
    data: dict[str, Any]
    text: str = field(default="", repr=False)

    @property
    def is_import(self) -> bool:
        """True for files written by ``dvc import``/``import-url``: one
        dependency (the source) and one output, as dvc's ``Stage.is_import``."""
        return len(self.deps) == 1 and len(self.outs) == 1

    @property
    def is_repo_import(self) -> bool:
        """True for ``dvc import`` (from a repository), False for ``import-url``."""
        return self.is_import and isinstance(self.deps[0].get("repo"), Mapping)

    @property
    def import_source(self) -> str:
        """Where an import's data comes from, for messages: the repository
        and the path in it, or the URL."""
        dep = self.deps[0]
        if self.is_repo_import:
            repo = dep["repo"]
            rev = repo.get("rev_lock") or repo.get("rev")
            at = f" at {str(rev)[:7]}" if rev else ""
            return f"{dep['path']} in {repo.get('url')}{at}"
        return str(dep["path"])

    @property
    def checksum_changed(self) -> bool:
        """For an import: its ``md5:`` is not the checksum of what it records
        (``dvc add`` of the imported path leaves it so; ``dvc status`` then
        says "changed checksum")."""
        return self.is_import and self.data.get("md5") != stage_md5(_state(self.outs, self.data))


def dvcfile_path_for(target: Path) -> Path:
    """Return the ``.dvc`` file that tracks ``target`` (``target`` + ``.dvc``)."""
    target = Path(target)
    return target.with_name(target.name + DVCFILE_SUFFIX)


# ---------------------------------------------------------------------------
# loading


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _checksum(value: Any, where: str, name: str, lower: bool) -> str | None:
    # dvc's CHECKSUM_SCHEMA: empty string means None, ints are coerced, min length 3
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise MetafileError(f"{name}: {where} must be a string, not {_type_name(value)}")
    if len(value) < 3:
        raise MetafileError(f"{name}: {where} is too short: {value!r}")
    return value.lower() if lower else value


def _check_out(raw: Any, where: str, name: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise MetafileError(f"{name}: {where} must be a mapping")
    for key in raw:
        if key not in _OUT_KEYS:
            raise MetafileError(f"{name}: unknown key {key!r} in {where}")
    if "path" not in raw:
        raise MetafileError(f"{name}: missing required key 'path' in {where}")
    d: dict[str, Any] = dict(raw)
    for key in _CHECKSUM_KEYS:
        if key in d:
            d[key] = _checksum(d[key], f"'{key}' in {where}", name, lower=key != "etag")
    for key in _STR_KEYS:
        if key in d and not isinstance(d[key], str):
            raise MetafileError(f"{name}: '{key}' in {where} must be a string")
    for key in _INT_KEYS:
        if key in d and (not isinstance(d[key], int) or isinstance(d[key], bool)):
            raise MetafileError(f"{name}: '{key}' in {where} must be an integer")
    for key in _BOOL_KEYS:
        if key in d and not isinstance(d[key], bool):
            raise MetafileError(f"{name}: '{key}' in {where} must be true or false")
    labels = d.get("labels")
    if "labels" in d and not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        raise MetafileError(f"{name}: 'labels' in {where} must be a list of strings")
    if "files" in d and not (
        isinstance(d["files"], list)
        and all(isinstance(f, dict) and "relpath" in f for f in d["files"])
    ):
        raise MetafileError(f"{name}: 'files' in {where} must be a list of entries with relpath")
    if "cloud" in d and not (isinstance(d["cloud"], dict) and len(d["cloud"]) <= 1):
        raise MetafileError(f"{name}: 'cloud' in {where} must be a mapping of one remote")
    if "fs_config" in d and not isinstance(d["fs_config"], dict):
        raise MetafileError(f"{name}: 'fs_config' in {where} must be a mapping")
    return d


def _native_oid(d: Mapping[str, Any]) -> tuple[bool, str | None]:
    meta = d.get("meta")
    if isinstance(meta, Mapping):
        bale = meta.get(NATIVE_META_KEY)
        if isinstance(bale, Mapping) and NATIVE_HASH in bale:
            oid = bale[NATIVE_HASH]
            return True, None if oid in (None, "") else str(oid)
    return False, None


def _out_from_dict(d: dict[str, Any], where: str, name: str) -> Out:
    native, native_oid = _native_oid(d)
    # A dvc rewrite of a native output adds md5/hash but keeps our meta: the md5
    # side is then the newer truth and the leftover blake3 is stale.
    if native and "md5" not in d and "hash" not in d:
        hash_name: str | None = NATIVE_HASH
        oid = native_oid
    else:
        hash_name = d.get("hash")
        oid = d.get("md5")
        if hash_name is not None and hash_name != "md5":
            raise MetafileError(f"{name}: unsupported hash {hash_name!r} in {where}")
    if oid is not None:
        algo = NATIVE_HASH if hash_name == NATIVE_HASH else "md5"
        try:
            _core.check_oid(algo, oid)
        except InvalidOidError:
            # dvc would call such an output "not in cache"; it can never be,
            # so the file is what is wrong, and every command says so.
            raise MetafileError(f"{name}: {where}: {oid!r} is not a valid {algo} id") from None
    return Out(
        path=d["path"],
        hash_name=hash_name,
        oid=oid,
        size=d.get("size"),
        nfiles=d.get("nfiles"),
        isexec=d.get("isexec", False),
        cache=d.get("cache", True),
        push=d.get("push", True),
        remote=d.get("remote"),
    )


def loads_dvcfile(text: str, path: Path | str, memo: ParseMemo | None = None) -> DvcFile:
    """Parse and validate the text of a ``.dvc`` file; ``path`` is used in
    messages, ``memo`` (the repository's parse memo) remembers the parse."""
    path = Path(path)
    name = str(path)
    data = yaml12.parse(text, name, memo)
    if data is None:
        raise MetafileError(f"{name}: file is empty")
    if not isinstance(data, dict):
        raise MetafileError(f"{name}: expected a mapping at the top level")
    for key in data:
        if key not in _TOP_KEYS:
            raise MetafileError(f"{name}: unknown key {key!r}")
    for key in ("locked", "frozen", "always_changed"):
        if key in data and not isinstance(data[key], bool):
            raise MetafileError(f"{name}: {key!r} must be true or false")
    for key in ("desc", "wdir"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise MetafileError(f"{name}: {key!r} must be a string")
    if "md5" in data:
        _checksum(data["md5"], "'md5'", name, lower=True)
    deps = data.get("deps") or []
    if not isinstance(deps, list):
        raise MetafileError(f"{name}: 'deps' must be a list")
    for i, dep in enumerate(deps):
        if not isinstance(dep, dict) or not isinstance(dep.get("path"), str):
            raise MetafileError(f"{name}: deps[{i}] must be a mapping with a 'path'")
    raw_outs = data.get("outs")
    if raw_outs is not None and not isinstance(raw_outs, list):
        raise MetafileError(f"{name}: 'outs' must be a list")
    if not raw_outs:
        raise MetafileError(f"{name}: no outputs ('outs' is missing or empty)")
    outs = []
    for i, raw in enumerate(raw_outs):
        where = f"outs[{i}]"
        outs.append(_out_from_dict(_check_out(raw, where, name), where, name))
    return DvcFile(path=path, outs=outs, deps=deps, data=data, text=text)


def load_dvcfile(path: Path | str, memo: ParseMemo | None = None) -> DvcFile:
    """Load and validate a ``.dvc`` file (see :func:`loads_dvcfile`); any
    problem raises a one-line MetafileError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MetafileError(f"{path}: file does not exist") from None
    except IsADirectoryError:
        raise MetafileError(f"{path}: is a directory, not a .dvc file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MetafileError(f"{path}: is not valid utf-8") from None
    return loads_dvcfile(text, path, memo)


# ---------------------------------------------------------------------------
# writing


def _strip_native(meta: dict[str, Any]) -> dict[str, Any]:
    bale = meta.get(NATIVE_META_KEY)
    if isinstance(bale, dict):
        bale = {k: v for k, v in bale.items() if k != NATIVE_HASH}
        if bale:
            meta[NATIVE_META_KEY] = bale
        else:
            del meta[NATIVE_META_KEY]
    return meta


def _out_state(out: Out, old: Mapping[str, Any] | None) -> dict[str, Any]:
    """What ``Output.dumpd`` would return for ``out``, carrying hand-written keys of ``old``."""
    if out.hash_name not in ("md5", None, NATIVE_HASH):
        raise ValueError(f"unsupported hash name {out.hash_name!r}")
    native = out.hash_name == NATIVE_HASH
    old = copy.deepcopy(dict(old)) if old is not None else {}
    old_out = None
    if old:
        old_out = _out_from_dict(old, "", "")
    same_version = old_out is not None and (old_out.hash_name, old_out.oid) == (
        out.hash_name,
        out.oid,
    )

    ret: dict[str, Any] = {}
    if not native and out.oid is not None:
        ret["md5"] = out.oid
    if out.size is not None:
        ret["size"] = out.size
    if out.nfiles is not None:
        ret["nfiles"] = out.nfiles
    if out.isexec:
        ret["isexec"] = True
    if same_version:
        for key in _VERSION_KEYS:
            if key in old:
                ret[key] = old[key]
    if out.hash_name == "md5":
        ret["hash"] = "md5"
    ret["path"] = out.path
    if "fs_config" in old:
        ret["fs_config"] = old["fs_config"]
    for key in ("desc", "type", "labels"):
        if old.get(key):
            ret[key] = old[key]
    meta = old.get("meta")
    meta = dict(meta) if isinstance(meta, Mapping) else meta
    if native:
        if not isinstance(meta, dict):
            meta = {}
        bale = meta.get(NATIVE_META_KEY)
        bale = dict(bale) if isinstance(bale, Mapping) else {}
        bale[NATIVE_HASH] = out.oid
        meta[NATIVE_META_KEY] = bale
    elif isinstance(meta, dict):
        meta = _strip_native(meta)
    if meta:
        ret["meta"] = meta
    if not out.cache:
        ret["cache"] = False
    if old.get("persist"):
        ret["persist"] = True
    if out.remote:
        ret["remote"] = out.remote
    if not out.push:
        ret["push"] = False
    return ret


def _match_old_outs(outs: list[Out], old_outs: list[Any]) -> list[Mapping[str, Any] | None]:
    by_path: dict[str, Mapping[str, Any]] = {}
    for o in old_outs:
        if isinstance(o, Mapping) and isinstance(o.get("path"), str):
            by_path.setdefault(posixpath.normpath(o["path"]), o)
    new_paths = {posixpath.normpath(o.path) for o in outs}
    matched: list[Mapping[str, Any] | None] = []
    for i, out in enumerate(outs):
        old = by_path.get(posixpath.normpath(out.path))
        # A renamed single output (bale move) keeps its annotations.
        if old is None and len(outs) == len(old_outs) and isinstance(old_outs[i], Mapping):
            cand = old_outs[i]
            if posixpath.normpath(str(cand.get("path"))) not in new_paths:
                old = cand
        matched.append(old)
    return matched


def _state(outs: list[Out], old: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level mapping in ``dvc/stage/utils.py: get_dump`` order, empty values dropped."""
    olds = _match_old_outs(outs, list(old.get("outs") or []))
    wdir = old.get("wdir")
    if isinstance(wdir, str) and posixpath.normpath(wdir) == ".":
        wdir = None
    state = {
        "desc": old.get("desc"),
        "md5": old.get("md5"),
        "wdir": wdir,
        "frozen": bool(old.get("frozen") or old.get("locked")),
        "deps": copy.deepcopy(old.get("deps")),
        "outs": [_out_state(o, od) for o, od in zip(outs, olds, strict=True)],
        "always_changed": old.get("always_changed"),
        "meta": copy.deepcopy(old.get("meta")),
    }
    return {k: v for k, v in state.items() if v}


# dvc/stage/utils.py compute_md5: what does not count in a stage's checksum,
# at any depth (annotations, frozen, and the meta of outputs and deps).
_STAGE_MD5_IGNORED = frozenset(
    {"desc", "type", "labels", "meta", "locked", "frozen", "metric", "persist"}
    | {"isexec", "size", "nfiles"}
)


def _without(value: Any, ignored: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        return {k: _without(v, ignored) for k, v in value.items() if k not in ignored}
    if isinstance(value, list):
        return [_without(v, ignored) for v in value]
    return value


def stage_md5(state: Mapping[str, Any]) -> str:
    """The ``md5:`` dvc writes at the top of an import's ``.dvc`` file, of
    the file's top-level mapping as dvc dumps it (``compute_md5``: the JSON
    of what counts, keys sorted)."""
    d = {k: v for k, v in state.items() if k not in ("md5", "meta", "desc")}
    if d.get("wdir") == ".":
        del d["wdir"]
    text = json.dumps(_without(d, _STAGE_MD5_IGNORED), sort_keys=True)
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def apply_diff(src: Any, dest: Any) -> None:
    """Port of ``dvc/utils/collections.py: apply_diff`` (keeps ruamel's hidden formatting)."""
    seq = (list, tuple)
    container = (Mapping, list, tuple)

    def same_type(a: Any, b: Any) -> bool:
        return any(isinstance(a, t) and isinstance(b, t) for t in (str, Mapping, seq, bool))

    if isinstance(src, Mapping) and isinstance(dest, MutableMapping):
        for key, value in src.items():
            if isinstance(value, container) and same_type(value, dest.get(key)):
                apply_diff(value, dest[key])
            elif key not in dest or value != dest[key]:
                dest[key] = value
        for key in set(dest) - set(src):
            del dest[key]
    elif isinstance(src, seq) and isinstance(dest, list):
        if len(src) != len(dest):
            dest[:] = src
        else:
            for i, value in enumerate(src):
                if isinstance(value, container) and same_type(value, dest[i]):
                    apply_diff(value, dest[i])
                elif value != dest[i]:
                    dest[i] = value
    else:
        raise TypeError(f"can't apply diff from {type(src).__name__} to {type(dest).__name__}")


def dumps_dvcfile(outs: list[Out], base: DvcFile | None = None, *, stamp: bool = False) -> str:
    """Return the text ``dvc add`` would write for ``outs``, updating ``base`` if given.

    An import's ``md5:`` is kept as it was (``dvc add`` leaves it); with
    ``stamp`` it is computed anew for the new outputs, as ``dvc commit``
    and ``dvc repro`` write it."""
    if not outs:
        raise ValueError("a .dvc file needs at least one output")
    if base is None:
        return yaml12.dumps(_state(outs, {}))

    state = _state(outs, base.data)
    if stamp and base.is_import:
        state["md5"] = stage_md5(state)
    saved = yaml12.load_roundtrip(base.text) or {}
    apply_diff(state, saved)
    return yaml12.dumps(saved)


def dump_dvcfile(
    path: Path | str, outs: list[Out], base: DvcFile | None = None, *, stamp: bool = False
) -> None:
    """Create or update the ``.dvc`` file at ``path`` atomically.

    An existing file (or ``base``, e.g. the file's previous location after a move)
    is updated in round-trip mode: comments, formatting and hand-written keys stay;
    ``stamp`` as in :func:`dumps_dvcfile`.
    """
    path = Path(path)
    if base is None and path.exists():
        base = load_dvcfile(path)
    atomic_write(path, dumps_dvcfile(outs, base, stamp=stamp).encode("utf-8"))
