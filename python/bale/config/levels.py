"""The merged configuration: every level, where each value comes from,
and writes that keep every level valid as dvc would."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bale.config.files import (
    BALE_FILES,
    LEVELS,
    display_path,
    global_config_dir,
    read_ini,
    resolve,
    system_config_dir,
    to_file_relative,
    write_ini,
)
from bale.config.keys import (
    NAMED,
    Key,
    as_str,
    copy_tree,
    flatten,
    key_str,
    lookup,
    merge,
    parse_key,
)
from bale.config.schema import (
    BALE_KEYS,
    DEFAULT_CACHE_TYPES,
    Validator,
    boolean,
    cache_type,
    check_bale,
    check_merged,
    check_names,
    choices,
    integer,
    is_bale,
    is_path_key,
)
from bale.exceptions import ConfigError
from bale.metafiles.memo import ParseMemo


class Config:
    """DVC's merged configuration plus bale's settings, with origins and safe writes."""

    def __init__(
        self,
        dvc_dir: Path | None,
        files: dict[str, Path],
        levels: dict[str, dict[str, Any]],
        bale_files: dict[str, Path],
        bale_levels: dict[str, dict[str, Any]],
    ) -> None:
        self.dvc_dir = dvc_dir
        self.files = files
        self._levels = levels
        self.bale_files = bale_files
        self._bale = bale_levels

    # -- loading ----------------------------------------------------------

    @classmethod
    def load(
        cls, dvc_dir: Path | str | None, validate: bool = True, memo: ParseMemo | None = None
    ) -> Config:
        """Read every config level; ``dvc_dir`` is the ``.dvc`` directory (None outside a repo).

        With ``validate`` (dvc does the same for every command but ``dvc config``),
        unknown keys and bad values raise ConfigError naming the file. ``memo``
        (the repository's parse memo) remembers the repo-level files.
        """
        files = {
            "system": system_config_dir() / "config",
            "global": global_config_dir() / "config",
        }
        bale_files: dict[str, Path] = {}
        if dvc_dir is not None:
            dvc_dir = Path(os.path.abspath(dvc_dir))
            files["repo"] = dvc_dir / "config"
            files["local"] = dvc_dir / "config.local"
            bale_files = {lvl: dvc_dir / name for lvl, name in BALE_FILES.items()}

        def read(level: str, path: Path) -> dict[str, Any]:
            return read_ini(path, memo if level == "repo" else None)

        levels = {lvl: read(lvl, path) for lvl, path in files.items()}
        bale = {lvl: read(lvl, path) for lvl, path in bale_files.items()}
        cfg = cls(dvc_dir, files, levels, bale_files, bale)
        if validate:
            cfg.validate()
        return cfg

    def validate(self) -> None:
        """Check every level like dvc would; raise ConfigError on the first problem."""
        merged: dict[str, Any] = {}
        for level in LEVELS:
            if level in self._levels:
                check_names(self._levels[level], self.files[level])
                merge(merged, self._levels[level])
        check_merged(merged, self._origin_of)
        for level, conf in self._bale.items():
            check_bale(conf, self.bale_files[level])

    def overlay(self, conf: dict[str, Any]) -> None:
        """Merges ``conf`` (nested as a config file reads: ``{"remote":
        {"name": {"url": ...}}}``) over every level, in memory only: what
        ``get --config`` and ``--remote-config`` give a source repository,
        as dvc merges them. It sits at the local level, the highest, so
        messages name ``config.local`` as where such a value is; nothing
        is written."""
        if "local" not in self.files:
            raise ConfigError("not inside a DVC repository: no config to merge into")
        given = _lowered(conf)
        # A relative path given here is the user's, from where they run the
        # command (dvc merges it after resolving its own files' paths), not
        # relative to the .dvc/ directory of the level it sits in.
        here = Path.cwd()
        for key, value in list(flatten(given)):
            if is_path_key(key) and isinstance(value, str):
                lookup(given, key[:-1])[key[-1]] = resolve(here, value)
        local = self._levels.setdefault("local", {})
        merge(local, given)
        self.validate()

    # -- reading ----------------------------------------------------------

    def _origin_level(self, key: Key) -> str | None:
        if is_bale(key):
            for level in ("local", "repo"):
                if lookup(self._bale.get(level, {}), key) is not None:
                    return level
            return None
        for level in reversed(LEVELS):
            if lookup(self._levels.get(level, {}), key) is not None:
                return level
        return None

    def _origin_of(self, key: Key) -> Path | None:
        level = self._origin_level(key)
        return None if level is None else self._file_for(key, level)

    def _file_for(self, key: Key, level: str) -> Path:
        if is_bale(key):
            if level not in self.bale_files:
                raise ConfigError(
                    f"'{key_str(key)}' is a bale setting: it can only be set at the repo or "
                    "local level, inside a repository"
                )
            return self.bale_files[level]
        if level not in self.files:
            raise ConfigError(f"not inside a DVC repository: no '{level}' config")
        return self.files[level]

    def _conf_for(self, key: Key, level: str) -> dict[str, Any]:
        if is_bale(key):
            return self._bale.get(level, {})
        return self._levels.get(level, {})

    def get_raw(self, key: str, level: str | None = None) -> str | None:
        """The value of ``key`` exactly as written in its file (winning level unless given)."""
        k = parse_key(key)
        level = level or self._origin_level(k)
        if level is None:
            return None
        value = lookup(self._conf_for(k, level), k)
        return None if value is None or isinstance(value, dict) else as_str(value)

    def get(self, key: str, level: str | None = None) -> str | None:
        """The value of ``key`` as ``dvc config`` prints it: path values made absolute.

        ``key`` is ``section.option`` or ``remote.<name>.option``; None when unset.
        """
        k = parse_key(key)
        level = level or self._origin_level(k)
        value = self.get_raw(key, level)
        if value is None or level is None or not is_path_key(k):
            return value
        return resolve(self._file_for(k, level).parent, value)

    def resolved_path(self, key: str) -> str | None:
        """A path-valued key resolved against its config file's directory (URLs unchanged)."""
        k = parse_key(key)
        level = self._origin_level(k)
        value = self.get_raw(key, level)
        if value is None or level is None:
            return None
        return resolve(self._file_for(k, level).parent, value)

    def origin(self, key: str, level: str | None = None) -> Path | None:
        """The file the effective value of ``key`` comes from (for ``--show-origin``)."""
        k = parse_key(key)
        level = level or self._origin_level(k)
        if level is None or lookup(self._conf_for(k, level), k) is None:
            return None
        return self._file_for(k, level)

    def items(self, level: str | None = None) -> list[tuple[str, str]]:
        """``(key, value)`` pairs as ``dvc config -l`` lists them.

        With a level, that level's dvc file followed by its bale file; without one,
        every level in merge order (a key may then appear more than once, as in dvc).
        """
        return [(key, value) for key, value, _file in self.entries(level)]

    def entries(self, level: str | None = None) -> list[tuple[str, str, Path]]:
        """:meth:`items` with the file each pair is written in (``--show-origin``):
        a key set at two levels is listed twice, each time with its own file."""
        levels = [level] if level else [lvl for lvl in LEVELS if lvl in self.files]
        out: list[tuple[str, str, Path]] = []
        for lvl in levels:
            for conf, files in ((self._levels, self.files), (self._bale, self.bale_files)):
                if lvl not in conf:
                    continue
                for key, value in flatten(conf[lvl]):
                    shown = as_str(value)
                    if is_path_key(key) and conf is self._levels:
                        shown = resolve(files[lvl].parent, shown)
                    out.append((key_str(key), shown, files[lvl]))
        return out

    # -- writing ----------------------------------------------------------

    def set(self, key: str, value: str, level: str = "repo") -> None:
        """Set ``key`` at ``level`` and write the file atomically.

        bale-only keys go to ``.dvc/bale.conf`` (``.local`` for the local level); every
        other key must be one dvc knows, or ConfigError is raised and nothing is written.
        A relative local path is taken relative to the cwd and stored relative to the
        config file's directory, as dvc does.
        """
        k = parse_key(key)
        self._check_level(level)
        path = self._file_for(k, level)
        if is_bale(k):
            conf = copy_tree(self._bale.get(level, {}))
            node = conf
            for part in k[:-1]:
                node = node.setdefault(part, {})
            node[k[-1]] = value
            check_bale(conf, path)
            write_ini(path, conf)
            self._bale[level] = conf
            return
        conf = copy_tree(self._levels.get(level, {}))
        if is_path_key(k):
            value = to_file_relative(path.parent, value, None)
        node = conf
        for part in k[:-1]:
            node = node.setdefault(part, {})
        node[k[-1]] = value
        self._save(level, conf, changed=k)

    def unset(self, key: str, level: str = "repo") -> None:
        """Remove ``key`` from ``level``; ConfigError when it is not set there."""
        k = parse_key(key)
        self._check_level(level)
        path = self._file_for(k, level)
        bale = is_bale(k)
        conf = copy_tree((self._bale if bale else self._levels).get(level, {}))
        parent = lookup(conf, k[:-1])
        if not isinstance(parent, dict) or k[-1] not in parent:
            raise ConfigError(f"option '{key_str(k)}' doesn't exist in {display_path(path)}")
        del parent[k[-1]]
        if k[0] in NAMED and not parent:
            del conf[k[0]][k[1]]
        if bale:
            write_ini(path, conf)
            self._bale[level] = conf
            return
        # (an emptied remote section would be written as an empty, url-less
        # section that dvc rejects: it was dropped above)
        self._save(level, conf, changed=None)

    @staticmethod
    def _check_level(level: str) -> None:
        if level not in LEVELS:
            raise ConfigError(f"unknown config level '{level}' (one of {', '.join(LEVELS)})")

    def _save(self, level: str, conf: dict[str, Any], changed: Key | None) -> None:
        path = self.files[level]
        conf = self._normalize_paths(conf, path.parent, skip=changed)
        # like dvc's Config.edit: the levels below plus this one must validate
        merged: dict[str, Any] = {}
        for lvl in LEVELS:
            if lvl == level:
                break
            if lvl in self._levels:
                merge(merged, self._levels[lvl])
        merge(merged, conf)
        check_names(conf, path)
        levels = dict(self._levels)
        levels[level] = conf
        probe = Config(self.dvc_dir, self.files, levels, self.bale_files, self._bale)
        check_merged(merged, probe._origin_of)
        write_ini(path, conf)
        self._levels[level] = conf

    @staticmethod
    def _normalize_paths(conf: dict[str, Any], conf_dir: Path, skip: Key | None) -> dict[str, Any]:
        # dvc rewrites every relative path of the level through abspath/relpath
        for key, value in list(flatten(conf)):
            if key == skip or not is_path_key(key) or not isinstance(value, str):
                continue
            node = lookup(conf, key[:-1])
            node[key[-1]] = to_file_relative(conf_dir, value, conf_dir)
        return conf

    # -- typed helpers ----------------------------------------------------

    def cache_dir(self, repo_root: Path) -> Path:
        """The local cache directory (``cache.dir``, default ``<repo>/.dvc/cache``)."""
        value = self.resolved_path("cache.dir")
        return Path(value) if value else Path(repo_root) / ".dvc" / "cache"

    def cache_types(self) -> list[str]:
        """``cache.type`` as a list of link types; default ``["reflink", "copy"]``."""
        value = self._typed("cache.type", cache_type)
        if value is None:
            return list(DEFAULT_CACHE_TYPES)
        return [t.strip() for t in value.split(",") if t.strip()]

    def cache_shared(self) -> str | None:
        """``cache.shared`` (``"group"``) or None."""
        value = self._typed("cache.shared", choices("group"))
        return value.lower() if value else None

    def core_no_scm(self) -> bool:
        """``core.no_scm`` (default False)."""
        return self._flag("core.no_scm", False)

    def core_autostage(self) -> bool:
        """``core.autostage`` (default False)."""
        return self._flag("core.autostage", False)

    def parsing(self) -> dict[str, str]:
        """The ``[parsing]`` section: how ``${dict}`` renders in a stage's
        command (``bool``: store_true or boolean_optional, ``list``: nargs or
        append); only the options that are set."""
        found = {k: self.get(f"parsing.{k}") for k in ("bool", "list")}
        return {k: v for k, v in found.items() if v is not None}

    def core_remote(self) -> str | None:
        """The default remote name (``core.remote``, lower-cased like dvc) or None."""
        value = self.get("core.remote")
        return value.lower() if value else None

    def checksum_jobs(self) -> int | None:
        """``core.checksum_jobs`` as an int, or None when unset."""
        value = self._typed("core.checksum_jobs", integer(1))
        return int(value) if value is not None else None

    def jobs(self) -> int | None:
        """bale's ``core.jobs`` as an int, or None when unset."""
        value = self._typed("core.jobs", BALE_KEYS["core.jobs"])
        return int(value) if value is not None else None

    def hash_algorithm(self) -> str:
        """bale's ``core.hash`` for new outputs: ``"md5"`` (default) or ``"blake3"``."""
        value = self._typed("core.hash", BALE_KEYS["core.hash"])
        return value.lower() if value else "md5"

    def _typed(self, key: str, check: Validator) -> str | None:
        value = self.get_raw(key)
        if value is None:
            return None
        try:
            check(value)
        except (TypeError, ValueError) as exc:
            path = self.origin(key)
            shown = display_path(path) if path is not None else "config"
            raise ConfigError(f"{shown}: bad value for '{key}' ({value!r}): {exc}") from None
        return value

    def _flag(self, key: str, default: bool) -> bool:
        value = self._typed(key, boolean)
        return default if value is None else value.lower() == "true"


def _lowered(conf: dict[str, Any]) -> dict[str, Any]:
    """Section and option names as config files hold them (lower case);
    remote names kept as given."""
    out: dict[str, Any] = {}
    for k, v in conf.items():
        if k.lower() == "remote" and isinstance(v, dict):
            out["remote"] = {
                name: _lowered(opts) if isinstance(opts, dict) else opts for name, opts in v.items()
            }
        else:
            out[k.lower()] = _lowered(v) if isinstance(v, dict) else v
    return out
