"""Parsed metafiles and config files, remembered by their exact text.

Importing a YAML parser and configobj and parsing ``.dvc`` files,
``dvc.yaml``, ``dvc.lock`` and ``.dvc/config`` (never ``config.local`` or
user-level config, which may hold credentials) cost more than a clean
``bale status`` of 100,000 files spends on anything else in Python. These
files rarely change between commands, so their parsed form is kept in
``.dvc/tmp/bale/parsed.json``, keyed by the parser and the whole text: a text
that differs by one byte is parsed again, so the memo can be stale only in
what it holds, never in what it answers. Values that JSON cannot carry
exactly (dates, non-string keys, tuples, NaN) are not kept.

Each :class:`bale.Repo` owns the memo of its repository and passes it to
the readers (``memo=repo.memo``); a reader given none parses every time.

Like the stat cache it costs time, never correctness: an unreadable file is
treated as empty, and writes are atomic (the last writer wins). A text
holding a password is never kept (see :func:`bale.redact.has_url_password`
and the config reader's check of secret options).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bale.metafiles._fs import atomic_write
from bale.redact import has_url_password

FILE_NAME = "parsed.json"
FORMAT = 1
# The texts kept, at most: a repository with far more metafile text than
# this still gains on every file that fits. A text over MAX_ONE is not kept
# (loading it back would cost about what parsing it does).
MAX_TEXT = 8 * 1024 * 1024
MAX_ONE = 1024 * 1024


def _exact(value: Any) -> bool:
    """Whether JSON gives ``value`` back equal and of the same types."""
    t = type(value)
    if t is str or t is bool or t is int or value is None:
        return True
    if t is float:
        return math.isfinite(value)
    if t is list:
        return all(_exact(v) for v in value)
    if t is dict:
        return all(type(k) is str and _exact(v) for k, v in value.items())
    return False


class ParseMemo:
    """The memo file of one repository, loaded on first use, written by :meth:`save`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Each value as JSON text: every hit decodes a fresh object that the
        # caller may change.
        self._entries: dict[str, str] | None = None
        # Keys looked up or added by this process: kept first when saving.
        self._used: list[str] = []
        self._dirty = False

    def _load(self) -> dict[str, str]:
        if self._entries is None:
            try:
                data = json.loads(self.path.read_bytes())
                ok = isinstance(data, dict) and data.get("format") == FORMAT
                entries = data.get("entries") if ok else None
                self._entries = entries if isinstance(entries, dict) else {}
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def parse(self, kind: str, text: str, parser: Callable[[], Any]) -> Any:
        """``parser()``'s result for ``text``, from the memo when it has it.
        ``kind`` names the parser: two parsers may read one text differently."""
        key = f"{kind}\0{text}"
        entries = self._load()
        known = entries.get(key)
        if isinstance(known, str):
            try:
                value = json.loads(known)
            except ValueError:
                pass
            else:
                self._used.append(key)
                return value
        value = parser()
        # The key is the whole text: one with a password in a URL (a remote,
        # an import's source) is parsed every time rather than copied here.
        if len(text) <= MAX_ONE and _exact(value) and not has_url_password(text):
            entries[key] = json.dumps(value, separators=(",", ":"))
            self._used.append(key)
            self._dirty = True
        return value

    def save(self) -> None:
        """Writes what this process added (nothing when it added nothing)."""
        if not self._dirty or self._entries is None:
            return
        entries = self._entries
        used = dict.fromkeys(self._used)
        order = list(used) + [k for k in entries if k not in used]
        kept: dict[str, str] = {}
        total = 0
        for key in order:
            total += len(key) + len(entries[key])
            if total > MAX_TEXT:
                break
            kept[key] = entries[key]
        if not self.path.parent.parent.is_dir():
            return  # the repository's .dvc/tmp is gone: nothing to keep
        try:
            self.path.parent.mkdir(exist_ok=True)
            body = json.dumps({"format": FORMAT, "entries": kept}, separators=(",", ":"))
            atomic_write(self.path, body.encode("utf-8"))
        except OSError:
            pass  # a cache: failing to save costs the next command time only
        self._dirty = False
