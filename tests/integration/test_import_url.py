"""``bale import-url``, ``get-url`` and ``ls-url`` end to end through the CLI,
from local paths, HTTP (``bale serve`` on loopback) and S3 (SeaweedFS); the
update of an import-url file through :func:`bale.ops.urls.update_url`."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from bale.ops.urls import update_url
from bale.repo import Repo
from tests.integration.conftest import Run, read_tree, write_tree
from tests.integration.kills import assert_settled, killed_at
from tests.remotes.http_server import running, serving
from tests.remotes.seaweed import SeaweedServer, seaweed  # noqa: F401


def _dvcfile(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def _bale_update(run: Run, dvcfile: str, *flags: str, cwd: Path | None = None) -> bool:
    """``bale update`` of one import-url file: whether it changed anything."""
    said = run("bale", "update", *flags, dvcfile, cwd=cwd).stderr
    assert ("didn't change, skipping" in said) != ("Importing" in said), said
    return "Importing" in said


def _update(repo: Path, dvcfile: str, **kw: Any) -> Any:
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        r = Repo(repo)
        with r.locked():
            return update_url(r, repo / dvcfile, **kw)
    finally:
        os.chdir(cwd)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A file and a directory outside the repository."""
    base = tmp_path / "src"
    write_tree(base, {"f.txt": "hello\n", "d/a": "1\n", "d/sub/b": "2\n"})
    return base


def test_import_url_of_a_local_file_tracks_it_frozen_with_its_source(
    md5_repo: Path, src: Path, run: Run
) -> None:
    run("bale", "import-url", str(src / "f.txt"))
    assert (md5_repo / "f.txt").read_text() == "hello\n"
    d = _dvcfile(md5_repo / "f.txt.dvc")
    assert d["frozen"] is True and len(d["md5"]) == 32
    assert d["deps"] == [
        {
            "md5": "b1946ac92492d2347c6235b4d2611184",
            "size": 6,
            "hash": "md5",
            "path": str(src / "f.txt"),
        }
    ]
    assert d["outs"][0]["md5"] == "b1946ac92492d2347c6235b4d2611184"
    assert "/f.txt" in (md5_repo / ".gitignore").read_text().splitlines()
    assert run("bale", "status").stdout.strip() == "Data and pipelines are up to date."
    # The output exists: overwriting it takes -f.
    err = run("bale", "import-url", str(src / "f.txt"), ok=False).stderr
    assert "f.txt: already exists locally; use -f" in err
    run("bale", "import-url", "-f", str(src / "f.txt"))


def test_import_url_of_a_local_directory_into_a_subdirectory(
    repo: Path, src: Path, run: Run
) -> None:
    (repo / "data").mkdir()
    run("bale", "import-url", str(src / "d"), "data")
    assert read_tree(repo / "data" / "d") == {"a": b"1\n", "sub/b": b"2\n"}
    d = _dvcfile(repo / "data" / "d.dvc")
    assert d["outs"][0]["path"] == "d" and d["outs"][0]["nfiles"] == 2
    assert d["deps"][0]["md5"].endswith(".dir") and d["deps"][0]["nfiles"] == 2
    assert run("bale", "status").stdout.strip() == "Data and pipelines are up to date."
    # The data is in the cache: a deleted output comes back by checkout.
    run("bale", "checkout", "data/d.dvc")
    assert read_tree(repo / "data" / "d") == {"a": b"1\n", "sub/b": b"2\n"}


def test_a_source_inside_the_repository_is_recorded_relative_to_the_dvc_file(
    md5_repo: Path, run: Run
) -> None:
    write_tree(md5_repo, {"raw/in.txt": "x\n"})
    (md5_repo / "out").mkdir()
    run("bale", "import-url", "raw/in.txt", "out/copy.txt")
    assert _dvcfile(md5_repo / "out" / "copy.txt.dvc")["deps"][0]["path"] == "../raw/in.txt"


def test_no_exec_and_no_download_write_the_file_only(md5_repo: Path, src: Path, run: Run) -> None:
    run("bale", "import-url", "--no-exec", str(src / "f.txt"), "a.txt")
    assert _dvcfile(md5_repo / "a.txt.dvc") == {
        "frozen": True,
        "deps": [{"hash": "md5", "path": str(src / "f.txt")}],
        "outs": [{"hash": "md5", "path": "a.txt"}],
    }
    run("bale", "import-url", "--no-download", str(src / "f.txt"), "b.txt")
    d = _dvcfile(md5_repo / "b.txt.dvc")
    assert d["deps"][0]["md5"] == "b1946ac92492d2347c6235b4d2611184" and "md5" in d
    assert d["outs"] == [{"hash": "md5", "path": "b.txt"}]
    assert not (md5_repo / "a.txt").exists() and not (md5_repo / "b.txt").exists()
    err = run("bale", "import-url", "--no-exec", "--no-download", str(src), ok=False).stderr
    assert "not allowed with argument" in err


