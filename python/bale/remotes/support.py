"""What bale can do with a remote's URL and options, decided in one place.

dvc's config accepts dozens of options per kind of remote
(:data:`bale.config.REMOTE_SCHEMAS`); bale's stores honour most of the ones
that matter for moving objects. An option bale would silently ignore is
sorted here into one of two kinds:

* **refused**: ignoring it changes what a push writes or a pull reads
  (the version-aware or worktree layout, a folder remote shared by a
  group, ListObjects v1). A push that ignored such an option would write
  something else than the user asked for, so it is an error when it is set
  (``remote add/modify``, ``config``) and, when dvc wrote it, when a push
  or pull reads the config, before anything is transferred;
* **ignored with a warning**: dvc tuning that changes nothing bale writes
  or reads (link types of a folder remote, checksum jobs, region caching).

A remote whose URL is of a kind dvc knows but bale has no store for
(``hdfs://``, ``oss://``, ...) is accepted by
``remote add`` with a warning and refused by name at push and pull. Such
remotes live in configs shared with dvc users: refusing to write them would
make bale unable to edit a team's config, and a bale user who never pushes
to that remote loses nothing. Its options are accepted too (they are for
dvc), with the same warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from bale.exceptions import RemoteConfigError

__all__ = [
    "KINDS",
    "check_option",
    "check_remote",
    "check_url",
    "kind_of",
    "option_setter",
    "refuse_options",
    "scheme_of",
]

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
# URL scheme -> the store bale moves objects with ("" is a local path)
KINDS = {
    "": "folder",
    "file": "folder",
    "s3": "s3",
    "gs": "gs",
    "http": "http",
    "https": "http",
    "webdav": "webdav",
    "webdavs": "webdav",
    "ssh": "ssh",
    "azure": "azure",
}

_FALSE = frozenset({"false", "no", "0", "off", ""})


def _true(value: str) -> bool:
    return value.strip().lower() not in _FALSE


def _set(value: str) -> bool:
    return value.strip() != ""


# kind ("*" = every kind) -> option -> whether a value asks for what bale cannot do
_REFUSED: dict[str, dict[str, Callable[[str], bool]]] = {
    "*": {"version_aware": _true, "worktree": _true},
    # dvc makes a shared folder remote's directories group-writable; bale's
    # copies would leave them writable by their creator only
    "folder": {"shared": _set},
    # Kerberos logins need the gssapi package, which bale does not ship
    "ssh": {"gss_auth": _true},
}
# kind -> option -> why ignoring it is harmless
_IGNORED: dict[str, dict[str, str]] = {
    "*": {
        "checksum_jobs": "bale hashes with core.jobs",
        "no_traverse": "dvc ignores it too",
    },
    "folder": {
        "type": "bale copies objects to and from a folder remote",
        "protected": "objects on a folder remote are always read-only",
        "slow_link_warning": "bale copies objects to and from a folder remote",
    },
    # gcsfs uses the project only to create and list buckets, which bale never does
    "gs": {"projectname": "bale never creates or lists buckets, the only use of it"},
    "ssh": {"type": "bale copies objects to and from an ssh remote"},
}


def option_setter(store: str) -> str:
    """How an option of the store named ``store`` is set, for messages: a
    remote's with ``bale remote modify --local``; a URL source's (import-url,
    get-url and ls-url name their store by its URL, never a remote name)
    with ``--fs-config``."""
    if "://" in store:
        return "--fs-config <option>=<value>"
    return "'bale remote modify --local'"


def scheme_of(url: str) -> str:
    """The URL's scheme, lower-cased; ``""`` for a local path."""
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else ""


def kind_of(url: str) -> str | None:
    """The store bale uses for ``url`` (``folder``, ``s3``, ``gs``, ``azure``, ``http``,
    ``webdav``, ``ssh``); None when it has none."""
    return KINDS.get(scheme_of(url))


def _storeless(remote: str, url: str) -> str:
    return (
        f"remote '{remote}': bale cannot push to or pull from {scheme_of(url)}:// remotes yet "
        "(folder, s3://, gs://, azure://, http(s)://, webdav(s):// and ssh:// remotes it can)"
    )


def check_url(remote: str, url: str) -> str | None:
    """A warning when bale has no store for ``url`` (dvc may), else None."""
    return _storeless(remote, url) if kind_of(url) is None else None


def _refusal(remote: str, option: str) -> str:
    return f"remote '{remote}': option '{option}' is not supported by bale yet"


def check_option(
    remote: str,
    url: str | None,
    option: str,
    value: str,
    others: Mapping[str, str] | None = None,
) -> str | None:
    """Whether ``remote`` may have ``option = value``, asked when it is set.

    Raises RemoteConfigError for a refused option, or one that excludes
    one of ``others`` (the remote's options already set); returns a warning
    for an option bale ignores (or any option of a remote bale has no store
    for), else None. ``url`` is the remote's URL, None when it is not known.
    """
    option = option.lower()
    if option == "url":
        return check_url(remote, value)
    kind = kind_of(url) if url is not None else None
    if url is not None and kind is None:
        return _storeless(remote, url) + f"; '{option}' is kept for dvc"
    refuse_options(remote, kind or "", {option: value})
    if kind == "s3":
        from bale.remotes.s3_settings import check_combination

        check_combination(remote, {**(others or {}), option: value})
    for table in (_IGNORED["*"], _IGNORED.get(kind or "", {})):
        if option in table:
            return f"remote '{remote}': bale ignores option '{option}' ({table[option]})"
    return None


def refuse_options(
    remote: str,
    kind: str,
    options: Mapping[str, str],
    origin: Callable[[str], str] | None = None,
) -> None:
    """Raises RemoteConfigError for the first option of ``options`` that a
    ``kind`` store cannot honour, prefixed with ``origin(option)`` (its file)."""
    for table in (_REFUSED["*"], _REFUSED.get(kind, {})):
        for option, refused in table.items():
            value = options.get(option)
            if value is not None and refused(value):
                where = f"{origin(option)}: " if origin is not None else ""
                raise RemoteConfigError(where + _refusal(remote, option))


def check_remote(
    remote: str, url: str, options: Mapping[str, str], origin: Callable[[str], str]
) -> str:
    """The kind of store for ``remote``, checked before a push or pull opens it.

    Raises RemoteConfigError naming the config file (``origin(option)``) when
    bale has no store for the URL or an option is one it refuses.
    """
    kind = kind_of(url)
    if kind is None:
        raise RemoteConfigError(f"{origin('url')}: {_storeless(remote, url)}")
    refuse_options(remote, kind, options, origin)
    return kind
