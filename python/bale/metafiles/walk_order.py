"""The order in which dvc meets metafiles: its index walks the workspace with
``os.walk`` (top-down, each directory's files before its subdirectories, in
the order the file system lists entries), and every command that prints
stages (``status``, ``stage list --all``, ``dag``, ``repro``) prints them in
that order.

bale finds metafiles its own (sorted) way; this sorts them back into dvc's
order, so that output a user compares with dvc's reads the same.
"""

from __future__ import annotations

import os
from pathlib import Path

#: One level of a walk key: (0, i) for a file, (1, i) for a directory, i its
#: place in the listing, so a directory's files sort before its subdirectories.
Key = tuple[tuple[int, int], ...]


class WalkOrder:
    """Sort keys for paths under ``root`` in dvc's walk order; each directory
    is listed once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listings: dict[Path, dict[str, int]] = {}

    def _place(self, parent: Path, name: str) -> int:
        listing = self._listings.get(parent)
        if listing is None:
            try:
                names = os.listdir(parent)  # readdir order, as os.walk's scandir
            except OSError:
                names = []
            listing = self._listings[parent] = {n: i for i, n in enumerate(names)}
        # A name the listing lacks (deleted meanwhile) goes last.
        return listing.get(name, len(listing))

    def key(self, path: Path) -> Key:
        """Where os.walk from ``root`` meets ``path`` (a file under it)."""
        parts = path.relative_to(self.root).parts
        key = []
        here = self.root
        for i, name in enumerate(parts):
            last = i == len(parts) - 1
            key.append((0 if last else 1, self._place(here, name)))
            here = here / name
        return tuple(key)
