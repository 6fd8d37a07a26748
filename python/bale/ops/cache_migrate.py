"""``bale cache migrate``: DVC 2.x cache objects into the DVC 3 layout, as
``dvc cache migrate`` does (``dvc/cachemgr.py: migrate_2_to_3``).

DVC 2.x kept objects at ``<cache>/<xx>/<rest>``, named by their
``md5-dos2unix`` hash (text files hashed with CRLF as LF). DVC 3 (and bale)
keep md5 objects at ``<cache>/files/md5/<xx>/<rest>``, named by the plain
md5 of their bytes. Each legacy object is hashed again with md5 and
hard-linked (copied where links do not work) to its DVC 3 name; the legacy
object stays where it is. A ``.dir`` object keeps its ``.dir`` suffix.

``.dvc`` files still name the 2.x hashes; :func:`migrate_dvcfiles` (dvc's
``--dvc-files``) records their outputs again with md5, as ``bale commit``
records them.
"""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bale import _core, index

if TYPE_CHECKING:
    from bale.repo import Repo

_FANOUT = re.compile(r"[0-9a-f]{2}")
_REST = re.compile(r"[0-9a-f]{30}(\.dir)?")


@dataclass
class Migration:
    """What :func:`migrate` found and did."""

    #: Legacy objects found (all are hashed, as dvc hashes them).
    found: int
    #: Objects given a DVC 3 name that they did not have yet.
    migrated: int


def legacy_objects(cache_dir: Path) -> list[Path]:
    """The DVC 2.x objects of ``cache_dir``: ``<xx>/<30 hex>[.dir]``, beside
    ``files/`` and ``runs/`` (which are DVC 3's)."""
    found = []
    try:
        fanouts = sorted(p for p in cache_dir.iterdir() if _FANOUT.fullmatch(p.name))
    except FileNotFoundError:
        return []
    for fanout in fanouts:
        if fanout.is_dir():
            found += sorted(p for p in fanout.iterdir() if _REST.fullmatch(p.name))
    return found


def migrate(repo: Repo, *, dry: bool = False) -> Migration:
    """Gives every DVC 2.x object of the cache its DVC 3 md5 name; with
    ``dry``, only counts them.

    >>> migrate(Repo("."), dry=True).found  # doctest: +SKIP
    1204
    """
    objects = legacy_objects(repo.cache_dir)
    if dry or not objects:
        return Migration(len(objects), 0)

    def md5(path: Path) -> str:
        oid, _size = _core.hash_file(path, "md5")
        return oid + ".dir" if path.name.endswith(".dir") else oid

    with repo.locked():
        # the engine hashes without the GIL: threads keep the disks busy
        with ThreadPoolExecutor(max_workers=repo.config.jobs() or os.cpu_count()) as pool:
            oids = list(pool.map(md5, objects))
        migrated = sum(_place(repo, src, oid) for src, oid in zip(objects, oids, strict=True))
    return Migration(len(objects), migrated)


def _place(repo: Repo, src: Path, oid: str) -> bool:
    """Links ``src`` to the cache's md5 object ``oid`` unless that is there
    already; True when it was not."""
    dest = Path(repo.workspace.object_path("md5", oid))
    if dest.exists():
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except FileExistsError:
        return False
    except OSError:
        # no hard links here (another file system, or not supported): a
        # copy under a temp name, renamed into place whole
        tmp = _core.temp_path(dest.parent)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
    # cache objects are read-only, so that a linked workspace file cannot
    # be edited in place (dvc's protect)
    dest.chmod(0o444)
    return True


def legacy_dvcfiles(repo: Repo) -> list[Path]:
    """The ``.dvc`` files with an output hashed the DVC 2.x way (no
    ``hash:`` key), sorted."""
    return sorted(
        {t.dvcfile.path for t in index.collect(repo, stages=False) if t.out.hash_name is None}
    )


def legacy_stages(repo: Repo) -> list[str]:
    """The ``dvc.lock`` files with an output hashed the DVC 2.x way, which
    :func:`migrate_dvcfiles` does not rewrite yet (repository-relative)."""
    return sorted(
        {
            t.dvcfile.path.with_name("dvc.lock").relative_to(repo.root).as_posix()
            for t in index.load(repo).outputs()
            if t.out.hash_name is None
        }
    )


def migrate_dvcfiles(repo: Repo, dvcfiles: list[Path]) -> list[Path]:
    """Records every output of ``dvcfiles`` again with md5 (the data must be
    in the workspace, as for ``bale commit``); returns the files changed
    (the ``.dvc`` files, and ``.gitignore`` files that gained an entry)."""
    from bale.ops.commit import commit

    if not dvcfiles:
        return []
    results = commit(repo, [str(p) for p in dvcfiles])
    gitignores = {repo.root / r.gitignore for r in results if r.gitignore}
    return sorted({*dvcfiles, *gitignores})
