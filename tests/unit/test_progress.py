"""Progress bars: when they draw, and what they show."""

from __future__ import annotations

import io
import sys

import pytest

from bale import progress
from bale.progress import Bar


class _Tty(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(
    ("stdout", "stderr", "drawn"),
    [(True, True, True), (False, True, False), (True, False, False), (False, False, False)],
)
def test_bars_draw_only_when_stdout_and_stderr_are_terminals(
    monkeypatch: pytest.MonkeyPatch, stdout: bool, stderr: bool, drawn: bool
) -> None:
    monkeypatch.setattr(sys, "stdout", _Tty(stdout))
    monkeypatch.setattr(sys, "stderr", _Tty(stderr))
    assert Bar("x").enabled is drawn


def test_quiet_silences_every_later_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", _Tty(True))
    monkeypatch.setattr(sys, "stderr", _Tty(True))
    monkeypatch.setattr(progress, "_silenced", False)
    progress.silence()
    assert Bar("x").enabled is False


def test_a_bar_shows_files_of_total_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Tty(True)
    monkeypatch.setattr(sys, "stderr", err)
    with Bar("Adding data", enabled=True) as bar:
        bar._start -= 1  # past the half second a quick command never shows
        bar.add_total(10)
        bar.step(3 << 20, files=3)
        bar.tick()
        shown = err.getvalue()
    assert "Adding data" in shown
    assert "3/10" in shown
    assert "3.0 MiB" in shown


def test_no_bar_for_work_under_half_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Tty(True)
    monkeypatch.setattr(sys, "stderr", err)
    with Bar("Adding data", enabled=True) as bar:
        bar.add_total(10)
        bar.step(1, files=1)
        bar.tick()
    assert err.getvalue() == ""
