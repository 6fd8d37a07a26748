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
    ("dag", "foreach_matrix"): "#20.4: dvc draws grandalf boxes, bale its own picture",
    ("dag", "get_started"): "#20.4: dvc draws grandalf boxes, bale its own picture",
    ("dag", "imports_dvcignore"): "#20.4: dvc draws grandalf boxes, bale its own picture",
    ("dag", "metrics_plots"): "#20.4: dvc draws grandalf boxes, bale its own picture",
    ("dag", "no_scm"): "#20.4: dvc draws grandalf boxes, bale its own picture",
    ("dag", "params_formats"): "#20.4: dvc draws grandalf boxes, bale its own picture",
    ("dag", "subdir_pipelines"): "#20.4: dvc draws grandalf boxes, bale its own picture",
    ("dag --dot", "get_started"): "#20.4: nodes and edges not in dvc's order",
    ("dag --dot", "imports_dvcignore"): "#20.4: nodes and edges not in dvc's order",
    ("dag --dot", "no_scm"): "#20.4: nodes and edges not in dvc's order",
    ("dag --dot", "subdir_pipelines"): "#20.4: nodes and edges not in dvc's order",
    ("dag --md", "get_started"): "#20.4: nodes and edges not in dvc's order",
    ("dag --md", "imports_dvcignore"): "#20.4: nodes and edges not in dvc's order",
    ("dag --md", "no_scm"): "#20.4: nodes and edges not in dvc's order",
    ("dag --md", "subdir_pipelines"): "#20.4: nodes and edges not in dvc's order",
    ("dag --mermaid", "get_started"): "#20.4: nodes and edges not in dvc's order",
    ("dag --mermaid", "imports_dvcignore"): "#20.4: nodes and edges not in dvc's order",
    ("dag --mermaid", "no_scm"): "#20.4: nodes and edges not in dvc's order",
    ("dag --mermaid", "subdir_pipelines"): "#20.4: nodes and edges not in dvc's order",
    ("data status --json", "foreach_matrix"): "bale lacks the command (not part of issue 20)",
    ("data status --json", "get_started"): "bale lacks the command (not part of issue 20)",
    ("data status --json", "imports_dvcignore"): "bale lacks the command (not part of issue 20)",
    ("data status --json", "metrics_plots"): "bale lacks the command (not part of issue 20)",
    ("data status --json", "no_scm"): "bale lacks the command (not part of issue 20)",
    ("data status --json", "params_formats"): "bale lacks the command (not part of issue 20)",
    ("data status --json", "subdir_pipelines"): "bale lacks the command (not part of issue 20)",
    ("diff", "foreach_matrix"): "#20.3: dvc lists stage outputs with no dvc.lock entry as deleted",
    ("diff --json", "foreach_matrix"): (
        "#20.3: dvc lists stage outputs with no dvc.lock entry as deleted"
    ),
    ("diff --json", "get_started"): "#20.3: JSON layout: dvc prints one line, bale indents",
    ("diff --json", "imports_dvcignore"): "#20.3: JSON layout: dvc prints one line, bale indents",
    ("diff --json {prev}", "foreach_matrix"): (
        "#20.3: dvc lists stage outputs with no dvc.lock entry as deleted"
    ),
    ("diff --json {prev}", "get_started"): "#20.3: JSON layout: dvc prints one line, bale indents",
    ("diff --json {prev}", "imports_dvcignore"): (
        "#20.3: JSON layout: dvc prints one line, bale indents"
    ),
    ("diff --json {prev}", "params_formats"): (
        "#20.3: JSON layout: dvc prints one line, bale indents"
    ),
    ("diff --json {prev}", "subdir_pipelines"): (
        "#20.3: JSON layout: dvc prints one line, bale indents"
    ),
    ("diff {prev}", "foreach_matrix"): (
        "#20.3: dvc lists stage outputs with no dvc.lock entry as deleted"
    ),
    ("exp show --json", "foreach_matrix"): (
        "#20.1: dvc's JSON shape (rev/name/data with deps and outs), one line"
    ),
    ("exp show --json", "get_started"): (
        "#20.1: dvc's JSON shape (rev/name/data with deps and outs), one line"
    ),
    ("exp show --json", "imports_dvcignore"): (
        "#20.1: dvc's JSON shape (rev/name/data with deps and outs), one line"
    ),
    ("exp show --json", "metrics_plots"): (
        "#20.1: dvc's JSON shape (rev/name/data with deps and outs), one line"
    ),
    ("exp show --json", "params_formats"): (
        "#20.1: dvc's JSON shape (rev/name/data with deps and outs), one line"
    ),
    ("exp show --json", "subdir_pipelines"): (
        "#20.1: dvc's JSON shape (rev/name/data with deps and outs), one line"
    ),
    ("ls --json .", "foreach_matrix"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "get_started"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "imports_dvcignore"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "metrics_plots"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "no_scm"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "params_formats"): "bale lacks the command (not part of issue 20)",
    ("ls --json .", "subdir_pipelines"): "bale lacks the command (not part of issue 20)",
    ("metrics show", "metrics_plots"): (
        "#20.6: dvc's file order, and its row for the absent missing/metrics.json"
    ),
    ("metrics show", "subdir_pipelines"): (
        "#20.6: order of the metrics files of several dvc.yaml files"
    ),
    ("metrics show --json", "metrics_plots"): (
        "#20.6: dvc's file order; its error for the absent file is a FileNotFoundError"
    ),
    ("params diff", "params_formats"): (
        "#20.2/6: rows not in dvc's order of params files (top-level extra.yaml)"
    ),
    ("params diff --all", "params_formats"): (
        "#20.2/6: rows not in dvc's order of params files (top-level extra.yaml)"
    ),
    ("params diff --all", "subdir_pipelines"): (
        "#20.2: order of params files of several dvc.yaml (dvc's follows str hashing)"
    ),
    ("params diff {prev}", "params_formats"): (
        "#20.2/6: rows not in dvc's order of params files (top-level extra.yaml)"
    ),
    ("remote list", "get_started"): "#20.6: dvc pads the columns with spaces, bale uses tabs",
    ("repro --dry", "foreach_matrix"): (
        "#20.5: dvc's blank lines and 'didn't change, skipping' lines"
    ),
    ("repro --dry", "get_started"): "#20.5: dvc's blank lines and 'didn't change, skipping' lines",
    ("repro --dry", "metrics_plots"): "#20.5: dvc's closing 'Use `dvc push` ...' line",
    ("repro --dry", "no_scm"): "#20.5: dvc's blank lines and 'didn't change, skipping' lines",
    ("repro --dry", "params_formats"): "#20.5: dvc's closing 'Use `dvc push` ...' line",
    ("stage list", "get_started"): "#20.6: dvc fails where there is no dvc.yaml at the root",
    ("stage list", "imports_dvcignore"): "#20.6: dvc fails where there is no dvc.yaml at the root",
    ("stage list", "subdir_pipelines"): "#20.6: dvc fails where there is no dvc.yaml at the root",
    ("status", "imports_dvcignore"): (
        "bale does not check an import-url's source (dvc: changed deps)"
    ),
    ("status --json", "foreach_matrix"): "#20.3: JSON layout: dvc prints one line, bale indents",
    ("status --json", "get_started"): "#20.3: JSON layout: dvc prints one line, bale indents",
    ("status --json", "imports_dvcignore"): (
        "#20.3 layout; and bale does not check an import-url's source"
    ),
    ("status --json", "metrics_plots"): "#20.3: JSON layout: dvc prints one line, bale indents",
    ("status --json", "no_scm"): "#20.3: JSON layout: dvc prints one line, bale indents",
    ("status --json", "params_formats"): "#20.3: JSON layout: dvc prints one line, bale indents",
    ("status --json", "subdir_pipelines"): "#20.3: JSON layout: dvc prints one line, bale indents",
    ("status -c --json", "get_started"): "#20.3: JSON layout: dvc prints one line, bale indents",
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
