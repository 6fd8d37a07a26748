"""Type stub of the compiled engine (rust/bale-py). Checked by mypy.stubtest."""

from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path
from typing import Literal, final

__version__: str
__all__ = [
    "PACKS_DIR",
    "Built",
    "CachedChunks",
    "CheckoutResult",
    "FetchPlan",
    "GcResult",
    "IgnoreCheck",
    "Landing",
    "ObjectReader",
    "PackPush",
    "PlannedDir",
    "PlannedObject",
    "PlotTable",
    "Progress",
    "ReadArrival",
    "RemoteChunks",
    "RemoteIndexes",
    "Status",
    "StoreKey",
    "Transferred",
    "Workspace",
    "__version__",
    "check_ignore",
    "check_index_copies",
    "check_oid",
    "check_pack_index",
    "failpoint",
    "find_metafiles",
    "folder_objects",
    "hash_file",
    "ignored_reason",
    "is_tree",
    "parse_key",
    "probe_links",
    "read_tables",
    "remote_temps",
    "render_points",
    "temp_path",
    "unprotect",
]

_Path = str | PathLike[str]

#: The folder of a remote, beside DVC's ``files/``, that holds bale's packs.
PACKS_DIR: str

@final
class PlannedObject:
    """One object of a sync plan."""

    @property
    def algo(self) -> str: ...
    @property
    def oid(self) -> str: ...
    @property
    def key(self) -> str:
        """Its key on a remote in DVC's layout (its path under the cache root)."""
    @property
    def size(self) -> int | None:
        """Its size in the cache; ``None`` when the cache lacks it."""

@final
class PlannedDir:
    """A directory of a sync plan: its object and the indexes of its files
    in the plan's files (none while the cache lacks its manifest)."""

    @property
    def object(self) -> PlannedObject: ...
    @property
    def members(self) -> list[int]: ...

@final
class StoreKey:
    """What a remote key names, when its content is known by its name."""

    @property
    def kind(self) -> str:
        """``object``, ``pack`` or ``pack-index``."""
    @property
    def algo(self) -> str: ...
    @property
    def oid(self) -> str:
        """The object's id, or the pack's (for a pack index, its pack's)."""
    def verify(self, path: _Path) -> bool:
        """Whether the file at ``path`` is what the key names."""