def test_update_downloads_again_only_when_the_source_changed(
    repo: Path, src: Path, run: Run
) -> None:
    run("bale", "import-url", str(src / "d"), "d")
    before = (repo / "d.dvc").read_text()
    assert not _bale_update(run, "d.dvc")
    assert (repo / "d.dvc").read_text() == before
    (src / "d" / "sub" / "b").write_text("22\n")
    assert _bale_update(run, "d")  # the output names its .dvc file too
    assert (repo / "d" / "sub" / "b").read_text() == "22\n"
    d = _dvcfile(repo / "d.dvc")
    assert d["deps"][0]["size"] == 5
    assert run("bale", "status").stdout.strip() == "Data and pipelines are up to date."
    # A deleted output is restored from the cache, the file left as it is.
    after = (repo / "d.dvc").read_text()
    shutil.rmtree(repo / "d")
    r = _update(repo, "d.dvc")
    assert r.changed and not r.downloaded
    assert (repo / "d" / "sub" / "b").read_text() == "22\n"
    assert (repo / "d.dvc").read_text() == after


def test_update_with_no_download_records_the_new_source_and_clears_the_output(
    md5_repo: Path, src: Path, run: Run
) -> None:
    run("bale", "import-url", str(src / "f.txt"))
    (src / "f.txt").write_text("changed\n")
    assert _bale_update(run, "f.txt.dvc", "--no-download")
    d = _dvcfile(md5_repo / "f.txt.dvc")
    assert d["deps"][0]["size"] == 8
    assert d["outs"] == [{"hash": "md5", "path": "f.txt"}]
    assert (md5_repo / "f.txt").read_text() == "hello\n"


def test_a_missing_source_fails_and_changes_nothing(
    md5_repo: Path, tmp_path: Path, run: Run
) -> None:
    before = sorted(p.name for p in md5_repo.iterdir())
    err = run("bale", "import-url", str(tmp_path / "nope"), "x", ok=False).stderr
    assert f"{tmp_path / 'nope'}: no such file or directory" in err
    assert sorted(p.name for p in md5_repo.iterdir()) == before
    err = run("bale", "import-url", "ftp://host/x", ok=False).stderr
    assert "cannot read ftp:// URLs" in err
    err = run("bale", "import-url", "--to-remote", "s3://b/x", ok=False).stderr
    assert "--to-remote is not supported by bale" in err


def test_get_url_and_ls_url_of_local_paths(tmp_path: Path, src: Path, run: Run) -> None:
    out = tmp_path / "got"
    out.mkdir()
    run("bale", "get-url", str(src / "d"), cwd=out)
    assert read_tree(out / "d") == {"a": b"1\n", "sub/b": b"2\n"}
    err = run("bale", "get-url", str(src / "d"), cwd=out, ok=False).stderr
    assert "already exists locally" in err
    assert [p.name for p in out.iterdir()] == ["d"]  # no temp left behind
    # (in the file system's order, as dvc's: tests/interop/test_import_url.py)
    ls = run("bale", "ls-url", str(src), cwd=out).stdout.splitlines()
    assert sorted(ls) == ["d", "f.txt"]
    ls = run("bale", "ls-url", "-R", "--size", str(src), cwd=out).stdout.splitlines()
    assert sorted(ls) == ["2  d/a", "2  d/sub/b", "6  f.txt"]
    assert run("bale", "ls-url", str(src / "f.txt"), cwd=out).stdout == f"{src / 'f.txt'}\n"


def test_import_url_and_get_url_over_http(md5_repo: Path, src: Path, run: Run) -> None:
    with serving(src) as url:
        run("bale", "import-url", f"{url}/f.txt", "h.txt")
        d = _dvcfile(md5_repo / "h.txt.dvc")
        dep = d["deps"][0]
        assert dep["checksum"].startswith('"') and dep["size"] == 6
        assert dep["path"] == f"{url}/f.txt"
        assert (md5_repo / "h.txt").read_text() == "hello\n"
        assert not _bale_update(run, "h.txt.dvc")
        os.utime(src / "f.txt", (1, 1))  # a new ETag for the same bytes
        assert _bale_update(run, "h.txt.dvc")
        assert _dvcfile(md5_repo / "h.txt.dvc")["deps"][0]["checksum"] != dep["checksum"]
        run("bale", "get-url", f"{url}/d/a", "a")
        assert (md5_repo / "a").read_text() == "1\n"
        err = run("bale", "import-url", f"{url}/nope", ok=False).stderr
        assert "nope: not found (HTTP 404)" in err
        assert not (md5_repo / "nope").exists()


