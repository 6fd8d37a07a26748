"""The little bale needs from git, through the ``git`` command.

:func:`uses_git` is the one place that decides whether a repository may use
git at all, and :func:`require_git` the one refusal for commands that cannot
work without it: with ``core.no_scm`` set (``bale init --no-scm`` sets it)
bale, like dvc, writes no ``.gitignore`` entries, stages nothing and reads no
revision, even inside a git work tree.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from bale.exceptions import BaleError, NoSCMError

if TYPE_CHECKING:
    from bale.repo import Repo


def git(
    root: Path,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            check=False,
            env={**os.environ, **env} if env else None,
            input=input,
        )
    except FileNotFoundError:
        raise BaleError("git is not installed") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise BaleError(f"git {' '.join(args)}: {msg[-1] if msg else 'failed'}")
    return proc


def uses_git(repo: Repo) -> bool:
    """Whether bale may touch git for ``repo``: ``core.no_scm`` unset and the
    repository inside a git work tree (dvc's SCM versus NoSCM)."""
    return not repo.config.core_no_scm() and is_git_repo(repo.root)


def require_git(repo: Repo, what: str) -> None:
    """Raises NoSCMError when ``what`` (a command, for the message) needs git
    revisions and ``repo`` may not use git: dvc says "Only supported for Git
    repositories" and exits non-zero there."""
    if repo.config.core_no_scm():
        origin = repo.config.origin("core.no_scm")
        where = ""
        if origin is not None:
            shown = origin.relative_to(repo.root) if origin.is_relative_to(repo.root) else origin
            where = f" in {shown.as_posix()}"
        raise NoSCMError(
            f"{what}: only supported with git, and core.no_scm is set{where} "
            "(to use git: bale config core.no_scm false)"
        )
    if not is_git_repo(repo.root):
        raise NoSCMError(f"{what}: only supported in a git repository")


def is_git_repo(root: Path) -> bool:
    """Whether ``root`` is inside a git work tree."""
    try:
        proc = git(root, "rev-parse", "--is-inside-work-tree", check=False)
    except BaleError:
        return False
    return proc.returncode == 0 and proc.stdout.strip() == b"true"


@functools.lru_cache(maxsize=16)
def toplevel(root: Path) -> Path:
    """The root of the git work tree that holds ``root`` (asked once per process)."""
    return Path(git(root, "rev-parse", "--show-toplevel").stdout.decode().strip())


def subdir(root: Path) -> str:
    """Where ``root`` lies in its git work tree: ``.`` at the top, else a
    relative path such as ``a/b``."""
    return root.relative_to(toplevel(root)).as_posix()


def head(root: Path) -> tuple[str, str] | None:
    """HEAD's commit id and branch name (``HEAD`` when detached), in one
    call; None outside git or before the first commit."""
    try:
        out = git(root, "rev-parse", "HEAD", "--abbrev-ref", "HEAD", check=False)
    except BaleError:
        return None
    lines = out.stdout.decode().split()
    if out.returncode != 0 or len(lines) != 2:
        return None
    return lines[0], lines[1]


def git_add(root: Path, paths: list[Path]) -> None:
    """Stages ``paths`` (as ``dvc init`` and autostage do)."""
    if paths:
        git(root, "add", "--", *[str(p) for p in paths])


def resolve_rev(root: Path, rev: str) -> str:
    """The commit id of ``rev``."""
    out = git(root, "rev-parse", "--verify", f"{rev}^{{commit}}", check=False)
    if out.returncode != 0:
        raise BaleError(f"unknown git revision '{rev}'")
    return out.stdout.decode().strip()


def files_at(root: Path, rev: str, suffix: str) -> list[tuple[str, str]]:
    """``(path, blob id)`` of the files at ``rev`` whose path ends in ``suffix``;
    paths relative to the top of the git work tree."""
    # A commit id names one tree forever: its listing is read once per process
    # (a metrics diff asks for a revision's dvc.yaml, dvc.lock and all files).
    is_id = len(rev) == 40 and all(c in "0123456789abcdef" for c in rev)
    listing = _tree(root, rev) if is_id else _tree.__wrapped__(root, rev)
    return [(name, blob) for name, blob in listing if name.endswith(suffix)]


def files_under(root: Path, rev: str, suffix: str = "") -> list[tuple[str, str]]:
    """:func:`files_at`, only those under ``root``: a repository in a
    subdirectory of its git work tree (``dvc init --subdir``) sees its own
    files. Paths stay relative to the top of the work tree."""
    found = files_at(root, rev, suffix)
    prefix = subdir(root)
    return found if prefix == "." else [(n, b) for n, b in found if n.startswith(prefix + "/")]


def sized_blobs(listing: bytes) -> list[tuple[str, str, int | None]]:
    """The files of ``git ls-tree -r -l -z`` output: ``(path from the top,
    mode, size)`` (no size for a submodule's or an unreadable entry)."""
    found = []
    for line in listing.decode("utf-8", errors="surrogateescape").split("\0"):
        meta, _tab, name = line.partition("\t")
        parts = meta.split()
        if len(parts) == 4 and parts[1] == "blob":
            found.append((name, parts[0], int(parts[3]) if parts[3].isdigit() else None))
    return found


@functools.lru_cache(maxsize=4)
def _tree(root: Path, rev: str) -> tuple[tuple[str, str], ...]:
    """Every blob of ``rev``'s tree (``ls-tree -r``), read through the
    process's :class:`_ObjectReader`: a subtree shared by many revisions is
    read and parsed once."""
    if _OID.fullmatch(rev) is None:
        # a name is resolved now (a reader's refs could be stale), an id never changes
        rev = git(root, "rev-parse", "--verify", f"{rev}^{{tree}}").stdout.decode().strip()
    reader = _ObjectReader.of(root)
    top = reader.read(f"{rev}^{{tree}}")
    if top is None or top[0] != b"tree":
        raise BaleError(f"git: {rev} is not a commit or tree")
    return reader.files(top[1])


def prefetch_trees(root: Path, commits: list[str]) -> None:
    """Reads ahead the trees of many commits (ids) in a few round trips, for
    a command about to list the files of each (``metrics show -A``)."""
    _ObjectReader.of(root).prefetch_trees(commits)


def prefetch_blobs(root: Path, blobs: list[str]) -> None:
    """Reads ahead small blobs (ids) in one round trip, for a command about
    to read them one revision at a time: as many as the reader's cache
    holds, in the order given (the first read first), so that reading
    ahead never costs more memory than the cache, nor reads twice what it
    would evict before use."""
    _ObjectReader.of(root).prefetch_blobs(list(dict.fromkeys(blobs)))


def _git_marker(root: Path) -> tuple[str, int, int, int] | None:
    """Who the ``.git`` that ``root`` is in is: its path, device and inode,
    and its change time, since a repository made again may get the freed
    inode (the time also moves when git writes there: a reader is then
    opened anew)."""
    for d in (root, *root.parents):
        where = os.path.join(d, ".git")
        try:
            st = os.stat(where)
        except OSError:
            continue
        return where, st.st_dev, st.st_ino, st.st_ctime_ns
    return None


def _same_git(marker: tuple[str, int, int, int] | None, root: Path) -> bool:
    """Whether ``root``'s ``.git`` is still the one ``marker`` recorded (a
    reader is asked for every object read: string paths, no pathlib)."""
    if marker is None:
        return _git_marker(root) is None
    top = os.path.dirname(marker[0])
    d = str(root)
    while d != top:  # a repository made since in between would be root's now
        if os.path.lexists(os.path.join(d, ".git")):
            return False
        up = os.path.dirname(d)
        if up == d:
            return False
        d = up
    try:
        st = os.stat(marker[0])
    except OSError:
        return False
    return (st.st_dev, st.st_ino, st.st_ctime_ns) == marker[1:]


_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
#: ``<id>`` or ``<id>:path``: names whose object never changes, which a
#: long-lived reader may answer (a ref name is resolved by a fresh process).
_FIXED = re.compile(r"([0-9a-f]{40}|[0-9a-f]{64})(:.*)?", re.DOTALL)


class _ObjectReader:
    """One ``git cat-file --batch`` for the life of the process, per
    repository: a revision's files cost a pipe round trip each instead of a
    process each (``metrics show -A`` reads five files a commit, and a
    process costs milliseconds). Asked only for names of fixed objects."""

    _open: ClassVar[dict[Path, _ObjectReader]] = {}
    #: Readers kept open at once (a process touching many repositories, as
    #: the Python API or a test run may, keeps a few git processes, not one each).
    _KEEP = 4

    def __init__(self, root: Path) -> None:
        self._marker = _git_marker(root)
        self._proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        # subtree id -> its files, paths relative to it
        self._trees: dict[bytes, tuple[tuple[str, str], ...]] = {}
        # Trees read ahead by :meth:`prefetch_trees`, by the name asked:
        # ``<commit>^{tree}``, kept (small, and a command may list a
        # revision's files more than once), and a subtree's id, handed out
        # once (then parsed into _trees).
        self._ahead: dict[str, bytes] = {}
        # Small blobs by id, most recently used last: a dvc.yaml that many
        # revisions share is read once (bounded by _BLOB_BYTES).
        self._blobs: dict[str, bytes] = {}
        self._blob_bytes = 0

    @classmethod
    def of(cls, root: Path) -> _ObjectReader:
        reader = cls._open.pop(root, None)
        # a repository made again at the same path is another object database
        if reader is not None and (
            reader._proc.poll() is not None or not _same_git(reader._marker, root)
        ):
            reader.close()
            reader = None
        if reader is None:
            while len(cls._open) >= cls._KEEP:
                cls._open.pop(next(iter(cls._open))).close()
            reader = cls(root)
        cls._open[root] = reader  # the most recently used last
        return reader

    def close(self) -> None:
        """Ends the git process (it exits at the end of its input)."""
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def read(self, name: str) -> tuple[bytes, bytes] | None:
        """``(type, content)`` of the object ``name``; None if it is missing."""
        return self.read_many([name])[0]

    #: What the blob cache holds at most, and the largest blob it keeps.
    _BLOB_BYTES = 32 << 20
    _BLOB_MAX = 1 << 20

    def read_many(self, names: list[str]) -> list[tuple[bytes, bytes] | None]:
        """:meth:`read` of each name; the answers :meth:`prefetch_trees` and
        the blob cache hold are not asked of git again."""
        found: list[tuple[bytes, bytes] | None] = [None] * len(names)
        ask: list[int] = []
        for i, name in enumerate(names):
            tree = self._ahead.get(name) if name.endswith("}") else self._ahead.pop(name, None)
            if tree is not None:
                found[i] = (b"tree", tree)
                continue
            blob = self._blobs.pop(name, None)
            if blob is not None:
                self._blobs[name] = blob  # now the most recently used
                found[i] = (b"blob", blob)
                continue
            ask.append(i)
        if ask:
            got = self._ask([names[i] for i in ask])
            for i, answer in zip(ask, got, strict=True):
                found[i] = answer
                if answer is not None and answer[0] == b"blob" and _OID.fullmatch(names[i]):
                    self._keep_blob(names[i], answer[1])
        return found

    def prefetch_blobs(self, oids: list[str]) -> None:
        """See :func:`prefetch_blobs`: a few dozen at a time (what one
        read holds at once), kept while the cache has room, so that none
        read ahead evicts another before it is used."""
        ask = [o for o in oids if o not in self._blobs and _OID.fullmatch(o)]
        for i in range(0, len(ask), 64):
            chunk = ask[i : i + 64]
            for oid, got in zip(chunk, self._ask(chunk), strict=True):
                if got is None or got[0] != b"blob" or len(got[1]) > self._BLOB_MAX:
                    continue
                if self._blob_bytes + len(got[1]) > self._BLOB_BYTES:
                    return
                self._keep_blob(oid, got[1])

    def _keep_blob(self, oid: str, data: bytes) -> None:
        if len(data) > self._BLOB_MAX or oid in self._blobs:
            return
        self._blobs[oid] = data
        self._blob_bytes += len(data)
        while self._blob_bytes > self._BLOB_BYTES:
            self._blob_bytes -= len(self._blobs.pop(next(iter(self._blobs))))

    def prefetch_trees(self, commits: list[str]) -> None:
        """Reads the root trees of ``commits`` (ids) and every subtree in
        them not parsed yet, a round trip per level of depth for all the
        commits together, so that :func:`files_at` of each then asks git
        nothing: ``metrics show -A`` over 200 commits cost a round trip per
        subtree per commit before."""
        names = [f"{c}^{{tree}}" for c in commits]
        level: list[bytes] = []
        for name, got in zip(names, self._ask(names), strict=True):
            if got is not None and got[0] == b"tree":
                self._ahead[name] = got[1]
                level.append(got[1])
        while level:
            subs = list(
                dict.fromkeys(
                    oid.hex()
                    for raw in level
                    for oid in self._subtree_ids(raw)
                    if oid not in self._trees and oid.hex() not in self._ahead
                )
            )
            level = []
            for name, got in zip(subs, self._ask(subs) if subs else [], strict=True):
                if got is not None and got[0] == b"tree":
                    self._ahead[name] = got[1]
                    level.append(got[1])

    def _subtree_ids(self, tree: bytes) -> list[bytes]:
        """The ids of the trees directly in ``tree`` (its content)."""
        found = []
        width = self._width
        pos = 0
        while pos < len(tree):
            space = tree.index(b" ", pos)
            nul = tree.index(b"\0", space)
            if tree[pos:space] == b"40000":
                found.append(tree[nul + 1 : nul + 1 + width])
            pos = nul + 1 + width
        return found

    def _ask(self, names: list[str]) -> list[tuple[bytes, bytes] | None]:
        """The answers of git to ``names``, the requests written while the
        answers are read (a thread writes: git blocks once its output pipe
        is full)."""
        if not names:
            return []
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout
        request = b"".join(n.encode("utf-8", "surrogateescape") + b"\n" for n in names)

        def write() -> None:
            with contextlib.suppress(OSError):  # a dead git shows as a short answer
                stdin.write(request)
                stdin.flush()

        writer = None
        if len(names) == 1:
            write()
        else:
            writer = threading.Thread(target=write, daemon=True)
            writer.start()
        found: list[tuple[bytes, bytes] | None] = []
        try:
            for _ in names:
                header = stdout.readline().split()
                if not header:
                    raise ValueError("git cat-file ended")
                if len(header) != 3:  # "<name> missing" / "ambiguous"
                    found.append(None)
                    continue
                size = int(header[2])
                data = stdout.read(size + 1)[:size]
                # an id's width in a tree entry: 20 bytes, 32 in a SHA-256 repository
                self._width = len(header[0]) // 2
                found.append((header[1], data))
        except (OSError, ValueError) as e:
            for root, reader in list(self._open.items()):
                if reader is self:
                    del self._open[root]
            raise BaleError(f"git cat-file: {e}") from None
        finally:
            if writer is not None:
                writer.join()
        return found

    def files(self, tree: bytes) -> tuple[tuple[str, str], ...]:
        """``(path, blob id)`` of every file below the tree ``tree`` (its
        content), as ``ls-tree -r`` lists them: symlinks count, submodules not."""
        found: list[tuple[str, str]] = []
        width = self._width
        pos = 0
        while pos < len(tree):
            space = tree.index(b" ", pos)
            nul = tree.index(b"\0", space)
            mode, name = tree[pos:space], tree[space + 1 : nul].decode("utf-8", "surrogateescape")
            oid = tree[nul + 1 : nul + 1 + width]
            pos = nul + 1 + width
            if mode == b"40000":
                for sub, blob in self._subtree(oid):
                    found.append((f"{name}/{sub}", blob))
            elif mode != b"160000":
                found.append((name, oid.hex()))
        return tuple(found)

    _width = 20

    def _subtree(self, oid: bytes) -> tuple[tuple[str, str], ...]:
        files = self._trees.get(oid)
        if files is None:
            got = self.read(oid.hex())
            if got is None or got[0] != b"tree":
                raise BaleError(f"git cat-file: cannot read tree {oid.hex()}")
            files = self._trees[oid] = self.files(got[1])
        return files


def read_blobs(root: Path, blobs: list[str]) -> dict[str, bytes]:
    """The contents of many blobs, through one ``git cat-file --batch``."""
    found = _cat_batch(root, blobs)
    missing = [b for b, data in found.items() if data is None]
    if missing:
        raise BaleError(f"git cat-file: cannot read blob {missing[0]}")
    return {b: data for b, data in found.items() if data is not None}


def _cat_batch(root: Path, names: list[str]) -> dict[str, bytes | None]:
    """Blob contents by any name ``cat-file`` takes (an id, ``rev:path``);
    None for what is missing or not a blob. Names of fixed objects go to the
    process's :class:`_ObjectReader`, others to a fresh ``cat-file``."""
    if not names:
        return {}
    unique = list(dict.fromkeys(names))
    if all(_FIXED.fullmatch(n) for n in unique):
        got = dict(zip(unique, _ObjectReader.of(root).read_many(unique), strict=True))
        return {n: (g[1] if g is not None and g[0] == b"blob" else None) for n, g in got.items()}
    proc = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=root,
        input="".join(n + "\n" for n in unique).encode(),
        capture_output=True,
        check=True,
    )
    data, pos = proc.stdout, 0
    out: dict[str, bytes | None] = {}
    for name in unique:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[-1] == b"missing":
            out[name] = None
            continue
        size = int(header[2])
        out[name] = data[pos : pos + size] if header[1] == b"blob" else None
        pos += size + 1  # the content is followed by a newline
    return out


