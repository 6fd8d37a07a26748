"""Moving objects in DVC's remote layout between the cache and one remote.

A folder remote has the cache's layout, so the engine copies to and from it
directly; S3 and HTTP remotes are :class:`~bale.remotes.store.Store`
implementations driven by :mod:`bale.remotes.sync`. The two movers below are
the only difference between the kinds: push, fetch, ``status -c``, ``gc -c``
and ``du -c`` all move and ask through a :class:`Mover`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Protocol

from bale import _core
from bale.progress import Bar
from bale.remotes import Remote
from bale.remotes.sync import Moved, Session, receive, send, store_jobs


class Mover(Protocol):
    """Moves objects in DVC's layout between the cache and one remote."""

    def exists(self, keys: Sequence[str]) -> set[str]: ...
    def listing(self) -> list[tuple[str, int]]: ...
    def delete(self, keys: Sequence[str]) -> None: ...
    def send(self, objects: Sequence[_core.PlannedObject], bar: Bar) -> Moved: ...
    def receive(self, objects: Sequence[_core.PlannedObject], bar: Bar) -> Moved: ...
    def close(self) -> None: ...


class _FolderMover:
    """A folder remote has the cache's layout: the engine copies directly."""

    def __init__(self, ws: _core.Workspace, remote: Remote, jobs: int | None) -> None:
        assert remote.path is not None
        self.ws, self.root, self.jobs = ws, remote.path, jobs

    def _copy(self, objects: Sequence[_core.PlannedObject], bar: Bar, push: bool) -> Moved:
        keys = {o.oid: o.key for o in objects}
        pairs = [(o.algo, o.oid) for o in objects]
        t = self.ws.transfer(self.root, pairs, push, bar.progress, bar.tick, self.jobs)
        return Moved(t.copied, t.bytes, t.present, [keys[o] for o in t.missing])

    def exists(self, keys: Sequence[str]) -> set[str]:
        return {k for k in keys if os.path.isfile(os.path.join(self.root, k))}

    def listing(self) -> list[tuple[str, int]]:
        return _core.folder_objects(self.root)

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.root / key)

    def send(self, objects: Sequence[_core.PlannedObject], bar: Bar) -> Moved:
        return self._copy(objects, bar, push=True)

    def receive(self, objects: Sequence[_core.PlannedObject], bar: Bar) -> Moved:
        return self._copy(objects, bar, push=False)

    def close(self) -> None:
        pass


class _StoreMover:
    """S3 and HTTP remotes: async transfers, verified by the engine."""

    def __init__(self, ws: _core.Workspace, remote: Remote, jobs: int | None) -> None:
        self.ws = ws
        self.jobs = store_jobs(remote, jobs)
        self.session = Session(remote, self.jobs)

    def exists(self, keys: Sequence[str]) -> set[str]:
        return self.session.run(self.session.store.exists(keys))

    def listing(self) -> list[tuple[str, int]]:
        """The objects in DVC's layouts; nothing else on a remote is ever
        listed (nor deleted as an object)."""

        async def collect() -> list[tuple[str, int]]:
            return [kv async for kv in self.session.store.list("")]

        return [(k, n) for k, n in self.session.run(collect()) if _dvc_object(k)]

    def delete(self, keys: Sequence[str]) -> None:
        self.session.run(self.session.store.delete(keys))

    def send(self, objects: Sequence[_core.PlannedObject], bar: Bar) -> Moved:
        return self.session.run(send(self.session.store, self.ws, objects, self.jobs, bar))

    def receive(self, objects: Sequence[_core.PlannedObject], bar: Bar) -> Moved:
        return self.session.run(receive(self.session.store, self.ws, objects, self.jobs, bar))

    def close(self) -> None:
        self.session.__exit__()


def _dvc_object(key: str) -> bool:
    """True for the key of an md5 object (DVC 3's layout or DVC 2's)."""
    named = _core.parse_key(key)
    return named is not None and named.kind == "object" and named.algo != "blake3"


def open_mover(ws: _core.Workspace, remote: Remote, jobs: int | None) -> Mover:
    """What moves objects to and from ``remote``; close it when done."""
    if remote.kind == "folder":
        return _FolderMover(ws, remote, jobs)
    return _StoreMover(ws, remote, jobs)
