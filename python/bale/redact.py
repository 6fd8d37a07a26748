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

__all__ = ["MASK", "has_url_password", "mask_url"]

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
