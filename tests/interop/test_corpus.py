"""The differential corpus (tests/interop/corpus/): bale and dvc 3.67.1 run the
same metadata commands on repositories shaped like public DVC projects, at
every revision of their history, and must print the same, exit the same and
write the same files.

Every (command, fixture) pair that still differs is listed in ``KNOWN`` with a
one-line reason (the issue 20 item that owns it, then what differs first). The
table is checked both ways: a new difference fails, and so does an entry that
no longer differs, so the table shrinks as bale's commands are fixed.
Regenerate it with

    PYTHONPATH=python python tests/interop/corpus/run.py --table

and give each new entry its reason (``run.py`` without ``--table`` prints the
first differing lines of each pair).
"""

from __future__ import annotations

import pytest

from tests.interop.corpus.run import COMMANDS, FIXTURES, Report, run

pytestmark = pytest.mark.interop

KNOWN: dict[tuple[str, str], str] = {
    ("exp show --json", "imports_dvcignore"): (
        "deliberate: at a commit, dvc names an import-url source outside the repository "
        "from / (tmp/.../labels.csv); bale names it as the workspace row does"
    ),
    ("ls --json .", "foreach_matrix"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "get_started"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "imports_dvcignore"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "metrics_plots"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "no_scm"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "params_formats"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "subdir_pipelines"): "bale lacks the command (not part of issue 20)",
    ("params diff", "params_formats"): (
        "deliberate: bale sorts params files; dvc's order follows Python's string hash seed"
    ),
    ("params diff --all", "params_formats"): (
        "deliberate: bale sorts params files; dvc's order follows Python's string hash seed"
    ),
    ("params diff --all", "subdir_pipelines"): (
        "deliberate: bale sorts params files; dvc's order follows Python's string hash seed"
    ),
    ("params diff {prev}", "params_formats"): (
        "deliberate: bale sorts params files; dvc's order follows Python's string hash seed"
    ),
    ("repro --dry", "get_started"): (
        "deliberate: dvc's dry run says it checks out a cached stage, then runs it anyway"
    ),
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return run(base=tmp_path_factory.mktemp("corpus"))


def test_the_corpus_runs_every_fixture_and_command(report: Report) -> None:
    fixtures = {p.fixture for p in report.pairs}
    commands = {p.command for p in report.pairs}
    assert fixtures == set(FIXTURES)
    assert commands == {c for c, _ in COMMANDS}
    # Equal outputs must mean something: most pairs print something.
    assert sum(1 for p in report.pairs if p.dvc.out.strip()) > len(report.pairs) // 2


def test_bale_never_crashes(report: Report) -> None:
    crashes = [p for p in report.pairs if p.kind == "bale-crash"]
    assert not crashes, "\n\n".join(
        f"{p.command} [{p.fixture} @ {p.rev}]\n{p.bale.err}" for p in crashes
    )


def test_no_difference_outside_the_known_table(report: Report) -> None:
    new = {k: p for k, p in report.differing().items() if k not in KNOWN}
    assert not new, "new differences from dvc:\n" + "\n".join(
        f"{cmd} [{fx} @ {p.rev}] {p.kind}:\n{p.first_difference()}" for (cmd, fx), p in new.items()
    )


def test_every_known_difference_still_differs(report: Report) -> None:
    gone = sorted(set(KNOWN) - set(report.differing()))
    assert not gone, (
        "these pairs now match dvc: remove them from KNOWN "
        f"(python tests/interop/corpus/run.py --table): {gone}"
    )


def test_known_table_names_real_pairs() -> None:
    commands = {c for c, _ in COMMANDS}
    for (cmd, fx), why in KNOWN.items():
        assert cmd in commands and fx in FIXTURES, (cmd, fx)
        assert why.strip(), f"no reason given for {(cmd, fx)}"
