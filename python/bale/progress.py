"""Progress bars for engine work: a tqdm bar that polls the engine's counters.

The engine advances atomic counters; the waiting Python thread calls
:meth:`Bar.tick` every 100 ms. Bars draw on stderr only when both stdout and
stderr are a terminal (``bale push > log`` stays silent, as the log's reader
never sees a bar), never under ``-q``, and only for work that has lasted over
half a second, so quick commands print nothing extra.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bale import _core

_silenced = False


def silence() -> None:
    """No bars for the rest of this process (``-q``)."""
    global _silenced
    _silenced = True


def _on_terminal() -> bool:
    return not _silenced and sys.stdout.isatty() and sys.stderr.isatty()


class Bar:
    """A progress bar over one engine call (use as a context manager)."""

    def __init__(self, desc: str, enabled: bool | None = None, unit: str = "file") -> None:
        self.desc = desc
        self.unit = unit
        self.progress = _core.Progress()
        self.enabled = _on_terminal() if enabled is None else enabled
        self._start = time.monotonic()
        self._bar: Any = None
        # Work counted on the Python side (async transfers), added to the
        # engine's counters.
        self.total = 0
        self.done = 0
        self.bytes = 0

    def add_total(self, n: int) -> None:
        self.total += n

    def step(self, nbytes: int = 0, files: int = 1) -> None:
        self.done += files
        self.bytes += nbytes

    def tick(self) -> None:
        if not self.enabled or time.monotonic() - self._start < 0.5:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(desc=self.desc, unit=self.unit, total=None, leave=False)
        total = self.progress.total + self.total
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.n = self.progress.done + self.done
        mib = (self.progress.bytes + self.bytes) / (1 << 20)
        self._bar.set_postfix_str(f"{mib:,.1f} MiB", refresh=False)
        self._bar.refresh()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
