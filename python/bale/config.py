"""DVC's configuration files plus bale's own settings.

DVC reads ``system``, ``global``, ``repo`` (``.dvc/config``) and ``local``
(``.dvc/config.local``) configobj INI files, merged in that order, and refuses to
run when any of them holds a key it does not know (``dvc/config.py``,
``dvc/config_schema.py``). bale therefore validates against a copy of DVC's key
tables and keeps its own settings (:data:`BALE_KEYS`) in ``.dvc/bale.conf`` and
``.dvc/bale.conf.local``, which DVC never reads. Writes are byte-identical to what
``dvc config`` would write for the same change.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bale.exceptions import ConfigError

__all__ = [
    "BALE_KEYS",
    "BALE_REMOTE_KEYS",
    "CACHE_TYPES",
    "LEVELS",
    "Config",
    "display_path",
    "global_config_dir",
    "system_config_dir",
]

LEVELS = ("system", "global", "repo", "local")
CACHE_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULT_CACHE_TYPES = ["reflink", "copy"]
_NAMED = ("remote", "machine", "db")
_NAMED_RE = re.compile(r'^\s*(remote|machine|db)\s*"(.*)"\s*$')
_KEY_RE = re.compile(
    r"^(?:(?P<top>remote|db|machine)\.(?P<name>[^.]*)|(?P<section>[^.]*))\.(?P<opt>[^.]*)$"
)
_URL_RE = re.compile(r"\w+://")
# an option whose value may be a secret (password, secret_access_key,
# session_token, sse_customer_key, account_key, sas_token, client_secret,
# connection_string, passphrase, studio's token, ...): broad on purpose,
# a false match only costs a parse
_SECRET_OPTION = re.compile(
    r"^\s*[\w.-]*(password|secret|token|passphrase|key|connection_string)[\w.-]*\s*=",
    re.IGNORECASE | re.MULTILINE,
)

Validator = Callable[[Any], Any]


# ---------------------------------------------------------------------------
# value validators (voluptuous-free copies of dvc/config_schema.py's)


def _str(v: Any) -> Any:
    if not isinstance(v, str):
        raise TypeError("expected a string")
    return v


def _bool(v: Any) -> Any:
    if not isinstance(v, str) or v.lower() not in ("true", "false"):
        raise ValueError("expected true or false")
    return v


def _int(minimum: int | None = None, maximum: int | None = None) -> Validator:
    def check(v: Any) -> Any:
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise ValueError("expected an integer") from None
        if minimum is not None and n < minimum:
            raise ValueError(f"value must be at least {minimum}")
        if maximum is not None and n > maximum:
            raise ValueError(f"value must be at most {maximum}")
        return v

    return check


def _float0(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError("expected a number") from None
    if f < 0:
        raise ValueError("value must be at least 0")
    return v


def _choices(*choices: str) -> Validator:
    def check(v: Any) -> Any:
        if not isinstance(v, str) or v.lower() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return v

    return check


def _cache_type(v: Any) -> Any:
    types = [t.strip() for t in v.split(",")] if isinstance(v, str) else v
    if not isinstance(types, list):
        raise TypeError("expected a comma-separated list")
    bad = [t for t in types if t not in CACHE_TYPES]
    if bad:
        raise ValueError(f"Unsupported cache type(s): {', '.join(bad)}")
    return v


def _anything(v: Any) -> Any:
    return v


_BOOL_OR_STR = _anything  # Any(Bool, str): every string passes


def _python_bool(v: Any) -> Any:
    raise ValueError("dvc accepts no value of it in a config file (expected bool)")


_REMOTE_COMMON: dict[str, Validator] = {
    "url": _str,
    "checksum_jobs": _int(1),
    "jobs": _int(1),
    "worktree": _bool,
    "no_traverse": _bool,
    "version_aware": _bool,
}
_LOCAL_COMMON: dict[str, Validator] = {
    "type": _cache_type,
    "protected": _bool,
    "shared": _choices("group"),
    "slow_link_warning": _bool,
    "verify": _bool,
}
_HTTP_COMMON: dict[str, Validator] = {
    "auth": _choices("basic", "digest", "custom"),
    "custom_auth_header": _str,
    "user": _str,
    "password": _str,
    "ask_password": _bool,
    "ssl_verify": _BOOL_OR_STR,
    "method": _str,
    "connect_timeout": _float0,
    "read_timeout": _float0,
    "verify": _bool,
}
_WEBDAV_COMMON: dict[str, Validator] = {
    "user": _str,
    "password": _str,
    "ask_password": _bool,
    "token": _str,
    "bearer_token_command": _str,
    "custom_auth_header": _str,
    "cert_path": _str,
    "key_path": _str,
    "timeout": _int(),
    "ssl_verify": _BOOL_OR_STR,
    "verify": _bool,
}
_S3: dict[str, Validator] = {
    **dict.fromkeys(
        [
            "region",
            "profile",
            "credentialpath",
            "configpath",
            "endpointurl",
            "access_key_id",
            "secret_access_key",
            "session_token",
            "sse",
            "sse_kms_key_id",
            "sse_customer_algorithm",
            "sse_customer_key",
            "acl",
            "grant_read",
            "grant_read_acp",
            "grant_write_acp",
            "grant_full_control",
        ],
        _str,
    ),
    "listobjects": _bool,
    "use_ssl": _bool,
    "allow_anonymous_login": _bool,
    "ssl_verify": _BOOL_OR_STR,
    # dvc's schema says python bool here, which a config string can never be:
    # dvc refuses to run with any value of it in a file, so bale refuses it too
    "cache_regions": _python_bool,
    "read_timeout": _int(),
    "connect_timeout": _int(),
    "verify": _bool,
}
_GS: dict[str, Validator] = {
    "projectname": _str,
    "credentialpath": _str,
    "endpointurl": _str,
    "verify": _bool,
    "allow_anonymous_login": _bool,
}
_SSH: dict[str, Validator] = {
    "type": _cache_type,
    "port": _int(),
    "user": _str,
    "password": _str,
    "ask_password": _bool,
    "passphrase": _str,
    "ask_passphrase": _bool,
    "keyfile": _str,
    "timeout": _int(),
    "gss_auth": _bool,
    "allow_agent": _bool,
    "max_sessions": _int(),
    "verify": _bool,
}
_HDFS: dict[str, Validator] = {"user": _str, "kerb_ticket": _str, "replication": _anything}
_WEBHDFS: dict[str, Validator] = {
    "kerberos": _bool,
    "kerberos_principal": _str,
    "proxy_to": _str,
    "ssl_verify": _BOOL_OR_STR,
    "token": _str,
    "use_https": _bool,
    "user": _str,
    "password": _str,
    "data_proxy_target": _str,
    "verify": _bool,
}
_AZURE: dict[str, Validator] = {
    **dict.fromkeys(
        [
            "connection_string",
            "sas_token",
            "account_name",
            "account_key",
            "tenant_id",
            "client_id",
            "client_secret",
        ],
        _str,
    ),
    **dict.fromkeys(
        [
            "allow_anonymous_login",
            "exclude_environment_credential",
            "exclude_visual_studio_code_credential",
            "exclude_shared_token_cache_credential",
            "exclude_managed_identity_credential",
            "verify",
        ],
        _bool,
    ),
    "timeout": _int(),
    "read_timeout": _int(),
    "connection_timeout": _int(),
}
_OSS: dict[str, Validator] = {
    "oss_key_id": _str,
    "oss_key_secret": _str,
    "oss_endpoint": _str,
    "verify": _bool,
}
_GDRIVE: dict[str, Validator] = {
    **dict.fromkeys(
        [
            "profile",
            "gdrive_client_id",
            "gdrive_client_secret",
            "gdrive_user_credentials_file",
            "gdrive_service_account_user_email",
            "gdrive_service_account_json_file_path",
        ],
        _str,
    ),
    **dict.fromkeys(
        ["gdrive_use_service_account", "gdrive_trash_only", "gdrive_acknowledge_abuse", "verify"],
        _bool,
    ),
}
# dvc/config_schema.py REMOTE_SCHEMAS, keyed by URL scheme ("" = local path)
REMOTE_SCHEMAS: dict[str, dict[str, Validator]] = {
    "": _LOCAL_COMMON | _REMOTE_COMMON,
    "s3": _S3 | _REMOTE_COMMON,
    "gs": _GS | _REMOTE_COMMON,
    "ssh": _SSH | _REMOTE_COMMON,
    "hdfs": _HDFS | _REMOTE_COMMON,
    "webhdfs": _WEBHDFS | _REMOTE_COMMON,
    "azure": _AZURE | _REMOTE_COMMON,
    "oss": _OSS | _REMOTE_COMMON,
    "gdrive": _GDRIVE | _REMOTE_COMMON,
    "http": _HTTP_COMMON | _REMOTE_COMMON,
    "https": _HTTP_COMMON | _REMOTE_COMMON,
    "webdav": _WEBDAV_COMMON | _REMOTE_COMMON,
    "webdavs": _WEBDAV_COMMON | _REMOTE_COMMON,
}
# dvc/config_schema.py SCHEMA, plain sections
SECTIONS: dict[str, dict[str, Validator]] = {
    "core": {
        "remote": _str,
        "checksum_jobs": _int(1),
        "interactive": _bool,
        "analytics": _bool,
        "hardlink_lock": _bool,
        "no_scm": _bool,
        "autostage": _bool,
        "experiments": _bool,
        "check_update": _bool,
        "site_cache_dir": _str,
        "machine": _str,
    },
    "cache": {
        **dict.fromkeys(["local", "s3", "gs", "hdfs", "webhdfs", "ssh", "azure"], _str),
        "dir": _str,
        **_LOCAL_COMMON,
    },
    "state": {"dir": _str, "row_limit": _int(1), "row_cleanup_quota": _int(0, 100)},
    "index": {"dir": _str},
    "feature": {"machine": _bool},
    "plots": {"html_template": _str, "auto_open": _bool, "out_dir": _str},
    "exp": {
        **dict.fromkeys(["code", "data", "models", "metrics", "params", "plots", "live"], _str),
        "auto_push": _bool,
        "git_remote": _str,
    },
    "parsing": {
        "bool": _choices("store_true", "boolean_optional"),
        "list": _choices("nargs", "append"),
    },
    "hydra": {
        "enabled": _bool,
        "config_dir": _str,
        "config_module": _str,
        "config_name": _str,
        "plugins_path": _str,
    },
    "studio": {"token": _str, "url": _str, "repo_url": _str, "offline": _bool},
}
_MACHINE: dict[str, Validator] = {
    "cloud": _choices("aws", "azure"),
    "region": _choices("us-west", "us-east", "eu-west", "eu-north"),
    "image": _str,
    "spot": _bool,
    "spot_price": _float0,
    "instance_hdd_size": _int(),
    "instance_type": _str,
    "instance_gpu": _str,
    "ssh_private": _str,
    "startup_script": _str,
    "setup_script": _str,
}
_DB: dict[str, Validator] = {"url": _str, "username": _str, "password": _str}
# dvc/config.py Config._map_dirs: values resolved relative to their file's directory
_PATH_KEYS: dict[str, frozenset[str]] = {
    "cache": frozenset({"dir"}),
    "remote": frozenset(
        {
            "url",
            "gdrive_user_credentials_file",
            "gdrive_service_account_json_file_path",
            "credentialpath",
            "configpath",
            "keyfile",
            "cert_path",
            "key_path",
        }
    ),
    "machine": frozenset({"startup_script", "setup_script"}),
}

# bale-only settings: "section.option" -> validator. They live in .dvc/bale.conf(.local).
BALE_KEYS: dict[str, Validator] = {
    "core.hash": _choices("md5", "blake3"),
    "core.jobs": _int(1),
}
# bale-only options of a remote: ``remote.<name>.<option>`` in bale's files,
# because dvc rejects unknown remote options.
BALE_REMOTE_KEYS: dict[str, Validator] = {
    "part_size": _int(5 << 20),  # S3 multipart part size, bytes
    "part_jobs": _int(1),  # parts in flight per large object
    "retries": _int(1),  # attempts per request on transient failures
    "pack_size": _int(1 << 20),  # target size of a pack (packed layout), bytes
}
_BALE_FILES = {"repo": "bale.conf", "local": "bale.conf.local"}


def _is_bale(key: Key) -> bool:
    """Whether ``key`` lives in bale's files rather than dvc's."""
    if len(key) == 3 and key[0] == "remote":
        return key[2] in BALE_REMOTE_KEYS
    return len(key) == 2 and _key_str(key) in BALE_KEYS


# ---------------------------------------------------------------------------
# locations


def system_config_dir() -> Path:
    """DVC's system config dir (``$DVC_SYSTEM_CONFIG_DIR``, else platformdirs' site dir)."""
    env = os.environ.get("DVC_SYSTEM_CONFIG_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CONFIG_DIRS", "").strip() or "/etc/xdg"
    return Path(os.path.expanduser(xdg.split(os.pathsep)[0].rstrip(os.sep))) / "dvc"


def global_config_dir() -> Path:
    """DVC's global config dir (``$DVC_GLOBAL_CONFIG_DIR``, else ``~/.config/dvc``)."""
    env = os.environ.get("DVC_GLOBAL_CONFIG_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip() or os.path.expanduser("~/.config")
    return Path(xdg) / "dvc"


def display_path(path: Path) -> str:
    """A file name for messages: relative to the cwd when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


# ---------------------------------------------------------------------------
# key handling

Key = tuple[str, ...]  # ("core", "remote") or ("remote", "<name>", "url")


def _parse_key(key: str) -> Key:
    m = _KEY_RE.match(key)
    if not m or not m.group("opt") or not (m.group("section") or m.group("name")):
        raise ConfigError(
            f"bad config name '{key}': use section.option, remote.<name>.option or db.<name>.option"
        )
    if m.group("top"):
        # dvc lower-cases every key on load, remote names included
        return (m.group("top"), m.group("name").lower(), m.group("opt").lower())
    return (m.group("section").lower(), m.group("opt").lower())


def _key_str(key: Key) -> str:
    return ".".join(key)


def _is_path_key(key: Key) -> bool:
    return key[-1] in _PATH_KEYS.get(key[0], frozenset())


def _lookup(conf: dict[str, Any], key: Key) -> Any:
    node: Any = conf
    for part in key:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _flatten(conf: dict[str, Any], prefix: Key = ()) -> Iterator[tuple[Key, Any]]:
    for k, v in conf.items():
        if isinstance(v, dict):
            yield from _flatten(v, (*prefix, k))
        else:
            yield (*prefix, k), v


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for k, v in update.items():
        if isinstance(into.get(k), dict) and isinstance(v, dict):
            _merge(into[k], v)
        else:
            # copy so later merges never write into a level's own dicts
            into[k] = _copy(v) if isinstance(v, dict) else v


def _as_str(value: Any) -> str:
    # configobj turns an unquoted "a,b" into a list
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _resolve(conf_dir: Path, value: str) -> str:
    """dvc/config.py Config._resolve: a path value relative to its config file's dir."""
    if _URL_RE.match(value) or os.path.isabs(value):
        return value
    expanded = os.path.expanduser(value)
    if os.path.isabs(expanded):
        return expanded
    return os.path.abspath(os.path.join(conf_dir, value))


def _to_file_relative(conf_dir: Path, value: str, base: Path | None) -> str:
    """dvc/config.py Config._to_relpath: how a path value is written into a file.

    ``base`` is the directory ``value`` is relative to (the cwd for a newly set
    value, the config file's dir for a value already stored there).
    """
    if _URL_RE.match(value) or os.path.isabs(value) or os.path.expanduser(value) != value:
        return value
    absolute = os.path.abspath(os.path.join(base if base is not None else os.getcwd(), value))
    return Path(os.path.relpath(absolute, os.path.abspath(conf_dir))).as_posix()


# ---------------------------------------------------------------------------
# file io


def _read_ini(path: Path, remember: bool = False) -> dict[str, Any]:
    """One config file; with ``remember``, through the parse memo (only for
    files that are committed to git anyway: local and user-level files may
    hold credentials, which must not be copied into the memo)."""
    from bale.metafiles import memo

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise ConfigError(f"{display_path(path)}: is a directory") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{display_path(path)}: is not valid utf-8") from None

    def parse() -> dict[str, Any]:
        return _parse_ini(raw, path)

    # dvc's docs put credentials in config.local, but a committed config can
    # hold them too: such a text is not copied into the memo (the memo itself
    # skips any text with a password in a URL)
    remember = remember and _SECRET_OPTION.search(text) is None
    data = memo.parse("configobj", text, parse) if remember else parse()
    return _parse_named(_lower_keys(data))


def _parse_ini(raw: bytes, path: Path) -> dict[str, Any]:
    from configobj import ConfigObj, ConfigObjError

    try:  # ``raw`` is valid UTF-8: _read_ini decoded it first
        data: dict[str, Any] = ConfigObj(io.BytesIO(raw), encoding="utf-8").dict()
    except ConfigObjError as exc:
        errors = getattr(exc, "errors", None) or [exc]
        first = errors[0]
        msg = re.sub(r"\s+at line \d+\.?$", "", str(first)).strip()
        line = getattr(first, "line_number", None)
        where = f" line {line}:" if line else ""
        raise ConfigError(f"{display_path(path)}:{where} {msg}") from None
    return data


def _lower_keys(data: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): _lower_keys(v) if isinstance(v, dict) else v for k, v in data.items()}


