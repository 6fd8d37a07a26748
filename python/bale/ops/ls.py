"""``bale ls``: what a repository holds at a revision, as ``dvc ls`` lists
it: the files and directories git tracks and the outputs bale or dvc
tracks, as one tree (``.dvc/`` left out).

A directory output is listed from its manifest only, never its data: from
the source's cache when it is a local repository that has it, else its
directory object is fetched from the source's remote into bale's user
cache. Files inside an md5 directory output have no size (DVC's manifests
record none, and dvc lists None too). Entries carry ``dvc ls --json``'s keys: ``isout``, ``isdir``,
``isexec``, ``size``, ``md5`` (the output's id; for blake3 outputs their
blake3 id) and ``path`` (relative to the listed path). Directories git
tracks have the size of their git tree object, as dvc reports them when it
lists a clone (listing a local repository, dvc reads its working tree
instead, where a directory's size is the file system's).
"""

from __future__ import annotations

import posixpath
from dataclasses import asdict, dataclass
from typing import Any

from bale.exceptions import TargetNotFoundError
from bale.redact import mask_url
from bale.source import Source


@dataclass
class Entry:
    """One listed file or directory."""

    path: str
    isout: bool
    isdir: bool
    isexec: bool
    size: int | None
    md5: str | None

    def to_json(self) -> dict[str, Any]:
        """``dvc ls --json``'s keys, in its order."""
        d = asdict(self)
        return {k: d[k] for k in ("isout", "isdir", "isexec", "size", "md5", "path")}


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def ls(
    url: str | None,
    path: str | None = None,
    *,
    rev: str | None = None,
    recursive: bool = False,
    dvc_only: bool = False,
) -> list[Entry]:
    """The entries of ``path`` (default: the top) in the repository at
    ``url`` at ``rev``: its children, or with ``recursive`` every file
    below it; only outputs (and the directories on their way) with
    ``dvc_only``. A file lists as itself."""
    with Source.open(url, rev) as src:
        return _ls(src, posixpath.normpath(path or ".").strip("/"), recursive, dvc_only)


def _ls(src: Source, target: str, recursive: bool, dvc_only: bool) -> list[Entry]:
    target = "" if target == "." else target
    tree: dict[str, Entry] = {}

    def put(e: Entry) -> None:
        tree.setdefault(e.path, e)

    for name, size in src.git_files():
        if name.split("/", 1)[0] == ".dvc":
            continue
        put(Entry(name, False, False, False, size, None))
    for name, size in src.git_dirs().items():
        if name.split("/", 1)[0] != ".dvc":
            put(Entry(name, False, True, False, size, None))
    outs = {t.path.relative_to(src.root).as_posix(): t for t in src.outputs()}
    for rel, t in outs.items():
        tree[rel] = Entry(rel, True, t.out.is_dir, t.out.isexec, t.out.size, t.out.oid)
        for d in _parents(rel):
            put(Entry(d, False, True, False, None, None))
    # Directory outputs the listing goes into: their manifests.
    for rel, t in outs.items():
        inside = target == rel or target.startswith(rel + "/")
        under = recursive and (not target or rel.startswith(target + "/"))
        if t.out.is_dir and t.out.oid and (inside or under):
            for p, oid, size, isexec in src.manifest(t.algo, t.out.oid):
                full = f"{rel}/{p}"
                # DVC's manifests record no sizes (dvc lists None); bale's trees do.
                known = size if t.algo == "blake3" else None
                tree[full] = Entry(full, True, False, isexec, known, oid)
                for d in _parents(p):
                    put(Entry(f"{rel}/{d}", True, True, False, None, None))
    if target and target not in tree:
        raise TargetNotFoundError(
            f"{target}: no such file or directory in {mask_url(src.url)} at {src.rev_label}"
        )
    if target and not tree[target].isdir:
        e = tree[target]
        found = [Entry(posixpath.basename(e.path), e.isout, e.isdir, e.isexec, e.size, e.md5)]
        return [e for e in found if e.isout or not dvc_only]
    prefix = target + "/" if target else ""
    below = [e for p, e in tree.items() if p.startswith(prefix)]
    if recursive:
        below = [e for e in below if not e.isdir]
    else:
        below = [e for e in below if "/" not in e.path[len(prefix) :]]
    if dvc_only:
        wanted = {p for p in outs} | {d for p in outs for d in _parents(p)}
        below = [e for e in below if e.isout or e.path in wanted]
        below = [
            Entry(e.path, e.isout, e.isdir, e.isexec, None if not e.isout else e.size, e.md5)
            for e in below
        ]
    return sorted(
        (Entry(e.path[len(prefix) :], e.isout, e.isdir, e.isexec, e.size, e.md5) for e in below),
        key=lambda e: e.path,
    )
