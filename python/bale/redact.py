"""Passwords in URLs, kept out of what bale prints and caches.

dvc accepts a remote URL with credentials in it
(``https://user:secret@host/path``) and so does bale: the transfer needs it as
written. Everything bale shows or keeps on its own (``remote list``,
``lineage``, error messages, the parse memo in ``.dvc/tmp``) goes through
here. ``bale config`` still prints what the file holds: asking for one key's
value is asking for the secret.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "SECRET_WORDS", "has_url_password", "mask_argv", "mask_url"]

MASK = "***"
# scheme://user:password@ : the password runs to the last "@" before the path
_USERINFO = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#@:\s]*):(?P<pw>[^/?#\s]*)@")


def has_url_password(text: str) -> bool:
    """Whether ``text`` holds a URL with a password (``scheme://user:pw@``)."""
    return _USERINFO.search(text) is not None


def mask_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``; the user stays,
    so that one can tell which account a remote uses.

    >>> mask_url("https://ann:s3cret@example.com/data")
    'https://ann:***@example.com/data'
    """
    match = _USERINFO.match(url)
    if match is None or not match.group("pw"):
        return url
    return f"{match.group('head')}:{MASK}@{url[match.end() :]}"


# An option name that may hold a secret (as config/files.py judges the
# config's lines): ``password``, ``secret_access_key``, ``sas_token``, ...
#: The words that make an option name a secret's (broad on purpose: a false
#: match only masks a value or costs a parse).
SECRET_WORDS = "password|secret|token|passphrase|key|connection_string"
_SECRET_NAME = re.compile(rf"[\w-]*({SECRET_WORDS})[\w-]*", re.IGNORECASE)


def mask_argv(argv: list[str]) -> list[str]:
    """A command line as ``-v`` shows it: URL passwords masked wherever they
    are, and the value after a secret option's name (``remote modify r
    password VALUE``, ``config remote.r.token VALUE``, ``--fs-config
    password=VALUE``) replaced by ``***``.

    >>> mask_argv(["remote", "modify", "r", "password", "hunter2"])
    ['remote', 'modify', 'r', 'password', '***']
    """
    out: list[str] = []
    hide = False
    for arg in argv:
        if hide:
            out.append(MASK)
            hide = False
            continue
        name, eq, _value = arg.partition("=")
        if eq and _SECRET_NAME.fullmatch(name.lstrip("-").rsplit(".", 1)[-1]):
            out.append(f"{name}={MASK}")
            continue
        out.append(_USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", arg))
        # a config key names its option last: remote.r.secret_access_key
        hide = _SECRET_NAME.fullmatch(arg.lstrip("-").rsplit(".", 1)[-1]) is not None
    return out