def _parse_named(conf: dict[str, Any]) -> dict[str, Any]:
    # named sections first, as in dvc's _parse_named: `dvc config -l` lists them first
    result: dict[str, Any] = {"remote": {}, "machine": {}, "db": {}}
    for section, val in conf.items():
        m = _NAMED_RE.match(section)
        if m:
            result.setdefault(m.group(1), {})[m.group(2)] = val
        else:
            result[section] = val
    return result


def _pack_named(conf: dict[str, Any]) -> dict[str, Any]:
    """dvc/config.py _pack_named: drop empty sections, named sections go last."""
    result = {k: v for k, v in conf.items() if v and k not in _NAMED}
    for top in _NAMED:
        for name, val in (conf.get(top) or {}).items():
            result[f'{top} "{name}"'] = val
    return result


def _ini_bytes(conf: dict[str, Any]) -> bytes:
    from configobj import ConfigObj

    out = io.BytesIO()
    ConfigObj(_pack_named(conf)).write(out)
    return out.getvalue()


def _write_ini(path: Path, conf: dict[str, Any]) -> None:
    from bale.metafiles._fs import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, _ini_bytes(conf))


# ---------------------------------------------------------------------------
# validation


def _validators_for(key: Key, merged: dict[str, Any]) -> dict[str, Validator] | None:
    """The validators of the mapping holding ``key``; None when the section is unknown."""
    if key[0] == "remote":
        url = _lookup(merged, ("remote", key[1], "url"))
        return REMOTE_SCHEMAS.get(_scheme(url) if isinstance(url, str) else "", {})
    if key[0] == "machine":
        return _MACHINE
    if key[0] == "db":
        return _DB
    return SECTIONS.get(key[0])


