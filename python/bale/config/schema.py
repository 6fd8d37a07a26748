"""The keys dvc accepts and bale's own, each with its value check.

dvc refuses to run when a config file holds a key it does not know
(``dvc/config_schema.py``), so bale validates against copies of dvc's
tables (``tests/unit/test_config_schema.py`` checks them against dvc's own
schema) and keeps its own settings (:data:`BALE_KEYS`,
:data:`BALE_REMOTE_KEYS`) in files dvc never reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bale.config.files import display_path
from bale.config.keys import NAMED, Key, as_str, flatten, key_str, lookup
from bale.exceptions import ConfigError

CACHE_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULT_CACHE_TYPES = ["reflink", "copy"]

Validator = Callable[[Any], Any]


# ---------------------------------------------------------------------------
# value validators (voluptuous-free copies of dvc/config_schema.py's)


def _str(v: Any) -> Any:
    if not isinstance(v, str):
        raise TypeError("expected a string")
    return v


def boolean(v: Any) -> Any:
    if not isinstance(v, str) or v.lower() not in ("true", "false"):
        raise ValueError("expected true or false")
    return v


def integer(minimum: int | None = None, maximum: int | None = None) -> Validator:
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


def _float(minimum: float | None = None) -> Validator:
    def check(v: Any) -> Any:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError("expected a number") from None
        if minimum is not None and f < minimum:
            raise ValueError(f"value must be at least {minimum:g}")
        return v

    return check


def choices(*choices: str) -> Validator:
    def check(v: Any) -> Any:
        if not isinstance(v, str) or v.lower() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return v

    return check


def cache_type(v: Any) -> Any:
    types = [t.strip() for t in v.split(",")] if isinstance(v, str) else v
    if not isinstance(types, list):
        raise TypeError("expected a comma-separated list")
    bad = [t for t in types if t not in CACHE_TYPES]
    if bad:
        raise ValueError(f"Unsupported cache type(s): {', '.join(bad)}")
    return v


_BOOL_OR_STR = _str  # Any(Bool, str): every string passes, a list does not


def _python_type(name: str) -> Validator:
    # dvc's schema says a python type here, which a config string can never be:
    # dvc refuses to run with any value of it in a file, so bale refuses it too
    def check(v: Any) -> Any:
        raise ValueError(f"dvc accepts no value of it in a config file (expected {name})")

    return check


_REMOTE_COMMON: dict[str, Validator] = {
    "url": _str,
    "checksum_jobs": integer(1),
    "jobs": integer(1),
    "worktree": boolean,
    "no_traverse": boolean,
    "version_aware": boolean,
}
_LOCAL_COMMON: dict[str, Validator] = {
    "type": cache_type,
    "protected": boolean,
    "shared": choices("group"),
    "slow_link_warning": boolean,
    "verify": boolean,
}
_HTTP_COMMON: dict[str, Validator] = {
    "auth": choices("basic", "digest", "custom"),
    "custom_auth_header": _str,
    "user": _str,
    "password": _str,
    "ask_password": boolean,
    "ssl_verify": _BOOL_OR_STR,
    "method": _str,
    "connect_timeout": _float(0),
    "read_timeout": _float(0),
    "verify": boolean,
}
_WEBDAV_COMMON: dict[str, Validator] = {
    "user": _str,
    "password": _str,
    "ask_password": boolean,
    "token": _str,
    "bearer_token_command": _str,
    "custom_auth_header": _str,
    "cert_path": _str,
    "key_path": _str,
    "timeout": integer(),
    "ssl_verify": _BOOL_OR_STR,
    "verify": boolean,
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
    "listobjects": boolean,
    "use_ssl": boolean,
    "allow_anonymous_login": boolean,
    "ssl_verify": _BOOL_OR_STR,
    "cache_regions": _python_type("bool"),
    "read_timeout": integer(),
    "connect_timeout": integer(),
    "verify": boolean,
}
_GS: dict[str, Validator] = {
    "projectname": _str,
    "credentialpath": _str,
    "endpointurl": _str,
    "verify": boolean,
    "allow_anonymous_login": boolean,
}
_SSH: dict[str, Validator] = {
    "type": cache_type,
    "port": integer(),
    "user": _str,
    "password": _str,
    "ask_password": boolean,
    "passphrase": _str,
    "ask_passphrase": boolean,
    "keyfile": _str,
    "timeout": integer(),
    "gss_auth": boolean,
    "allow_agent": boolean,
    "max_sessions": integer(),
    "verify": boolean,
}
_HDFS: dict[str, Validator] = {
    "user": _str,
    "kerb_ticket": _str,
    "replication": _python_type("int"),
}
_WEBHDFS: dict[str, Validator] = {
    "kerberos": boolean,
    "kerberos_principal": _str,
    "proxy_to": _str,
    "ssl_verify": _BOOL_OR_STR,
    "token": _str,
    "use_https": boolean,
    "user": _str,
    "password": _str,
    "data_proxy_target": _str,
    "verify": boolean,
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
        boolean,
    ),
    "timeout": integer(),
    "read_timeout": integer(),
    "connection_timeout": integer(),
}
_OSS: dict[str, Validator] = {
    "oss_key_id": _str,
    "oss_key_secret": _str,
    "oss_endpoint": _str,
    "verify": boolean,
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
        boolean,
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
        "checksum_jobs": integer(1),
        "interactive": boolean,
        "analytics": boolean,
        "hardlink_lock": boolean,
        "no_scm": boolean,
        "autostage": boolean,
        "experiments": boolean,
        "check_update": boolean,
        "site_cache_dir": _str,
        "machine": _str,
    },
    "cache": {
        **dict.fromkeys(["local", "s3", "gs", "hdfs", "webhdfs", "ssh", "azure"], _str),
        "dir": _str,
        **_LOCAL_COMMON,
    },
    "state": {"dir": _str, "row_limit": integer(1), "row_cleanup_quota": integer(0, 100)},
    "index": {"dir": _str},
    "feature": {"machine": boolean},
    "plots": {"html_template": _str, "auto_open": boolean, "out_dir": _str},
    "exp": {
        **dict.fromkeys(["code", "data", "models", "metrics", "params", "plots", "live"], _str),
        "auto_push": boolean,
        "git_remote": _str,
    },
    "parsing": {
        "bool": choices("store_true", "boolean_optional"),
        "list": choices("nargs", "append"),
    },
    "hydra": {
        "enabled": boolean,
        "config_dir": _str,
        "config_module": _str,
        "config_name": _str,
        "plugins_path": _str,
    },
    "studio": {"token": _str, "url": _str, "repo_url": _str, "offline": boolean},
}
_MACHINE: dict[str, Validator] = {
    "cloud": choices("aws", "azure"),
    "region": choices("us-west", "us-east", "eu-west", "eu-north"),
    "image": _str,
    "spot": boolean,
    "spot_price": _float(),
    "instance_hdd_size": integer(),
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
    "core.hash": choices("md5", "blake3"),
    "core.jobs": integer(1),
}
# bale-only options of a remote: ``remote.<name>.<option>`` in bale's files,
# because dvc rejects unknown remote options.
BALE_REMOTE_KEYS: dict[str, Validator] = {
    "part_size": integer(5 << 20),  # S3 multipart part size, bytes
    "part_jobs": integer(1),  # parts in flight per large object
    "retries": integer(1),  # attempts per request on transient failures
    "pack_size": integer(1 << 20),  # target size of a pack (packed layout), bytes
}


def is_bale(key: Key) -> bool:
    """Whether ``key`` lives in bale's files rather than dvc's."""
    if len(key) == 3 and key[0] == "remote":
        return key[2] in BALE_REMOTE_KEYS
    return len(key) == 2 and key_str(key) in BALE_KEYS


def is_path_key(key: Key) -> bool:
    """Whether ``key``'s value is a path, relative to its config file's directory."""
    return key[-1] in _PATH_KEYS.get(key[0], frozenset())


# ---------------------------------------------------------------------------
# validation


def validators_for(key: Key, merged: dict[str, Any]) -> dict[str, Validator] | None:
    """The validators of the mapping holding ``key``; None when the section is unknown."""
    if key[0] == "remote":
        url = lookup(merged, ("remote", key[1], "url"))
        return REMOTE_SCHEMAS.get(scheme(url) if isinstance(url, str) else "", {})
    if key[0] == "machine":
        return _MACHINE
    if key[0] == "db":
        return _DB
    return SECTIONS.get(key[0])


def scheme(url: str) -> str:
    """A remote URL's scheme as dvc's ``ByUrl`` sees it ("" for a local path)."""
    parsed = urlparse(url)
    return parsed.scheme if parsed.netloc else ""


def check_names(conf: dict[str, Any], path: Path) -> None:
    """Checks one level's sections and plain options (from the file at ``path``)."""
    for section, val in conf.items():
        if section in NAMED:
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