#: What dvc's ``-A`` walks (scmrepo's ``list_all_commits``): HEAD, branches,
#: remote branches and tags; not ``refs/exps`` (experiments have their own
#: flag) nor ``refs/stash``, which ``rev-list --all`` would add.
ALL_COMMITS = ("HEAD", "--branches", "--tags", "--remotes")


def revisions(
    root: Path,
    *,
    all_branches: bool = False,
    all_tags: bool = False,
    all_commits: bool = False,
    all_experiments: bool = False,
    commit_date: str | None = None,
    revs: list[str] | None = None,
    num: int = 1,
) -> list[str]:
    """Commit ids of the revisions a scope names, each once, as dvc's
    ``iter_revs`` picks them: ``--rev`` and ``-a`` with the ``num - 1``
    first-parent ancestors of each, ``-T``, ``-A``, every commit of
    ``commit_date`` (``YYYY-MM-DD``, local midnight) or later, and with
    ``all_experiments`` every experiment's commits down to its baseline."""
    found: list[str] = []
    heads = [resolve_rev(root, r) for r in revs or []]
    if all_branches and not all_commits:
        heads += _ref_commits(root, "refs/heads")
    for head in heads:
        chain = git(root, "rev-list", "--first-parent", f"--max-count={max(num, 0)}", head)
        found += chain.stdout.decode().split()
    if all_commits:
        found += git(root, "rev-list", *ALL_COMMITS).stdout.decode().split()
    else:
        if all_tags:
            found += _ref_commits(root, "refs/tags")
        if commit_date:
            since = _local_midnight(commit_date)
            out = git(root, "log", "--format=%H %ct", *ALL_COMMITS).stdout.decode()
            found += [c for c, t in (line.split() for line in out.splitlines()) if int(t) >= since]
    if all_experiments:
        out = git(root, "for-each-ref", "--format=%(refname)", "refs/exps").stdout.decode()
        for ref in out.split():
            parts = ref.split("/")
            # refs/exps/<2>/<38>/<name>; dvc's bookkeeping refs have other shapes
            if len(parts) == 5 and len(parts[2]) == 2 and len(parts[3]) == 38:
                baseline = parts[2] + parts[3]
                chain = git(root, "rev-list", "--first-parent", ref, f"^{baseline}", check=False)
                found += chain.stdout.decode().split()
    return list(dict.fromkeys(found))


