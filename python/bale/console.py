"""What bale tells the user besides results: warnings and, with ``-v``,
what it is doing, on stderr.

A warning is never hidden (not even by ``-q``): it says that something was
skipped, repaired or left as it was, which a script's author must see too.
"""

from __future__ import annotations

import sys

_verbose = False


def warn(message: str) -> None:
    """Prints ``WARNING: <message>`` on stderr, as dvc does."""
    print(f"WARNING: {message}", file=sys.stderr)


def set_verbose() -> None:
    """Print :func:`debug` lines for the rest of this process (``-v``)."""
    global _verbose
    _verbose = True


def verbose() -> bool:
    """Whether ``-v`` was given (to skip building costly messages)."""
    return _verbose


def debug(message: str) -> None:
    """With ``-v``, prints ``DEBUG: <message>`` on stderr.

    dvc prints its ``-v`` lines on stdout, among the results; bale keeps
    stdout the same with and without ``-v`` (a script's parse of it does
    not change), so what it says about its work goes to stderr, as its
    warnings and progress bars do."""
    if _verbose:
        print(f"DEBUG: {message}", file=sys.stderr)


def human_size(n: int) -> str:
    """``n`` bytes as people read them: ``512 B``, ``1.5 KiB``, ``2.0 GiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