def _scheme(url: str) -> str:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return parsed.scheme if parsed.netloc else ""


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
    def load(cls, dvc_dir: Path | str | None, validate: bool = True) -> Config:
        """Read every config level; ``dvc_dir`` is the ``.dvc`` directory (None outside a repo).

        With ``validate`` (dvc does the same for every command but ``dvc config``),
        unknown keys and bad values raise ConfigError naming the file.
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
            bale_files = {lvl: dvc_dir / name for lvl, name in _BALE_FILES.items()}
        levels = {lvl: _read_ini(path, remember=lvl == "repo") for lvl, path in files.items()}
        bale = {lvl: _read_ini(path, remember=lvl == "repo") for lvl, path in bale_files.items()}
        cfg = cls(dvc_dir, files, levels, bale_files, bale)
        if validate:
            cfg.validate()
        return cfg

    def validate(self) -> None:
        """Check every level like dvc would; raise ConfigError on the first problem."""
        merged: dict[str, Any] = {}
        for level in LEVELS:
            if level in self._levels:
                self._check_names(self._levels[level], self.files[level])
                _merge(merged, self._levels[level])
        self._check_merged(merged, self._origin_of)
        for level, conf in self._bale.items():
            self._check_bale(conf, self.bale_files[level])

    @staticmethod
    def _check_names(conf: dict[str, Any], path: Path) -> None:
        for section, val in conf.items():
            if section in _NAMED:
                if not isinstance(val, dict) or not all(isinstance(v, dict) for v in val.values()):
                    raise ConfigError(f"{display_path(path)}: '{section}' must be a named section")
                continue
            if section not in SECTIONS:
                raise ConfigError(f"{display_path(path)}: unknown section '{section}'")
            if not isinstance(val, dict):
                raise ConfigError(f"{display_path(path)}: '{section}' must be a section")
            if section == "feature":
                continue  # dvc only warns about unknown feature flags
            for opt in val:
                if isinstance(val[opt], dict) or opt not in SECTIONS[section]:
                    raise ConfigError(f"{display_path(path)}: unknown key '{section}.{opt}'")

    @staticmethod
    def _check_merged(merged: dict[str, Any], origin: Callable[[Key], Path | None]) -> None:
        def where(key: Key) -> str:
            path = origin(key)
            return display_path(path) if path is not None else "config"

        for name, section in (merged.get("remote") or {}).items():
            url = section.get("url") if isinstance(section, dict) else None
            if isinstance(url, str) and _scheme(url) and _scheme(url) not in REMOTE_SCHEMAS:
                raise ConfigError(
                    f"{where(('remote', name, 'url'))}: Unsupported URL type "
                    f"{_scheme(url)}:// in 'remote.{name}.url'"
                )
        for key, value in _flatten(merged):
            if key[0] == "feature" and key[1] not in SECTIONS["feature"]:
                continue
            validators = _validators_for(key, merged)
            if validators is None or key[-1] not in validators:
                raise ConfigError(f"{where(key)}: unknown key '{_key_str(key)}'")
            try:
                validators[key[-1]](value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"{where(key)}: bad value for '{_key_str(key)}' ({_as_str(value)!r}): {exc}"
                ) from None
        for top in ("remote", "db"):
            for name, section in (merged.get(top) or {}).items():
                if "url" not in section:
                    first = next(iter(section), "url")
                    raise ConfigError(f"{where((top, name, first))}: {top} '{name}' has no 'url'")

    @staticmethod
    def _check_bale(conf: dict[str, Any], path: Path) -> None:
        for key, value in _flatten(conf):
            name = _key_str(key)
            if not _is_bale(key):
                raise ConfigError(f"{display_path(path)}: unknown key '{name}'")
            check = BALE_REMOTE_KEYS[key[2]] if len(key) == 3 else BALE_KEYS[name]
            try:
                check(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"{display_path(path)}: bad value for '{name}' ({_as_str(value)!r}): {exc}"
                ) from None

    # -- reading ----------------------------------------------------------

    def _origin_level(self, key: Key) -> str | None:
        if _is_bale(key):
            for level in ("local", "repo"):
                if _lookup(self._bale.get(level, {}), key) is not None:
                    return level
            return None
        for level in reversed(LEVELS):
            if _lookup(self._levels.get(level, {}), key) is not None:
                return level
        return None

    def _origin_of(self, key: Key) -> Path | None:
        level = self._origin_level(key)
        return None if level is None else self._file_for(key, level)

    def _file_for(self, key: Key, level: str) -> Path:
        if _is_bale(key):
            if level not in self.bale_files:
                raise ConfigError(
                    f"'{_key_str(key)}' is a bale setting: it can only be set at the repo or "
                    "local level, inside a repository"
                )
            return self.bale_files[level]
        if level not in self.files:
            raise ConfigError(f"not inside a DVC repository: no '{level}' config")
        return self.files[level]

    def _conf_for(self, key: Key, level: str) -> dict[str, Any]:
        if _is_bale(key):
            return self._bale.get(level, {})
        return self._levels.get(level, {})

    def get_raw(self, key: str, level: str | None = None) -> str | None:
        """The value of ``key`` exactly as written in its file (winning level unless given)."""
        k = _parse_key(key)
        level = level or self._origin_level(k)
        if level is None:
            return None
        value = _lookup(self._conf_for(k, level), k)
        return None if value is None or isinstance(value, dict) else _as_str(value)

    def get(self, key: str, level: str | None = None) -> str | None:
        """The value of ``key`` as ``dvc config`` prints it: path values made absolute.

        ``key`` is ``section.option`` or ``remote.<name>.option``; None when unset.
        """
        k = _parse_key(key)
        level = level or self._origin_level(k)
        value = self.get_raw(key, level)
        if value is None or level is None or not _is_path_key(k):
            return value
        return _resolve(self._file_for(k, level).parent, value)

    def resolved_path(self, key: str) -> str | None:
        """A path-valued key resolved against its config file's directory (URLs unchanged)."""
        k = _parse_key(key)
        level = self._origin_level(k)
        value = self.get_raw(key, level)
        if value is None or level is None:
            return None
        return _resolve(self._file_for(k, level).parent, value)

    def origin(self, key: str, level: str | None = None) -> Path | None:
        """The file the effective value of ``key`` comes from (for ``--show-origin``)."""
        k = _parse_key(key)
        level = level or self._origin_level(k)
        if level is None or _lookup(self._conf_for(k, level), k) is None:
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
                for key, value in _flatten(conf[lvl]):
                    shown = _as_str(value)
                    if _is_path_key(key) and conf is self._levels:
                        shown = _resolve(files[lvl].parent, shown)
                    out.append((_key_str(key), shown, files[lvl]))
        return out

    # -- writing ----------------------------------------------------------

    def set(self, key: str, value: str, level: str = "repo") -> None:
        """Set ``key`` at ``level`` and write the file atomically.

        bale-only keys go to ``.dvc/bale.conf`` (``.local`` for the local level); every
        other key must be one dvc knows, or ConfigError is raised and nothing is written.
        A relative local path is taken relative to the cwd and stored relative to the
        config file's directory, as dvc does.
        """
        k = _parse_key(key)
        self._check_level(level)
        path = self._file_for(k, level)
        if _is_bale(k):
            conf = _copy(self._bale.get(level, {}))
            node = conf
            for part in k[:-1]:
                node = node.setdefault(part, {})
            node[k[-1]] = value
            self._check_bale(conf, path)
            _write_ini(path, conf)
            self._bale[level] = conf
            return
        conf = _copy(self._levels.get(level, {}))
        if _is_path_key(k):
            value = _to_file_relative(path.parent, value, None)
        node = conf
        for part in k[:-1]:
            node = node.setdefault(part, {})
        node[k[-1]] = value
        self._save(level, conf, changed=k)

    def unset(self, key: str, level: str = "repo") -> None:
        """Remove ``key`` from ``level``; ConfigError when it is not set there."""
        k = _parse_key(key)
        self._check_level(level)
        path = self._file_for(k, level)
        bale = _is_bale(k)
        conf = _copy((self._bale if bale else self._levels).get(level, {}))
        parent = _lookup(conf, k[:-1])
        if not isinstance(parent, dict) or k[-1] not in parent:
            raise ConfigError(f"option '{_key_str(k)}' doesn't exist in {display_path(path)}")
        del parent[k[-1]]
        if k[0] in _NAMED and not parent:
            del conf[k[0]][k[1]]
        if bale:
            _write_ini(path, conf)
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
                _merge(merged, self._levels[lvl])
        _merge(merged, conf)
        self._check_names(conf, path)
        levels = dict(self._levels)
        levels[level] = conf
        probe = Config(self.dvc_dir, self.files, levels, self.bale_files, self._bale)
        self._check_merged(merged, probe._origin_of)
        _write_ini(path, conf)
        self._levels[level] = conf

    @staticmethod
    def _normalize_paths(conf: dict[str, Any], conf_dir: Path, skip: Key | None) -> dict[str, Any]:
        # dvc rewrites every relative path of the level through abspath/relpath
        for key, value in list(_flatten(conf)):
            if key == skip or not _is_path_key(key) or not isinstance(value, str):
                continue
            node = _lookup(conf, key[:-1])
            node[key[-1]] = _to_file_relative(conf_dir, value, conf_dir)
        return conf

    # -- typed helpers ----------------------------------------------------

    def cache_dir(self, repo_root: Path) -> Path:
        """The local cache directory (``cache.dir``, default ``<repo>/.dvc/cache``)."""
        value = self.resolved_path("cache.dir")
        return Path(value) if value else Path(repo_root) / ".dvc" / "cache"

    def cache_types(self) -> list[str]:
        """``cache.type`` as a list of link types; default ``["reflink", "copy"]``."""
        value = self._typed("cache.type", _cache_type)
        if value is None:
            return list(DEFAULT_CACHE_TYPES)
        return [t.strip() for t in value.split(",") if t.strip()]

    def cache_shared(self) -> str | None:
        """``cache.shared`` (``"group"``) or None."""
        value = self._typed("cache.shared", _choices("group"))
        return value.lower() if value else None

    def core_no_scm(self) -> bool:
        """``core.no_scm`` (default False)."""
        return self._bool("core.no_scm", False)

    def core_autostage(self) -> bool:
        """``core.autostage`` (default False)."""
        return self._bool("core.autostage", False)

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
        value = self._typed("core.checksum_jobs", _int(1))
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

    def _bool(self, key: str, default: bool) -> bool:
        value = self._typed(key, _bool)
        return default if value is None else value.lower() == "true"


def _copy(conf: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in conf.items()}
