"""``bale.ops.dag``: the graph ``bale dag`` draws, asked for from Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from bale.exceptions import TargetError
from bale.ops.dag import dag
from bale.repo import Repo

PIPELINE = """\
stages:
  prepare:
    cmd: echo > data.txt
    outs: [data.txt]
  train:
    cmd: echo > model.bin
    deps: [data.txt]
    outs: [model.bin]
  report:
    cmd: echo > report.md
    outs: [report.md]
"""


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo.init(tmp_path, no_scm=True)
    (tmp_path / "dvc.yaml").write_text(PIPELINE)
    return repo


def test_stages_point_at_what_they_depend_on(repo: Repo) -> None:
    g = dag(repo, here=repo.root)
    assert g.nodes == ["prepare", "train", "report"]
    assert g.edges() == [("train", "prepare")]


def test_outputs_named_from_the_directory_asked(repo: Repo) -> None:
    g = dag(repo, outs=True, here=repo.root / "sub")
    assert g.edges() == [("../model.bin", "../data.txt")]
    assert "../report.md" in g.nodes


def test_a_target_keeps_what_it_depends_on_or_its_whole_pipeline(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.root)  # a stage name is looked up from here, as dvc does
    assert dag(repo, "train").nodes == ["prepare", "train"]
    assert dag(repo, "prepare").nodes == ["prepare"]
    assert dag(repo, "prepare", full=True).nodes == ["prepare", "train"]


def test_outs_and_collapse_are_refused_together(repo: Repo) -> None:
    with pytest.raises(TargetError, match="mutually exclusive"):
        dag(repo, outs=True, collapse_foreach_matrix=True)
