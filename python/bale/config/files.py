"""Where config files live, and reading and writing them.

dvc reads the ``system``, ``global``, ``repo`` (``.dvc/config``) and
``local`` (``.dvc/config.local``) configobj INI files, merged in that order;
bale's settings live beside them in ``.dvc/bale.conf`` and
``.dvc/bale.conf.local``. Writes are byte-identical to what ``dvc config``
would write for the same change.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

from bale.config.keys import NAMED
from bale.exceptions import ConfigError
from bale.metafiles._fs import atomic_write
from bale.metafiles.memo import ParseMemo
from bale.redact import SECRET_WORDS

LEVELS = ("system", "global", "repo", "local")
_NAMED_RE = re.compile(r'^\s*(remote|machine|db)\s*"(.*)"\s*$')
_URL_RE = re.compile(r"\w+://")
# an option whose value may be a secret (password, secret_access_key,
# session_token, sse_customer_key, account_key, sas_token, client_secret,
# connection_string, passphrase, studio's token, ...): broad on purpose,
# a false match only costs a parse
_SECRET_OPTION = re.compile(
    rf"^\s*[\w.-]*({SECRET_WORDS})[\w.-]*\s*=", re.IGNORECASE | re.MULTILINE
)
BALE_FILES = {"repo": "bale.conf", "local": "bale.conf.local"}


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


def resolve(conf_dir: Path, value: str) -> str:
    """dvc/config.py Config._resolve: a path value relative to its config file's dir."""
    if _URL_RE.match(value) or os.path.isabs(value):
        return value
    expanded = os.path.expanduser(value)
    if os.path.isabs(expanded):
        return expanded
    return os.path.abspath(os.path.join(conf_dir, value))


def to_file_relative(conf_dir: Path, value: str, base: Path | None) -> str:
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


def read_ini(path: Path, memo: ParseMemo | None = None) -> dict[str, Any]:
    """One config file; through ``memo`` when given (only for files that are
    committed to git anyway: local and user-level files may hold
    credentials, which must not be copied into the memo)."""

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
    if memo is not None and _SECRET_OPTION.search(text) is None:
        data = memo.parse("configobj", text, parse)
    else:
        data = parse()
    return _parse_named(_lower_keys(data))


def _parse_ini(raw: bytes, path: Path) -> dict[str, Any]:
    from configobj import ConfigObj, ConfigObjError

    try:  # ``raw`` is valid UTF-8: read_ini decoded it first
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
    result = {k: v for k, v in conf.items() if v and k not in NAMED}
    for top in NAMED:
        for name, val in (conf.get(top) or {}).items():
            result[f'{top} "{name}"'] = val
    return result


def _ini_bytes(conf: dict[str, Any]) -> bytes:
    from configobj import ConfigObj

    out = io.BytesIO()
    ConfigObj(_pack_named(conf)).write(out)
    return out.getvalue()


def write_ini(path: Path, conf: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, _ini_bytes(conf))