@final
class Progress:
    """Counters the engine advances; read them from Python to draw progress."""

    def __new__(cls) -> Progress: ...
    @property
    def total(self) -> int: ...
    @property
    def done(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    def cancel(self) -> None: ...
    def reset(self) -> None: ...

@final
class Built:
    @property
    def oid(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def nfiles(self) -> int | None: ...
    @property
    def isexec(self) -> bool: ...
    @property
    def hashed(self) -> int: ...
    @property
    def stored(self) -> int: ...
    @property
    def skipped(self) -> list[tuple[str, str]]: ...

@final
class Status:
    @property
    def oid(self) -> str | None: ...
    @property
    def size(self) -> int: ...
    @property
    def nfiles(self) -> int | None: ...
    @property
    def added(self) -> list[str]: ...
    @property
    def deleted(self) -> list[str]: ...
    @property
    def modified(self) -> list[str]: ...
    @property
    def in_cache(self) -> bool: ...
    @property
    def not_in_cache(self) -> list[str]: ...
    @property
    def hashed(self) -> int: ...

@final
class CheckoutResult:
    @property
    def added(self) -> list[str]: ...
    @property
    def modified(self) -> list[str]: ...
    @property
    def deleted(self) -> list[str]: ...
    @property
    def unchanged(self) -> int: ...
    @property
    def missing(self) -> list[str]: ...
    @property
    def link_type(self) -> str | None: ...
    @property
    def skipped_temps(self) -> list[str]: ...

@final
class Transferred:
    @property
    def copied(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def present(self) -> int: ...
    @property
    def missing(self) -> list[str]: ...

@final
class ObjectReader:
    """A cache object read for an upload, hashed on the way: the read that
    reaches the end raises ``CorruptObjectError`` instead of giving the last
    bytes if the object is not what its name says."""

    def __new__(cls, path: _Path, algo: str, oid: str) -> ObjectReader: ...
    @property
    def size(self) -> int: ...
    def read(self, n: int) -> bytes: ...
    def verify(self) -> None: ...

@final
class CachedChunks:
    """A chunked file of the cache, open for ranged reads."""

    @property
    def size(self) -> int: ...
    @property
    def count(self) -> int: ...
    def span(self, start: int, end: int) -> tuple[int, int]:
        """``(first, last)``: chunks ``first..last`` hold bytes ``start..end``."""
    def offset(self, i: int) -> int:
        """Where chunk ``i`` starts (``count`` gives the size)."""
    def read(self, first: int, last: int) -> bytes:
        """Chunks ``first..last``, each verified against its id."""

@final
class RemoteIndexes:
    """The union of a remote's pack indexes (its local copies), for reads."""

    def __new__(cls, index_dir: _Path) -> RemoteIndexes: ...
    def locate(self, oid: str) -> tuple[str, str, int, int] | None:
        """``("list" | "whole", pack key, start, end)`` of the blake3 file
        ``oid``: its chunk list, or its bytes in one piece."""
    def read_whole(
        self, root: _Path, oids: Sequence[str], limit: int, jobs: int | None = None
    ) -> list[bytes | None]:
        """The bytes of each blake3 file the folder remote at ``root`` holds
        in one piece of at most ``limit`` bytes, read from its packs and
        verified, in parallel; None for the others."""
    def copy_whole(
        self,
        root: _Path,
        items: Sequence[tuple[str, _Path, bool]],
        limit: int,
        progress: Progress | None = None,
        tick: Callable[[], object] | None = None,
        jobs: int | None = None,
    ) -> list[int]:
        """Writes each ``(oid, dest, isexec)`` file the folder remote at
        ``root`` holds in one piece at ``dest``, from its packs, verified
        first (atomically, parents made), in parallel; the indices of the
        items not written (held otherwise)."""
    def open_chunks(self, oid: str, list: bytes, source: str) -> RemoteChunks:
        """The chunked file from its list's bytes (checked; a two-level
        list's segments are loaded as reads need them)."""

@final
class RemoteChunks:
    """A chunked file of a remote, open for ranged reads."""

    @property
    def size(self) -> int: ...
    @property
    def count(self) -> int: ...
    def missing(self, start: int, end: int) -> list[int]:
        """The segments (by number) that cover bytes ``start..end`` and are
        not loaded yet: ``span``, ``offset`` and ``reads`` need them."""
    def segment_reads(self, parts: list[int]) -> list[tuple[str, int, int]]: ...
    def add_segments(self, parts: list[int], data: list[bytes]) -> None:
        """Loads segments ``parts`` from the bytes of ``segment_reads(parts)``,
        each checked against its id and the top list."""
    def span(self, start: int, end: int) -> tuple[int, int]: ...
    def offset(self, i: int) -> int: ...
    def reads(self, first: int, last: int) -> list[tuple[str, int, int]]:
        """``(pack key, start, end)`` of the ranged reads that bring chunks ``first..last``."""
    def verify(self, first: int, last: int, data: list[bytes]) -> bytes:
        """Chunks ``first..last`` cut from ``data`` (the bytes of
        ``reads(first, last)``, in order), each verified against its id."""

@final
class Landing:
    """A download landing in the cache, hashed while its parts arrive."""

    @property
    def path(self) -> Path | None: ...
    def write(self, data: bytes, offset: int) -> None: ...
    def writev(self, pieces: list[bytes], offset: int) -> None: ...
    def close(self) -> None: ...
    def discard(self) -> None: ...

@final
class GcResult:
    @property
    def removed(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def kept(self) -> int: ...
    @property
    def compacted(self) -> int: ...
    @property
    def compacted_bytes(self) -> int: ...
    @property
    def chunks_written(self) -> int: ...
    @property
    def chunk_bytes(self) -> int: ...

@final
class PlotTable:
    """A plot data file's records, each key and value already the JSON text
    ``json.dumps`` writes for what dvc reads from it (made by
    :func:`read_tables`)."""

    def __len__(self) -> int: ...
    def first_keys(self) -> list[str]:
        """The first record's keys, as JSON."""
    @property
    def inferred_y(self) -> str | None:
        """The y field dvc infers for a plot of this file alone, as JSON."""

def read_tables(
    jobs: list[tuple[Literal["csv", "tsv", "json"], bytes]],
) -> list[PlotTable | None]:
    """Each file's records, read in parallel: a CSV/TSV file with a header
    line as dvc's reader splits it, a JSON document's datapoints (dvc's
    ``get_datapoints``); None where Python's ``csv`` or ``json`` would read
    it otherwise (quotes, ragged rows, malformed JSON): Python must read it."""

def render_points(
    jobs: list[tuple[PlotTable, list[tuple[str, str, str | None, PlotTable | None]], list[str]]],
) -> list[tuple[bytes, list[str]]]:
    """Each ``(table, sets, removes)`` job's datapoints: every record with
    the ``(key, kind, text, table)`` sets applied (``kind``: ``const``,
    ``index``, ``field``, ``other``), then ``removes`` taken out; written
    as ``json.dumps`` writes a list's items, with every key they have."""

@final
class IgnoreCheck:
    """Whether a path is ignored, and the rule that decided (dvc check-ignore)."""

    @property
    def ignored(self) -> bool: ...
    @property
    def kind(self) -> Literal["dvcignore", "default", "subrepo", "bale-temp"] | None:
        """None when no rule matched the path."""
    @property
    def file(self) -> str | None:
        """The ``.dvcignore`` holding the pattern, relative to the root."""
    @property
    def line(self) -> int:
        """The pattern's line, from 1; 0 for a rule that is no line."""
    @property
    def pattern(self) -> str | None:
        """The pattern as written; a sub-repository's or temp file's name."""
    @property
    def negated(self) -> bool: ...

@final
class Workspace:
    def __new__(
        cls,
        root: _Path,
        cache_dir: _Path,
        state_path: _Path | None = None,
        jobs: int | None = None,
        shared_group: bool = False,
    ) -> Workspace: ...
    @property
    def cache_dir(self) -> Path: ...
    def build(
        self,
        target: _Path,
        algo: str,
        store: bool,
        clone: bool = False,
        progress: Progress | None = None,
        tick: Callable[[], object] | None = None,
        previous: str | None = None,
    ) -> Built: ...
    def scan(
        self,
        target: _Path,
        algo: str,
        progress: Progress | None = None,
        tick: Callable[[], object] | None = None,
    ) -> tuple[str, list[tuple[str, str]]]: ...
    def scan_by_path(
        self,
        target: _Path,
        algo: str,
        prefix: str,
        progress: Progress | None = None,
        tick: Callable[[], object] | None = None,
    ) -> tuple[str, dict[str, tuple[str, str]]]:
        """``scan``'s id, and the files as ``{f"{prefix}/{relpath}": (algo,
        oid)}`` (none for a file)."""
    def status(
        self,
        target: _Path,
        algo: str,
        oid: str | None,
        progress: Progress | None = None,
        tick: Callable[[], object] | None = None,
    ) -> Status: ...
    def checkout(
        self,
        target: _Path,
        algo: str,
        oid: str,
        isexec: bool = False,
        link_types: list[str] = ...,
        force: bool = False,
        relink: bool = False,
        subpath: str | None = None,
        progress: Progress | None = None,
        tick: Callable[[], object] | None = None,
        relink_only: bool = False,
    ) -> CheckoutResult: ...
    def copy_out(
        self,
        items: Sequence[tuple[str, str, _Path, bool]],
        link_types: list[str],
        progress: Progress | None = None,
        tick: Callable[[], object] | None = None,
        jobs: int | None = None,
        source: _Path | None = None,
        take: bool = False,
    ) -> list[int]:
        """Writes each ``(algo, oid, dest, isexec)`` object at ``dest``
        (atomically, parents made, every object verified first), in
        parallel; the indices of the items whose object the cache does not
        hold whole (nothing written for those). With ``source`` (a folder
        remote in the cache's layout) the objects come from there. With
        ``take`` (a cache thrown away after), each object is moved to the
        last item that wants it, copied to the others."""
    def read_small(
        self,
        items: Sequence[tuple[str, str]],
        limit: int,
        jobs: int | None = None,
        source: _Path | None = None,
    ) -> list[bytes | None]:
        """The bytes of each ``(algo, oid)`` object held whole and no bigger
        than ``limit`` (with ``source``: in that folder remote instead),
        each verified, read in parallel; None for the others."""
    def manifest(self, algo: str, oid: str) -> list[tuple[str, str, int, bool]]: ...
    def manifest_by_path(self, algo: str, oid: str, prefix: str) -> dict[str, tuple[str, str]]:
        """The files of a directory object as ``{f"{prefix}/{relpath}":
        (algo, oid)}``, read and verified as ``manifest`` reads them."""
    def subtrees(self, oid: str) -> list[tuple[str, str]]:
        """The ``(id, name)`` of the sub-trees the blake3 tree ``oid`` lists,
        read and verified."""
    def empty_dirs(self, algo: str, oid: str) -> list[str]:
        """The empty directories a directory object records (``manifest``
        leaves them out)."""
    def manifest_lookup(
        self, algo: str, oid: str, rel: str
    ) -> tuple[tuple[str, str, int, bool] | None, bool]:
        """What the manifest ``oid`` has at ``rel``: ``(entry, False)`` for a
        file, ``(None, True)`` for a directory, ``(None, False)`` for nothing."""
    def recent_trees(self, algo: str, limit: int) -> list[str]: ...
    def object_path(self, algo: str, oid: str) -> Path: ...
    def object_key(self, algo: str, oid: str) -> str: ...
    def exists(self, algo: str, oid: str) -> bool: ...
    def absent(self, algo: str, oids: list[str]) -> list[str]:
        """The ids among ``oids`` the cache does not hold, in their order."""
    def absent_files(self, algo: str, oid: str) -> list[str]:
        """The files of the directory object ``oid`` whose objects the cache
        lacks, by path in the directory, sorted; answered without reading it
        when it was found complete before and no object came or went."""
    def verified_object(self, algo: str, oid: str, hash: bool = True) -> int | None:
        """The object's size if the cache holds it known good: the stat
        cache vouches for it, or (with ``hash``) it is hashed now. ``None``
        if absent or not vouched for; ``CorruptObjectError`` if it does not
        hash to its id."""
    def cached_chunks(self, oid: str) -> CachedChunks | None:
        """The blake3 file's chunk list, open for ranged reads of the
        cache; ``None`` when the cache holds no list for it."""
    def sweep_temps(self, dirs: Sequence[_Path], trees: Sequence[_Path]) -> list[Path]: ...
    def gc(
        self,
        keep: list[tuple[str, str]],
        dry: bool = False,
        compact: bool = False,
        whole: list[tuple[str, str]] = ...,
    ) -> GcResult: ...
    def transfer(
        self,
        remote_root: _Path,
        oids: list[tuple[str, str]],
        push: bool,
        progress: Progress | None = None,
        tick: Callable[[], object] | None = None,
        jobs: int | None = None,
    ) -> Transferred: ...
    def sync_plan(
        self,
        roots: list[tuple[str, str]],
        progress: Progress | None = None,
        tick: Callable[[], object] | None = None,
        repair: bool = False,
    ) -> tuple[list[PlannedObject], list[PlannedDir]]: ...
    def push_plan(
        self,
        roots: list[tuple[str, str]],
        vouched_by: list[tuple[str, str]],
        progress: Progress | None = None,
        tick: Callable[[], object] | None = None,
    ) -> tuple[list[PlannedObject], list[PlannedDir], int]: ...
    def landing(self, algo: str, oid: str) -> Landing: ...
    def ingest_landed(self, landing: Landing, source: str) -> int: ...
    def ingest_bytes_many(self, items: list[tuple[str, str, bytes, str]]) -> list[int]: ...
    def pack_push(
        self,
        roots: list[tuple[str, str]],
        index_dir: _Path,
        staging: _Path,
        target: int,
        tick: Callable[[], object] | None = None,
    ) -> PackPush: ...
    def pack_write(
        self, plan: PackPush, i: int, progress: Progress | None = None
    ) -> tuple[Path, Path, str, str, int, int, int]:
        """``(pack path, index path, pack key, index key, bytes, objects,
        files)``: files count a chunked file's list, not its chunks."""
    def pack_fetch_plan(
        self,
        roots: list[tuple[str, str]],
        index_dir: _Path,
        staging: _Path,
        max_gap: int = ...,
        max_read: int = ...,
        shallow: bool = False,
    ) -> FetchPlan: ...
    def graft(
        self,
        dir_algo: str,
        dir: str,
        rel: str,
        algo: str,
        oid: str,
        size: int,
        isexec: bool,
    ) -> tuple[str, int, int, bool]:
        """The directory output ``dir`` after ``add`` of ``rel`` inside it
        (built with ``algo`` to ``oid``): ``(new id, size, file count,
        whether a file was replaced)``, stored."""
    def tree_entry(self, oid: str, path: str) -> str | None: ...
    def stored(
        self, roots: list[tuple[str, str]], index_dir: _Path | None = None
    ) -> tuple[int, int | None]: ...
    def read_arrival(self, plan: FetchPlan, i: int) -> ReadArrival:
        """The sink read ``i`` of ``plan`` downloads into."""
    def ingest_arrival(self, arrival: ReadArrival) -> tuple[int, int, int]:
        """``(objects stored, files and trees among them, bytes)``."""
    def pack_fetch_finish(self, plan: FetchPlan) -> int: ...
    def pack_usage(
        self, roots: list[tuple[str, str]], index_dir: _Path
    ) -> list[tuple[str, str, int, int, int, bool, int]]:
        """``(pack key, index key, bytes, live objects, objects, repack,
        bytes not live)``."""
    def take_moved_aside(self) -> list[tuple[str, Path]]: ...
    @property
    def corrupt_dir(self) -> Path: ...
    def pack_repack(
        self,
        roots: list[tuple[str, str]],
        index_dir: _Path,
        packs: Sequence[tuple[_Path, str]],
        out_dir: _Path,
    ) -> list[tuple[Path, Path, str, str, int, int, int]]: ...
    def pack_presence(
        self, roots: list[tuple[str, str]], index_dir: _Path
    ) -> list[tuple[str, bool, bool, bool]]:
        """``(oid, in the cache, on the remote, checked)``."""
    def save(self) -> None: ...

@final
class PackPush:
    """The packs a push uploads, in order; ``Workspace.pack_write`` writes each."""

    @property
    def packs(self) -> list[tuple[bool, int]]: ...
    @property
    def missing(self) -> list[str]: ...
    @property
    def present(self) -> int: ...

@final
class FetchPlan:
    """The ranged reads of one fetch round."""

    @property
    def reads(self) -> list[tuple[str, int, int]]: ...
    @property
    def missing(self) -> list[str]: ...
    @property
    def wanted_bytes(self) -> int: ...
    @property
    def rebuilt(self) -> int: ...
    def discard(self) -> None: ...

@final
class ReadArrival:
    """The bytes of one read of a fetch, each object verified and stored
    as its last byte arrives."""

    def write(self, data: bytes, offset: int) -> None: ...
    def writev(self, pieces: list[bytes], offset: int) -> None: ...
    def close(self) -> None: ...
    def discard(self) -> None: ...

def check_oid(algo: str, oid: str) -> None: ...
def check_pack_index(path: _Path, pack: str) -> None: ...
def check_index_copies(index_dir: _Path) -> list[str]: ...
def failpoint(name: str) -> None: ...
def hash_file(path: _Path, algo: str) -> tuple[str, int]: ...
def check_ignore(repo_root: _Path, path: _Path) -> IgnoreCheck: ...
def ignored_reason(repo_root: _Path, path: _Path) -> str | None: ...
def remote_temps(root: _Path) -> list[tuple[Path, int]]: ...
def temp_path(dir: _Path) -> Path: ...
def unprotect(path: _Path) -> int: ...
def probe_links(cache_dir: _Path, workspace_dir: _Path) -> list[str]: ...
def find_metafiles(repo_root: _Path) -> list[str]: ...
def parse_key(key: str) -> StoreKey | None: ...
def is_tree(oid: str) -> bool: ...
def folder_objects(root: _Path) -> list[tuple[str, int]]: ...
