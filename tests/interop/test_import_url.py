"""``import-url`` against dvc 3.67.1: the same command in twin repositories
writes the same bytes, from local paths, HTTP and S3; each tool updates
(and reports clean) the file the other wrote."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from bale.ops.urls import update_url
from bale.repo import Repo
from tests.integration.conftest import read_tree, write_tree
from tests.interop.conftest import Sh, copy_repo
from tests.remotes.http_server import serving
from tests.remotes.seaweed import SeaweedServer, seaweed  # noqa: F401

pytestmark = pytest.mark.interop

UP_TO_DATE = "Data and pipelines are up to date."


@pytest.fixture
def src(tmp_path: Path) -> Path:
    base = tmp_path / "src"
    write_tree(base, {"f.txt": "hello\n", "d/a": "1\n", "d/sub/b": "2\n", "d/.x.tmp": "t\n"})
    return base


@pytest.fixture
def twins(dvc_template: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of a ``git init && dvc init`` repository: dvc's and bale's."""
    return copy_repo(dvc_template, tmp_path / "dvc"), copy_repo(dvc_template, tmp_path / "bale")


def _bale_update(root: Path, dvcfile: str, **kw: Any) -> Any:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        repo = Repo(root)
        with repo.locked():
            return update_url(repo, root / dvcfile, **kw)
    finally:
        os.chdir(cwd)


def _same(twins: tuple[Path, Path], *names: str) -> None:
    for name in names:
        assert (twins[1] / name).read_text() == (twins[0] / name).read_text(), name


@pytest.mark.parametrize(
    ("flags", "name", "out", "dvcfile"),
    [
        ([], "f.txt", None, "f.txt.dvc"),
        ([], "d", None, "d.dvc"),
        ([], "f.txt", "sub/copy.txt", "sub/copy.txt.dvc"),
        (["--no-exec"], "f.txt", "e.txt", "e.txt.dvc"),
        (["--no-download"], "d", "nd", "nd.dvc"),
        (["--no-download"], "f.txt", "nf.txt", "nf.txt.dvc"),
    ],
)
def test_bale_writes_the_import_file_dvc_writes(
    sh: Sh,
    twins: tuple[Path, Path],
    src: Path,
    flags: list[str],
    name: str,
    out: str | None,
    dvcfile: str,
) -> None:
    args = [*flags, str(src / name), *([out] if out else [])]
    for root in twins:
        (root / "sub").mkdir()
    sh.dvc("import-url", *args, cwd=twins[0])
    sh.bale("import-url", *args, cwd=twins[1])
    ignores = ["sub/.gitignore"] if dvcfile.startswith("sub/") else [".gitignore"]
    _same(twins, dvcfile, *ignores)
    # The same workspace files (the data, or none), and the same status.
    dvc_tree, bale_tree = (
        {k: v for k, v in read_tree(root).items() if not k.startswith((".dvc/", ".git/"))}
        for root in twins
    )
    assert bale_tree == dvc_tree
    assert sh.dvc("status", cwd=twins[1]).stdout == sh.dvc("status", cwd=twins[0]).stdout


def test_a_source_inside_the_repository_is_recorded_as_dvc_records_it(
    sh: Sh, twins: tuple[Path, Path]
) -> None:
    for root in twins:
        write_tree(root, {"raw/in.txt": "x\n"})
        (root / "out").mkdir()
    sh.dvc("import-url", "raw/in.txt", "out/copy.txt", cwd=twins[0])
    sh.bale("import-url", "raw/in.txt", "out/copy.txt", cwd=twins[1])
    _same(twins, "out/copy.txt.dvc", "out/.gitignore")


def test_each_tool_updates_the_import_file_the_other_wrote(
    sh: Sh, twins: tuple[Path, Path], src: Path
) -> None:
    dvc_wrote, bale_wrote = twins
    sh.dvc("import-url", str(src / "d"), cwd=dvc_wrote)
    sh.bale("import-url", str(src / "d"), cwd=bale_wrote)
    assert sh.dvc("status", cwd=bale_wrote).stdout.strip() == UP_TO_DATE
    assert (
        sh.dvc("update", "d.dvc", cwd=bale_wrote).stdout.strip()
        == "'d.dvc' didn't change, skipping"
    )
    assert not _bale_update(dvc_wrote, "d.dvc").changed
    (src / "d" / "sub" / "b").write_text("22\n")
    write_tree(src / "d", {"new": "n\n"})
    sh.dvc("update", "d.dvc", cwd=bale_wrote)
    assert _bale_update(dvc_wrote, "d.dvc").downloaded
    for root in twins:
        assert read_tree(root / "d") == read_tree(src / "d")
    # Each file now reads as the other tool would have written it.
    assert (bale_wrote / "d.dvc").read_text() == (dvc_wrote / "d.dvc").read_text()
    assert sh.dvc("status", cwd=dvc_wrote).stdout.strip() == UP_TO_DATE
    assert sh.bale("status", cwd=bale_wrote).stdout.strip() == UP_TO_DATE


def test_bale_writes_the_import_file_dvc_writes_over_http(
    sh: Sh, twins: tuple[Path, Path], src: Path
) -> None:
    with serving(src) as url:
        sh.dvc("import-url", f"{url}/f.txt", cwd=twins[0])
        sh.bale("import-url", f"{url}/f.txt", cwd=twins[1])
        _same(twins, "f.txt.dvc", "f.txt")
        out = sh.dvc("update", "f.txt.dvc", cwd=twins[1]).stdout.strip()
        assert out == "'f.txt.dvc' didn't change, skipping"


def test_bale_writes_the_import_file_dvc_writes_from_s3(
    sh: Sh,
    twins: tuple[Path, Path],
    seaweed: SeaweedServer,  # noqa: F811
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
    aws = Sh(
        dict(
            sh.env,
            AWS_ACCESS_KEY_ID=seaweed.access_key,
            AWS_SECRET_ACCESS_KEY=seaweed.secret_key,
            AWS_DEFAULT_REGION=seaweed.region,
        )
    )
    cfg = ["--fs-config", f"endpointurl={seaweed.endpoint}"]
    for what in ("f.txt", "d"):
        aws.dvc("import-url", f"s3://{bucket}/p/{what}", *cfg, cwd=twins[0])
        aws.bale("import-url", f"s3://{bucket}/p/{what}", *cfg, cwd=twins[1])
        _same(twins, f"{what}.dvc")
    assert read_tree(twins[1] / "d") == read_tree(twins[0] / "d")
    client.put_object(Bucket=bucket, Key="p/d/x", Body=b"x2\n")
    aws.dvc("update", "d.dvc", cwd=twins[1])
    with pytest.MonkeyPatch.context() as mp:
        for k, v in aws.env.items():
            if k.startswith("AWS_"):
                mp.setenv(k, v)
        assert _bale_update(twins[0], "d.dvc").downloaded
    _same(twins, "d.dvc", "d/x")