def _ref_commits(root: Path, prefix: str) -> list[str]:
    """The commit each ref under ``prefix`` points at (tags peeled)."""
    out = git(root, "for-each-ref", "--format=%(objectname) %(*objectname)", prefix).stdout
    return [(line.split() or [""])[-1] for line in out.decode().splitlines() if line.strip()]


def _local_midnight(date: str) -> int:
    """``YYYY-MM-DD`` as a unix time at local midnight (dvc's strptime)."""
    import datetime

    try:
        return int(datetime.datetime.strptime(date, "%Y-%m-%d").timestamp())
    except ValueError:
        raise BaleError(f"--date {date!r} is not a date in the YYYY-MM-DD form") from None


def has_commits(root: Path) -> bool:
    """Whether the repository has a HEAD commit."""
    return git(root, "rev-parse", "--verify", "HEAD", check=False).returncode == 0


def last_commit(root: Path, path: Path, rev: str = "HEAD") -> dict[str, str] | None:
    """The commit at or before ``rev`` that last changed ``path``: id, author,
    author date (ISO) and subject; None when no such commit has it."""
    out = git(root, "log", "-1", "--format=%H%x00%an <%ae>%x00%aI%x00%s", rev, "--", str(path))
    text = out.stdout.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    commit, author, date, subject = text.split("\0", 3)
    return {"commit": commit, "author": author, "date": date, "subject": subject}


