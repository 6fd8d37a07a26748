"""``bale remote``: manage remotes in ``.dvc/config`` exactly as dvc does.

Except that a setting bale could not honour at push and pull is refused
before anything is written (:mod:`bale.remotes.support` decides which).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bale.exceptions import ConfigError
from bale.remotes import support

if TYPE_CHECKING:
    from bale.config import Config
    from bale.repo import Repo


def check_setting(config: Config, key: str, value: str) -> str | None:
    """Whether ``key = value`` may be set, for a ``remote.<name>.<option>`` key
    (other keys pass): raises RemoteConfigError, naming the option and the
    remote, for what bale cannot honour; returns a warning for what it ignores.

    Called before the write, so a refused setting leaves the file unchanged.
    """
    parts = key.split(".")
    if len(parts) != 3 or parts[0].lower() != "remote":
        return None
    name, option = parts[1].lower(), parts[2].lower()
    url = None if option == "url" else config.get(f"remote.{name}.url")
    prefix = f"remote.{name}."
    others = {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}
    return support.check_option(name, url, option, value, others)


def add(
    repo: Repo,
    name: str,
    url: str,
    *,
    default: bool = False,
    force: bool = False,
    level: str = "repo",
) -> str | None:
    """Adds remote ``name``; returns a warning when bale cannot push to its
    kind of URL (dvc can: the remote is kept for dvc)."""
    config = repo.config
    if config.get(f"remote.{name}.url") is not None and not force:
        raise ConfigError(f"remote '{name}' already exists; use -f to replace it")
    warning = check_setting(config, f"remote.{name}.url", url)
    # Replacing is a new section, as dvc writes it: none of the old
    # remote's options (credentials, endpoint) carry over to the new url.
    _drop_options(repo, name, level)
    config.set(f"remote.{name}.url", url, level=level)
    if default:
        config.set("core.remote", name, level=level)
    return warning


def remove(repo: Repo, name: str, *, level: str = "repo") -> None:
    config = repo.config
    if config.get(f"remote.{name}.url", level) is None:
        raise ConfigError(f"remote '{name}' does not exist")
    _drop_options(repo, name, level)
    if config.get("core.remote", level) == name:
        config.unset("core.remote", level=level)


def _drop_options(repo: Repo, name: str, level: str) -> None:
    """Unsets every option of remote ``name`` at ``level``, its url last."""
    prefix = f"remote.{name}."
    keys = [k for k, _v in repo.config.items(level) if k.startswith(prefix)]
    for key in sorted(keys, key=lambda k: k.endswith(".url")):
        repo.config.unset(key, level=level)


def modify(
    repo: Repo, name: str, option: str, value: str | None, *, level: str = "repo"
) -> str | None:
    """Sets (or with None unsets) an option of remote ``name``; returns a
    warning when bale will ignore it. An option bale cannot honour is refused
    (RemoteConfigError) and nothing is written."""
    config = repo.config
    if config.get(f"remote.{name}.url") is None:
        raise ConfigError(f"remote '{name}' does not exist")
    if value is None:
        config.unset(f"remote.{name}.{option}", level=level)
        return None
    warning = check_setting(config, f"remote.{name}.{option}", value)
    config.set(f"remote.{name}.{option}", value, level=level)
    return warning


def default(repo: Repo, name: str | None, *, level: str = "repo") -> str | None:
    config = repo.config
    if name is None:
        return config.core_remote()
    if config.get(f"remote.{name}.url") is None:
        raise ConfigError(f"remote '{name}' does not exist")
    config.set("core.remote", name, level=level)
    return name


def unset_default(repo: Repo, *, level: str = "repo") -> None:
    """No default remote at ``level`` (``remote default --unset``); not an
    error when none is set, as in dvc."""
    if repo.config.get("core.remote", level) is not None:
        repo.config.unset("core.remote", level=level)


def listing(repo: Repo, level: str | None = None) -> list[tuple[str, str, bool]]:
    """``(name, url, is the default)`` of every remote (at ``level``, or
    merged across levels), in dvc's order: as the config files name them,
    a level's remotes after the ones before it; local paths made absolute
    (as dvc lists them), a password in a URL shown as ``***``.

    dvc prints the URL as written, password and all. A listing is what gets
    pasted into an issue or scrolls past in a CI log, and it is read for the
    names and places, never for the password; ``bale config remote.<name>.url``
    prints the value as written for whoever needs it.
    """
    from bale.redact import mask_url

    names: dict[str, None] = {}
    for key, _value in repo.config.items(level):
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "remote":
            names.setdefault(parts[1], None)
    default = repo.config.get("core.remote", level)
    out = []
    for n in names:
        url = repo.config.get(f"remote.{n}.url", level)
        if url is not None:  # options set at a level without the url: not a remote there
            out.append((n, mask_url(url), n == default))
    return out


def rename(repo: Repo, name: str, new: str, *, level: str = "repo") -> None:
    """Renames remote ``name`` at ``level``; a default remote stays the default."""
    config = repo.config
    if config.get(f"remote.{name}.url", level) is None:
        raise ConfigError(f"remote '{name}' does not exist")
    if config.get(f"remote.{new}.url") is not None:
        raise ConfigError(f"remote '{new}' already exists")
    prefix = f"remote.{name}."
    options = [(k.removeprefix(prefix), v) for k, v in config.items(level) if k.startswith(prefix)]
    # Raw values: paths stay relative exactly as written.
    raw = {opt: config.get_raw(f"{prefix}{opt}", level) for opt, _v in options}
    for opt in sorted(raw, key=lambda o: o != "url"):  # url first: it makes the section
        value = raw[opt]
        if value is not None:
            config.set(f"remote.{new}.{opt}", value, level=level)
    defaults = [lvl for lvl in config.files if config.get_raw("core.remote", lvl) == name]
    remove(repo, name, level=level)
    for lvl in defaults:
        config.set("core.remote", new, level=lvl)