def test_import_url_from_s3_file_and_prefix(
    seaweed: SeaweedServer,  # noqa: F811
    md5_repo: Path,
    run: Run,
) -> None:
    import boto3

    client: Any = boto3.client(
        "s3",
        endpoint_url=seaweed.endpoint,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
        region_name=seaweed.region,
    )
    bucket = f"urls-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    for key, body in {"p/f.txt": b"hello\n", "p/d/x": b"x\n", "p/d/s/y": b"y\n"}.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
    cfg = ["--fs-config", *(f"{k}={v}" for k, v in seaweed.options().items())]
    run("bale", "import-url", f"s3://{bucket}/p/f.txt", "f.txt", *cfg)
    dep = _dvcfile(md5_repo / "f.txt.dvc")["deps"][0]
    assert dep["etag"] == "b1946ac92492d2347c6235b4d2611184" and dep["size"] == 6
    assert dep["fs_config"]["endpointurl"] == seaweed.endpoint
    run("bale", "import-url", f"s3://{bucket}/p/d", "d", *cfg)
    assert read_tree(md5_repo / "d") == {"s/y": b"y\n", "x": b"x\n"}
    dep = _dvcfile(md5_repo / "d.dvc")["deps"][0]
    # dvc's id for this prefix: the md5 of its manifest of etags.
    assert dep["md5"] == "ab63dea9076dc9eeafe55ab12ca93380.dir" and dep["nfiles"] == 2
    assert run("bale", "status").stdout.strip() == "Data and pipelines are up to date."
    assert not _bale_update(run, "d.dvc")
    client.put_object(Bucket=bucket, Key="p/d/x", Body=b"x2\n")
    assert _bale_update(run, "d.dvc")
    assert (md5_repo / "d" / "x").read_text() == "x2\n"
    ls = run("bale", "ls-url", "--size", f"s3://{bucket}/p", *cfg).stdout.splitlines()
    assert ls == ["6  f.txt", "   d"]
    run("bale", "get-url", f"s3://{bucket}/p/d", "got", *cfg)
    assert read_tree(md5_repo / "got") == {"s/y": b"y\n", "x": b"x2\n"}
    err = run("bale", "import-url", f"s3://{bucket}/p/nope", *cfg, ok=False).stderr
    assert "no such object or prefix" in err


def _workspace(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in read_tree(root).items() if not k.startswith((".dvc/", ".git/"))}


@pytest.mark.parametrize("n", [1, 4, 5])
def test_an_import_url_killed_halfway_changes_nothing_and_the_rerun_completes(
    repo: Path, src: Path, run: Run, n: int
) -> None:
    """Killed while the data enters the cache (1) or while it is checked
    out into its temp beside the destination (4, 5: the last files)."""
    before = _workspace(repo)
    killed_at("temp", n, repo, "import-url", str(src / "d"))
    assert {k: v for k, v in _workspace(repo).items() if "/.bale" not in f"/{k}"} == before
    assert not (repo / "d").exists() and not (repo / "d.dvc").exists()
    run("bale", "import-url", str(src / "d"))
    assert read_tree(repo / "d") == read_tree(src / "d")
    assert_settled(repo, run)


def test_an_http_import_url_killed_after_the_download_leaves_no_partial_destination(
    md5_repo: Path, src: Path, run: Run
) -> None:
    with serving(src) as url:
        killed_at("temp", 1, md5_repo, "import-url", f"{url}/f.txt")
        assert not (md5_repo / "f.txt").exists() and not (md5_repo / "f.txt.dvc").exists()
        run("bale", "import-url", f"{url}/f.txt")
    assert (md5_repo / "f.txt").read_text() == "hello\n"
    assert_settled(md5_repo, run)


def test_an_output_inside_another_output_is_refused(md5_repo: Path, src: Path, run: Run) -> None:
    write_tree(md5_repo, {"data/x": "x\n"})
    run("bale", "add", "data")
    err = run("bale", "import-url", str(src / "f.txt"), "data/f.txt", ok=False).stderr
    assert "data/f.txt: overlaps the output 'data' of data.dvc" in err
    assert not (md5_repo / "data" / "f.txt").exists()


def _cut_off_server() -> web.Application:
    """Serves /big (100 kB, an ETag) but breaks every GET off after 1 kB."""

    async def head(request: web.Request) -> web.Response:
        headers = {"ETag": '"v1"', "Content-Length": "100000"}
        return web.Response(status=200, headers=headers)

    async def get(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"ETag": '"v1"'})
        resp.content_length = 100_000
        await resp.prepare(request)
        await resp.write(b"x" * 1000)
        assert request.transport is not None
        request.transport.close()
        return resp

    app = web.Application()
    app.router.add_route("HEAD", "/big", head)
    app.router.add_route("GET", "/big", get)
    return app


def test_a_connection_broken_halfway_fails_and_leaves_nothing(md5_repo: Path, run: Run) -> None:
    before = _workspace(md5_repo)
    with running(_cut_off_server()) as url:
        err = run("bale", "import-url", f"{url}/big", ok=False).stderr
        assert err.startswith("ERROR: ") and err.count("\n") == 1
        run("bale", "get-url", f"{url}/big", ok=False)
    assert _workspace(md5_repo) == before
    assert [p.name for p in md5_repo.iterdir() if p.name.startswith(".bale")] == []
