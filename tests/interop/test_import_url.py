"""``import-url`` against dvc 3.67.1: the same command in twin repositories
writes the same bytes, from local paths, HTTP and S3; each tool updates
(and reports clean) the file the other wrote."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import read_tree, write_tree
from tests.interop.conftest import Sh, copy_repo
from tests.interop.test_dvc_differential import DvcBatch, run_dvc
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
    sh.bale("import-url", *args, cwd=twins[1])
    # dvc's three commands in one process (the twins are tmp_path/dvc and /bale)
    imported, bale_status, dvc_status = run_dvc(
        sh,
        twins[0].parent,
        [("@dvc", "import-url", *args), ("@bale", "status"), ("@dvc", "status")],
    )
    assert imported.ok and bale_status.ok and dvc_status.ok, imported.err
    ignores = ["sub/.gitignore"] if dvcfile.startswith("sub/") else [".gitignore"]
    _same(twins, dvcfile, *ignores)
    # The same workspace files (the data, or none), and the same status.
    dvc_tree, bale_tree = (
        {k: v for k, v in read_tree(root).items() if not k.startswith((".dvc/", ".git/"))}
        for root in twins
    )
    assert bale_tree == dvc_tree
    assert bale_status.out == dvc_status.out


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
    sh: Sh, twins: tuple[Path, Path], src: Path, tmp_path: Path
) -> None:
    dvc_wrote, bale_wrote = twins  # tmp_path/dvc and tmp_path/bale
    sh.bale("import-url", str(src / "d"), cwd=bale_wrote)
    # dvc's commands in two processes (a second start costs a second)
    imported, status, update = run_dvc(
        sh,
        tmp_path,
        [("@dvc", "import-url", str(src / "d")), ("@bale", "status"), ("@bale", "update", "d.dvc")],
    )
    assert imported.ok and status.ok and update.ok, (imported.err, status.err, update.err)
    assert status.out.strip() == UP_TO_DATE
    assert update.out.strip() == "'d.dvc' didn't change, skipping"
    said = sh.bale("update", "d.dvc", cwd=dvc_wrote).stderr.strip()
    assert said == "'d.dvc' didn't change, skipping"
    (src / "d" / "sub" / "b").write_text("22\n")
    write_tree(src / "d", {"new": "n\n"})
    said = sh.bale("update", "d.dvc", cwd=dvc_wrote).stderr.strip()
    assert said == f"Importing '{src / 'd'}' -> 'd'"
    update, status = run_dvc(sh, tmp_path, [("@bale", "update", "d.dvc"), ("@dvc", "status")])
    assert update.ok and status.ok, (update.err, status.err)
    for root in twins:
        assert read_tree(root / "d") == read_tree(src / "d")
    # Each file now reads as the other tool would have written it.
    assert (bale_wrote / "d.dvc").read_text() == (dvc_wrote / "d.dvc").read_text()
    assert status.out.strip() == UP_TO_DATE
    assert sh.bale("status", cwd=bale_wrote).stdout.strip() == UP_TO_DATE


@pytest.mark.parametrize("flag", ["--no-exec", "--no-download"])
def test_update_of_a_file_written_without_its_data_downloads_it_as_dvc_does(
    sh: Sh, twins: tuple[Path, Path], src: Path, flag: str
) -> None:
    batch = DvcBatch(sh, twins[0], [("import-url", flag, str(src / "d")), ("update", "d.dvc")])
    sh.bale("import-url", flag, str(src / "d"), cwd=twins[1])
    sh.bale("update", "d.dvc", cwd=twins[1])
    assert all(r.ok for r in batch.results())
    _same(twins, "d.dvc", "d/a", "d/sub/b")


def test_bale_writes_the_import_file_dvc_writes_over_http(
    sh: Sh, twins: tuple[Path, Path], src: Path
) -> None:
    with serving(src) as url:
        sh.bale("import-url", f"{url}/f.txt", cwd=twins[1])
        imported, update = run_dvc(
            sh,
            twins[0].parent,  # tmp_path: the twins are dvc/ and bale/
            [("@dvc", "import-url", f"{url}/f.txt"), ("@bale", "update", "f.txt.dvc")],
        )
        assert imported.ok and update.ok, (imported.err, update.err)
        _same(twins, "f.txt.dvc", "f.txt")
        assert update.out.strip() == "'f.txt.dvc' didn't change, skipping"
        # Not frozen, its source is checked: as dvc says it, changed or gone.
        unfrozen = (twins[1] / "f.txt.dvc").read_text().replace("frozen: true\n", "")
        (twins[1] / "f.txt.dvc").write_text(unfrozen)
        assert sh.bale("status", cwd=twins[1]).stdout.strip() == UP_TO_DATE
        for change in (lambda: os.utime(src / "f.txt", (1, 1)), (src / "f.txt").unlink):
            change()
            said = sh.bale("status", cwd=twins[1]).stdout
            assert said == sh.dvc("status", cwd=twins[1]).stdout
            assert f"{url}/f.txt" in said


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
    cfg = ("--fs-config", f"endpointurl={seaweed.endpoint}")
    imports = [("import-url", f"s3://{bucket}/p/{what}", *cfg) for what in ("f.txt", "d")]
    # (dvc with dvc-s3 takes seconds a run: a few listings only)
    listings = [
        ("ls-url", *args, f"s3://{bucket}/{what}", *cfg)
        for args, what in ((("-R", "--size"), "p"), (("-T", "--size"), "p"), ((), "p/f.txt"))
    ]
    # dvc's commands in one process, beside bale's
    batch = DvcBatch(aws, twins[0], imports + listings)
    for step in imports:
        aws.bale(*step, cwd=twins[1])
    said = [aws.bale(*step, cwd=twins[1]).stdout for step in listings]
    results = batch.results()
    for step, r in zip(imports + listings, results, strict=True):
        assert r.ok, (step, r.err)
    _same(twins, "f.txt.dvc", "d.dvc")
    assert read_tree(twins[1] / "d") == read_tree(twins[0] / "d")
    for step, ours, theirs in zip(listings, said, results[len(imports) :], strict=True):
        assert ours == theirs.out, step
    client.put_object(Bucket=bucket, Key="p/d/x", Body=b"x2\n")
    aws.dvc("update", "d.dvc", cwd=twins[1])
    aws.bale("update", "d.dvc", cwd=twins[0])
    _same(twins, "d.dvc", "d/x")


def test_ls_url_prints_what_dvc_prints(sh: Sh, src: Path, tmp_path: Path) -> None:
    write_tree(src, {"d/sub/deep/c": "c" * 3000})
    (src / "empty").mkdir()
    listings = [
        ("ls-url", *args)
        for args in (
            ("--size", "src"),
            ("-R", "src"),
            ("-R", "-L", "2", "--size", "src"),
            ("-L", "0", "src"),
            ("-T", "--size", "src"),
            ("-T", "-L", "2", "src"),
            ("src/f.txt",),
        )
    ]
    batch = DvcBatch(sh, tmp_path, listings)  # dvc's in one process, beside bale's
    said = [sh.bale(*step, cwd=tmp_path).stdout for step in listings]
    for step, ours, theirs in zip(listings, said, batch.results(), strict=True):
        assert theirs.ok, (step, theirs.err)
        assert ours == theirs.out, step


def test_get_url_copies_what_dvc_copies(sh: Sh, src: Path, tmp_path: Path) -> None:
    for tool in ("dvc", "bale"):
        (tmp_path / tool).mkdir()
    with serving(src) as url:
        for args in ([str(src / "d")], [f"{url}/f.txt", "sub/f.txt"]):
            sh.dvc("get-url", *args, cwd=tmp_path / "dvc")
            sh.bale("get-url", *args, cwd=tmp_path / "bale")
    assert read_tree(tmp_path / "bale") == read_tree(tmp_path / "dvc")