def commit_info(root: Path, commits: list[str]) -> dict[str, dict[str, str]]:
    """Per commit id: author and committer (name, email), committer date
    (strict ISO, with its offset) and the whole message, in one ``git log``."""
    if not commits:
        return {}
    fields = ("%H", "%an", "%ae", "%cn", "%ce", "%cI", "%B")
    out = git(
        root, "log", "--no-walk=unsorted", "--format=" + "%x00".join(fields) + "%x00", *commits
    )
    parts = out.stdout.decode("utf-8", errors="replace").split("\0")
    found = {}
    for i in range(0, len(parts) - len(fields) + 1, len(fields)):
        sha, an, ae, cn, ce, date, message = parts[i : i + len(fields)]
        found[sha.lstrip("\n")] = {
            "author": an,
            "author_email": ae,
            "committer": cn,
            "committer_email": ce,
            "committer_date": date,
            "message": message,
        }
    return found


def is_modified(root: Path, path: Path) -> bool:
    """Whether ``path`` differs from HEAD (or is not in it)."""
    out = git(root, "status", "--porcelain", "--", str(path), check=False)
    return bool(out.stdout.strip())


def read_paths_at(root: Path, specs: list[tuple[str, str]]) -> dict[tuple[str, str], bytes | None]:
    """The contents of many ``(rev, path)`` pairs (paths relative to the top
    of the work tree), in one ``git cat-file --batch``; None where missing."""
    found = _cat_batch(root, [f"{rev}:{path}" for rev, path in specs])
    return {(rev, path): found[f"{rev}:{path}"] for rev, path in specs}
