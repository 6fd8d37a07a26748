"""What bale tells the user besides results: warnings, on stderr.

A warning is never hidden (not even by ``-q``): it says that something was
skipped, repaired or left as it was, which a script's author must see too.
"""

from __future__ import annotations

import sys


def warn(message: str) -> None:
    """Prints ``WARNING: <message>`` on stderr, as dvc does."""
    print(f"WARNING: {message}", file=sys.stderr)
