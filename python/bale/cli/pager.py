"""Long text through a pager when a person reads it, as dvc pages ``dag``:
``$BALE_PAGER`` (or dvc's ``$DVC_PAGER``), else ``$PAGER``, else ``less``
told to quit when the text fits one screen. Into a pipe or a file the text
is printed as it is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def _pager() -> str | None:
    for var in ("BALE_PAGER", "DVC_PAGER", "PAGER"):
        if os.environ.get(var):
            return os.environ[var]
    if shutil.which("less") is None:
        return None
    # dvc's defaults; with $LESS set, it keeps the user's screen options
    if os.environ.get("LESS"):
        return "less --RAW-CONTROL-CHARS --chop-long-lines"
    return "less --quit-if-one-screen --RAW-CONTROL-CHARS --chop-long-lines --no-init"


def page(text: str) -> None:
    """Prints ``text`` (which ends with its own newline), through a pager
    when stdout is a terminal."""
    pager = _pager() if sys.stdout.isatty() else None
    if pager is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    sys.stdout.flush()
    try:
        subprocess.run(pager, shell=True, input=text.encode(), check=False)
    except OSError:
        sys.stdout.write(text)