def check_merged(merged: dict[str, Any], origin: Callable[[Key], Path | None]) -> None:
    """Checks the merged levels like dvc's schema (a remote's options depend
    on its URL, which may come from another level); ``origin`` names the
    file of a key for messages."""

    def where(key: Key) -> str:
        path = origin(key)
        return display_path(path) if path is not None else "config"

    for name, section in (merged.get("remote") or {}).items():
        url = section.get("url") if isinstance(section, dict) else None
        if isinstance(url, str) and scheme(url) and scheme(url) not in REMOTE_SCHEMAS:
            raise ConfigError(
                f"{where(('remote', name, 'url'))}: Unsupported URL type "
                f"{scheme(url)}:// in 'remote.{name}.url'"
            )
    for key, value in flatten(merged):
        if key[0] == "feature" and key[1] not in SECTIONS["feature"]:
            continue
        validators = validators_for(key, merged)
        if validators is None or key[-1] not in validators:
            raise ConfigError(f"{where(key)}: unknown key '{key_str(key)}'")
        try:
            validators[key[-1]](value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{where(key)}: bad value for '{key_str(key)}' ({as_str(value)!r}): {exc}"
            ) from None
    for top in ("remote", "db"):
        for name, section in (merged.get(top) or {}).items():
            if "url" not in section:
                first = next(iter(section), "url")
                raise ConfigError(f"{where((top, name, first))}: {top} '{name}' has no 'url'")


def check_bale(conf: dict[str, Any], path: Path) -> None:
    """Checks one of bale's own files: only bale's keys, with valid values."""
    for key, value in flatten(conf):
        name = key_str(key)
        if not is_bale(key):
            raise ConfigError(f"{display_path(path)}: unknown key '{name}'")
        check = BALE_REMOTE_KEYS[key[2]] if len(key) == 3 else BALE_KEYS[name]
        try:
            check(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{display_path(path)}: bad value for '{name}' ({as_str(value)!r}): {exc}"
            ) from None
