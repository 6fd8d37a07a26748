"""Where a source's data comes from, as dvc 3.67.1 takes it: ``--remote``,
``--config`` and ``--remote-config`` of ``get``, ``import`` and ``artifacts
get``. The source's default remote is empty and its cache gone, so only the
remote they name holds the data: a tool that ignored them would fail. Each
import file records them as dvc's does, and ``pull`` and ``update`` of an
import dvc wrote read from the remote it records."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.interop.conftest import Sh, copy_repo
from tests.interop.test_dvc_differential import DvcBatch
from tests.interop.test_share import tree

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def source(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dvc repository whose data is only on remote ``other`` (its default,
    ``r``, is empty), with artifact ``m`` registered; and a config file that
    makes ``other`` the default."""
    base = tmp_path_factory.mktemp("share-remotes")
    src = copy_repo(dvc_template, base / "src")
    (src / "data").mkdir()
    (src / "data" / "file.txt").write_text("only on other\n")
    (src / "dvc.yaml").write_text("artifacts:\n  m:\n    path: data/file.txt\n")
    sh.dvc("add", "-q", "data/file.txt", cwd=src)
    sh.dvc("remote", "add", "-d", "r", str(base / "empty"), cwd=src)
    sh.dvc("remote", "add", "other", str(base / "other"), cwd=src)
    sh.dvc("push", "-q", "-r", "other", cwd=src)
    sh.git("add", "-A", cwd=src)
    sh.git("commit", "-qm", "data", cwd=src)
    sh.git("tag", "-a", "m@v1.0.0", "-m", "Registering artifact m version v1.0.0", cwd=src)
    shutil.rmtree(src / ".dvc" / "cache")
    (base / "other.cfg").write_text("[core]\n    remote = other\n")
    return src


def test_get_and_artifacts_get_read_the_remote_they_are_told(
    sh: Sh, source: Path, tmp_path: Path
) -> None:
    other = str(source.parent / "other")
    cfg = str(source.parent / "other.cfg")
    src = str(source)
    relative = os.path.relpath(other, tmp_path / "bale")
    gets: list[tuple[str, ...]] = [
        ("get", src, "data/file.txt", "--remote", "other", "-o", "named"),
        ("get", src, "data/file.txt", "--remote-config", f"url={other}", "-o", "default-moved"),
        ("get", src, "data/file.txt", "--config", cfg, "-o", "configured"),
        # a relative path is the user's, from where the command runs (both dirs: same depth)
        ("get", src, "data/file.txt", "--remote-config", f"url={relative}", "-o", "relative"),
        ("artifacts", "get", src, "m", "--remote", "other", "-o", "artifact"),
        ("artifacts", "get", src, "m", "--config", cfg, "-o", "artifact-configured"),
    ]
    urls = [
        ("artifacts", "get", src, "m", "--show-url", *args)
        for args in (("--remote", "other"), ("--remote-config", f"url={other}"))
    ]
    for tool in ("bale", "dvc"):
        (tmp_path / tool).mkdir()
    batch = DvcBatch(sh, tmp_path / "dvc", gets + urls)
    said = [sh.bale(*args, cwd=tmp_path / "bale").stdout for args in gets + urls]
    results = batch.results()
    for args, r in zip(gets + urls, results, strict=True):
        assert r.ok, (args, r.err)
    assert tree(tmp_path / "bale") == tree(tmp_path / "dvc")
    assert len(tree(tmp_path / "bale")) == len(gets)
    assert [s.strip() for s in said[len(gets) :]] == [r.out.strip() for r in results[len(gets) :]]
    assert said[-1].startswith(other)
    # told nothing, both fail: the default remote is empty
    p = sh.bale("get", src, "data/file.txt", "-o", "x", cwd=tmp_path / "bale", check=False)
    assert p.returncode != 0 and "remote 'r'" in p.stderr


def test_import_records_where_the_data_comes_from_as_dvc_does(
    sh: Sh, source: Path, dvc_template: Path, tmp_path: Path
) -> None:
    other = str(source.parent / "other")
    cfg = str(source.parent / "other.cfg")
    imports: list[tuple[str, ...]] = [
        ("import", str(source), "data/file.txt", *args)
        for args in (
            ("--remote", "other", "-o", "named.txt"),
            ("--remote-config", f"url={other}", "-o", "moved.txt"),
            ("--remote", "other", "--remote-config", "verify=false", "-o", "both.txt"),
            ("--config", cfg, "-o", "configured.txt"),
        )
    ]
    with_bale = copy_repo(dvc_template, tmp_path / "with-bale")
    with_dvc = copy_repo(dvc_template, tmp_path / "with-dvc")
    batch = DvcBatch(sh, with_dvc, imports)
    for args in imports:
        sh.bale(*args, cwd=with_bale)
    for args, r in zip(imports, batch.results(), strict=True):
        assert r.ok, (args, r.err)
    names = ["named.txt.dvc", "moved.txt.dvc", "both.txt.dvc", "configured.txt.dvc"]
    for name in names:
        assert (with_bale / name).read_text() == (with_dvc / name).read_text(), name
    assert "remote: other" in (with_dvc / "named.txt.dvc").read_text()

    # dvc's import files, pulled and updated by bale: from the remote each records
    for name in names:
        (with_dvc / name.removesuffix(".dvc")).unlink()
    shutil.rmtree(with_dvc / ".dvc" / "cache", ignore_errors=True)
    sh.bale("pull", "-q", cwd=with_dvc)
    sh.bale("update", "-q", *names, cwd=with_dvc)
    for name in names:
        assert (with_dvc / name.removesuffix(".dvc")).read_text() == "only on other\n"


_DVC_READ = """
import json, sys
import dvc.api
src, other, cfg = sys.argv[1:]
print(json.dumps([
    dvc.api.read("data/file.txt", repo=src, remote="other"),
    dvc.api.read("data/file.txt", repo=src, remote_config={"url": other}),
    dvc.api.read("data/file.txt", repo=src, config={"core": {"remote": "other"}}),
    dvc.api.get_url("data/file.txt", repo=src, remote_config={"url": other}),
]))
"""


def test_api_reads_the_remote_it_is_told_as_dvc_api_does(sh: Sh, source: Path) -> None:
    import json
    import sys

    from bale import api

    src, other = str(source), str(source.parent / "other")
    ours = [
        api.read("data/file.txt", repo=src, remote="other"),
        api.read("data/file.txt", repo=src, remote_config={"url": other}),
        api.read("data/file.txt", repo=src, config={"core": {"remote": "other"}}),
        api.get_url("data/file.txt", repo=src, remote_config={"url": other}),
    ]
    cfg = str(source.parent / "other.cfg")
    theirs = sh.run([sys.executable, "-c", _DVC_READ, src, other, cfg], source.parent)
    assert ours == json.loads(theirs.stdout)
    assert ours[0] == "only on other\n"


def test_an_import_files_recorded_config_sets_remotes_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A clone's .dvc file may come from anyone: its recorded config reaches
    the source's remotes, not its cache or other settings (dvc replaces the
    cache section too), and what is left out is said."""
    from bale.source import _remotes_only

    recorded = {
        "cache": {"dir": "/somewhere/else"},
        "core": {"remote": "other", "site_cache_dir": "/tmp/x"},
        "remote": {"other": {"url": "/data/store"}},
    }
    kept = _remotes_only(recorded, "https://example.com/repo.git")
    assert kept == {"core": {"remote": "other"}, "remote": {"other": {"url": "/data/store"}}}
    err = capsys.readouterr().err
    assert "config section 'cache' not applied" in err and "core.site_cache_dir not applied" in err
