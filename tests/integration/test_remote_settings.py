"""Remote settings bale cannot honour are refused when they are set, and,
when dvc wrote them, before a push or pull moves anything; a password in a
remote URL is never printed by ``remote list`` nor copied into
``.dvc/tmp``."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from bale.cli.main import main

from .conftest import Run, write_tree

pytestmark = pytest.mark.usefixtures("isolated_config")


# (remote URL, option, value): what bale would ignore and so must refuse
REFUSED = [
    ("s3://bucket/p", "version_aware", "true"),
    ("s3://bucket/p", "worktree", "true"),
    ("https://example.com/p", "version_aware", "true"),
    ("https://example.com/p", "worktree", "true"),
    ("FOLDER", "shared", "group"),
    ("FOLDER", "version_aware", "true"),
    ("FOLDER", "worktree", "true"),
]


def _url(url: str, tmp_path: Path) -> str:
    return str(tmp_path / "store") if url == "FOLDER" else url


def _files(repo: Path) -> dict[str, bytes]:
    dvc = repo / ".dvc"
    names = ("config", "config.local", "bale.conf", "bale.conf.local")
    return {n: (dvc / n).read_bytes() for n in names if (dvc / n).exists()}


def test_options_bale_cannot_honour_are_refused_when_set_and_nothing_is_written(
    md5_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = md5_repo
    monkeypatch.chdir(repo)  # in-process: 50 command lines in well under a second

    def bale(*argv: str) -> tuple[int, str]:
        code = main(list(argv))
        return code, capsys.readouterr().err

    for url, option, value in REFUSED:
        assert bale("remote", "add", "-f", "r", _url(url, tmp_path))[0] == 0
        before = _files(repo)
        for argv in (
            ["remote", "modify", "r", option, value],
            ["remote", "modify", "--local", "r", option, value],
            ["config", f"remote.r.{option}", value],
        ):
            code, err = bale(*argv)
            assert (code, err) == (
                1,
                f"ERROR: remote 'r': option '{option}' is not supported by bale yet\n",
            ), (url, argv)
            assert _files(repo) == before, (url, argv)


def test_options_bale_honours_or_harmlessly_ignores_are_accepted(
    md5_repo: Path, run: Run, tmp_path: Path
) -> None:
    repo = md5_repo
    run("bale", "remote", "add", "s", "s3://bucket/p")
    for option, value in [
        ("region", "eu-west-1"),
        ("endpointurl", "http://127.0.0.1:9"),
        ("profile", "team"),
        ("use_ssl", "false"),
        ("ssl_verify", "false"),
        ("read_timeout", "30"),
        ("allow_anonymous_login", "true"),
        ("listobjects", "false"),
        ("version_aware", "false"),
        ("jobs", "4"),
        ("verify", "true"),
        ("sse", "AES256"),
        ("sse_kms_key_id", "alias/data"),
        ("acl", "bucket-owner-full-control"),
    ]:
        proc = run("bale", "remote", "modify", "s", option, value)
        assert proc.stderr == "", option
    run("bale", "remote", "add", "f", str(tmp_path / "store"))
    err = run("bale", "remote", "modify", "f", "type", "hardlink").stderr
    assert err == (
        "WARNING: remote 'f': bale ignores option 'type' "
        "(bale copies objects to and from a folder remote)\n"
    )
    assert "type = hardlink" in (repo / ".dvc" / "config").read_text()


def test_s3_options_that_exclude_each_other_are_refused_when_set(md5_repo: Path, run: Run) -> None:
    """As dvc-s3 refuses them, but when they are set rather than at the next push."""
    key = base64.b64encode(bytes(range(32))).decode()
    run("bale", "remote", "add", "s", "s3://bucket/p")
    run("bale", "remote", "modify", "s", "acl", "private")
    before = _files(md5_repo)
    err = run("bale", "remote", "modify", "s", "grant_read", "id=x", ok=False).stderr
    assert err == "ERROR: remote 's': acl and grant_read exclude each other\n"
    assert _files(md5_repo) == before
    run("bale", "remote", "modify", "s", "sse_kms_key_id", "alias/data")
    err = run("bale", "remote", "modify", "--local", "s", "sse_customer_key", key, ok=False).stderr
    assert err == "ERROR: remote 's': sse_kms_key_id and sse_customer_key exclude each other\n"
    run("bale", "remote", "modify", "s", "--unset", "sse_kms_key_id")
    err = run("bale", "remote", "modify", "--local", "s", "sse_customer_key", "c2hvcnQ=", ok=False)
    assert "sse_customer_key must be a 256-bit key in base64" in err.stderr
    assert "c2hvcnQ" not in err.stderr  # a key, even a wrong one, is never printed
    run("bale", "remote", "modify", "--local", "s", "sse_customer_key", key)
    assert key in (md5_repo / ".dvc" / "config.local").read_text()


def test_cache_regions_is_refused_as_dvc_refuses_it(dvc_repo_root: Path, run: Run) -> None:
    # dvc's schema wants a python bool: no value written in a file passes, and
    # dvc then refuses to run at all
    run("bale", "remote", "add", "s", "s3://bucket/p")
    before = (dvc_repo_root / ".dvc" / "config").read_bytes()
    err = run("bale", "remote", "modify", "s", "cache_regions", "true", ok=False).stderr
    assert "'remote.s.cache_regions'" in err and err.count("\n") == 1
    assert (dvc_repo_root / ".dvc" / "config").read_bytes() == before
    proc = run("dvc", "remote", "modify", "s", "cache_regions", "true", ok=False)
    assert "expected bool" in proc.stderr


@pytest.fixture
def dvc_repo_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=root, check=True)
    return root


def test_an_unhonourable_option_dvc_wrote_fails_the_push_before_anything_moves(
    dvc_repo_root: Path, run: Run, tmp_path: Path
) -> None:
    repo = dvc_repo_root
    store = tmp_path / "store"
    store.mkdir()
    write_tree(repo, {"f": "hi\n"})
    run("dvc", "add", "-q", "f")
    run("dvc", "remote", "add", "-d", "shared", str(store))
    run("dvc", "remote", "modify", "shared", "shared", "group")
    expected = "ERROR: .dvc/config: remote 'shared': option 'shared' is not supported by bale yet\n"
    for argv in (["push"], ["fetch"], ["pull"], ["status", "-c"], ["gc", "-c", "-w", "-f"]):
        assert run("bale", *argv, ok=False).stderr == expected, argv
    assert list(store.iterdir()) == []
    # an S3 remote whose version_aware sits in config.local: refused before
    # any connection is tried (the endpoint would refuse one)
    run("dvc", "remote", "add", "-d", "s3", "s3://bucket/p")
    run("dvc", "remote", "modify", "s3", "endpointurl", "http://127.0.0.1:9")
    run("dvc", "remote", "modify", "--local", "s3", "version_aware", "true")
    err = run("bale", "push", ok=False).stderr
    assert err == (
        "ERROR: .dvc/config.local: remote 's3': "
        "option 'version_aware' is not supported by bale yet\n"
    )


def test_a_remote_bale_has_no_store_for_is_added_with_a_warning_and_refused_at_push(
    md5_repo: Path, run: Run
) -> None:
    repo = md5_repo
    write_tree(repo, {"f": "hi\n"})
    run("bale", "add", "-q", "f")
    for name, url in [
        ("a", "oss://bucket/p"),
    ]:
        err = run("bale", "remote", "add", name, url).stderr
        scheme = url.split(":")[0]
        assert err == (
            f"WARNING: remote '{name}': bale cannot push to or pull from {scheme}:// remotes "
            "yet (folder, s3://, gs://, azure://, http(s)://, webdav(s):// and ssh:// remotes "
            "it can)\n"
        )
        assert f"url = {url}" in (repo / ".dvc" / "config").read_text()
        err = run("bale", "push", "-r", name, ok=False).stderr
        assert err == (
            f"ERROR: .dvc/config: remote '{name}': bale cannot push to or pull from {scheme}:// "
            "remotes yet (folder, s3://, gs://, azure://, http(s)://, webdav(s):// and ssh:// "
            "remotes it can)\n"
        )
    # options of such a remote are dvc's business: kept, with the warning
    err = run("bale", "remote", "modify", "a", "oss_key_id", "kid").stderr
    assert err.startswith("WARNING: remote 'a': bale cannot push") and "'oss_key_id'" in err
    assert "oss_key_id = kid" in (repo / ".dvc" / "config").read_text()


def test_a_password_in_a_remote_url_is_masked_in_listings_and_never_cached(
    md5_repo: Path, run: Run
) -> None:
    repo = md5_repo
    url = "https://ann:s3cret-pw@example.com/dvc"
    run("bale", "remote", "add", "-d", "h", url)
    run("bale", "remote", "add", "s", "s3://bucket/p")
    run("bale", "config", "remote.s.secret_access_key", "s3cret-key")
    run("bale", "config", "remote.s.access_key_id", "AK")
    listed = run("bale", "remote", "list").stdout
    assert listed.splitlines()[0] == "h\thttps://ann:***@example.com/dvc\t(default)".expandtabs()
    assert "s3cret" not in listed
    # asking for the one value is asking for the secret (as dvc and git config do)
    assert run("bale", "config", "remote.h.url").stdout == url + "\n"
    write_tree(repo, {"f": "hi\n"})
    run("bale", "add", "-q", "f")
    run("bale", "status")
    lineage = run("bale", "lineage", "f").stdout
    assert "https://ann:***@example.com/dvc" in lineage and "s3cret" not in lineage
    tmp = repo / ".dvc" / "tmp"
    assert (tmp / "bale" / "parsed.json").is_file()  # the memo was written...
    for p in tmp.rglob("*"):  # ...but nothing under .dvc/tmp holds a secret
        if p.is_file():
            assert b"s3cret" not in p.read_bytes(), p


def test_verbose_never_echoes_a_secret_from_the_command_line(md5_repo: Path, run: Run) -> None:
    """``-v`` opens with the command line, as dvc's does: secrets masked."""
    run("bale", "remote", "add", "s", "https://ann:url-secret@example.com/p")
    p = run("bale", "-v", "remote", "modify", "--local", "s", "password", "arg-secret")
    assert "password '***'" in p.stderr  # shell-quoted, as the line is
    p = run("bale", "-v", "remote", "add", "t", "https://bob:other-secret@example.com/q")
    assert "'https://bob:***@example.com/q'" in p.stderr
    for secret in ("url-secret", "arg-secret", "other-secret"):
        assert secret not in p.stdout + p.stderr
