"""Repo objects hold no process-wide state: several live side by side."""

from __future__ import annotations

import gc
from pathlib import Path

from bale import Repo


def test_two_repositories_in_one_process_read_and_remember_only_their_own_files(
    tmp_path: Path,
) -> None:
    repos = {name: Repo.init(tmp_path / name, no_scm=True) for name in ("a", "b")}
    for name, repo in repos.items():
        (repo.root / "data").write_text(f"the data of {name}\n")
        repo.add([repo.root / "data"])
    assert all(repo.status().clean for repo in repos.values())

    # An edit in one repository is seen there, and only there.
    dvcfile = tmp_path / "a" / "data.dvc"
    edited = dvcfile.read_text().replace("size:", "desc: edited\n  size:")
    dvcfile.write_text(edited)
    (tmp_path / "a" / "data").write_text("changed\n")
    assert [s.dvcfile for s in repos["a"].status().changed] == ["data.dvc"]
    assert repos["b"].status().clean

    # Each memo is saved when its Repo goes, in its own repository.
    texts = {name: (tmp_path / name / "data.dvc").read_text() for name in repos}
    del repos, repo
    gc.collect()
    for name, other in (("a", "b"), ("b", "a")):
        saved = (tmp_path / name / ".dvc" / "tmp" / "bale" / "parsed.json").read_text()
        assert texts[name].replace("\n", "\\n") in saved
        assert texts[other].replace("\n", "\\n") not in saved
