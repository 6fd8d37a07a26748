"""What :mod:`bale.remotes.urls` computes without a server: dvc's id of a
prefix, the order ``dvc ls-url`` lists it in (checked against dvc on
SeaweedFS in tests/interop/test_import_url.py), and what an Azure or GCS
source is recorded as, its store's reads stubbed."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bale.exceptions import BaleError, ConfigError, TargetError
from bale.ops.urls import resolve_output
from bale.remotes.urls import (
    AzureUrl,
    Entry,
    GCSUrl,
    Info,
    Node,
    UrlMissingError,
    check_relpath,
    etag_tree_md5,
    open_url,
    tree_of_files,
    walk_listing,
)

FILES = [
    Entry("x", False, 2, "401b30e3b8b5d629635a5c613cdb7919"),
    Entry("s/y", False, 2, "009520053b00386d1173f3988c55d192"),
    Entry("s/t/z", False, 3, "e1"),
    Entry("a", False, 1, "e2"),
]


def test_a_prefix_id_is_dvcs_md5_of_its_etag_manifest() -> None:
    # dvc 3.67.1's dep of s3://test/p/d holding d/x and d/s/y (x, y as written).
    assert etag_tree_md5(FILES[:2]) == "ab63dea9076dc9eeafe55ab12ca93380.dir"


def _paths(entries: list[Entry]) -> list[str]:
    return [e.path + ("/" if e.isdir else "") for e in entries]


def test_listing_walks_top_down_files_first_then_where_it_stops_directories() -> None:
    assert _paths(walk_listing(FILES, False, None)) == ["a", "x", "s/"]
    assert _paths(walk_listing(FILES, True, None)) == ["a", "x", "s/y", "s/t/z"]
    # -L 2: the second level lists its directories instead of entering them.
    assert _paths(walk_listing(FILES, True, 2)) == ["a", "x", "s/y", "s/t/"]
    assert _paths(walk_listing(FILES, True, 1)) == ["a", "x", "s/"]


def test_tree_is_sorted_by_name_and_cut_at_the_depth_asked() -> None:
    def names(n: Node) -> list[object]:
        return [n.name, [names(c) for c in n.children]]

    assert names(tree_of_files("b/p", FILES, None)) == [
        "b/p",
        [["a", []], ["s", [["t", [["z", []]]], ["y", []]]], ["x", []]],
    ]
    assert names(tree_of_files("b/p", FILES, 1)) == ["b/p", [["a", []], ["s", []], ["x", []]]]


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/x", "a//b", "a/./b", "a/"])
def test_a_listed_key_that_is_not_a_plain_relative_name_is_refused(key: str) -> None:
    """A crafted S3 key never names a place outside the destination."""
    with pytest.raises(TargetError, match="not a relative file name"):
        check_relpath("s3://b/p", "p/", key)


def test_a_plain_nested_key_is_accepted() -> None:
    check_relpath("s3://b/p", "p/", "a/b/c.txt")


@pytest.mark.parametrize("url", ["/", "s3://bucket", "s3://bucket/", "http://host/"])
def test_a_url_that_names_no_file_has_no_destination_of_its_own(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``get-url s3://bucket -f`` would otherwise replace the current
    directory: refused before anything is read."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TargetError, match="names no file or directory to write here"):
        resolve_output(url, None, force=True)


# -- what the new kinds record, without a server --------------------------------------
#
# gs://, ssh:// and webdav:// are checked against dvc on real servers in
# tests/remotes/test_url_sources.py. azure:// has no emulator here: these
# tests are all that checks AzureUrl, with its store's two reads stubbed.


def _manifest(entries: list[tuple[str, str]]) -> str:
    """dvc-data's ``Tree.digest`` of (relpath, etag) entries, written out
    independently of :func:`etag_tree_md5`."""
    rows = sorted(({"etag": e, "relpath": r} for r, e in entries), key=lambda d: d["relpath"])
    return hashlib.md5(json.dumps(rows, sort_keys=True).encode()).hexdigest() + ".dir"


@pytest.fixture
def no_azure_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AZURE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-config"))


AZURE = {"account_name": "acct", "account_key": "c2VjcmV0LWFjY291bnQta2V5"}


def _azure(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    blob: tuple[int, str] | None,
    listed: list[tuple[str, int, str]],
) -> AzureUrl:
    """An AzureUrl whose store answers ``blob`` to a head and ``listed`` to a listing."""
    src = open_url(url, base=Path.cwd(), fs_config=AZURE, jobs=2)
    assert isinstance(src, AzureUrl)

    async def blob_meta(key: str) -> tuple[int, str] | None:
        return blob

    async def list_etags(prefix: str) -> AsyncIterator[tuple[str, int, str]]:
        for key, size, etag in listed:
            yield prefix + key, size, etag

    monkeypatch.setattr(src._store, "blob_meta", blob_meta)
    monkeypatch.setattr(src._store, "list_etags", list_etags)
    return src


@pytest.mark.usefixtures("no_azure_env")
@pytest.mark.parametrize("etag", ['"0x8DC1A2B3C4D5E6F"', "0x8DC1A2B3C4D5E6F"])
def test_an_azure_blob_is_recorded_by_its_etag_in_quotes(
    etag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dvc-data's Meta.from_info quotes an Azure etag, as adlfs does already
    with _azure("azure://c/p/f.txt", monkeypatch, (6, etag), []) as src:
        info = src.info()
    assert info == Info(isdir=False, size=6, checksum={"etag": '"0x8DC1A2B3C4D5E6F"'})


@pytest.mark.usefixtures("no_azure_env")
def test_an_azure_prefix_is_recorded_as_a_manifest_of_quoted_etags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed = [("x", 2, '"0x1"'), ("s/y", 3, "0x2"), ("s/", 0, '"0x3"')]
    with _azure("azure://c/p/d", monkeypatch, None, listed) as src:
        info = src.info()
        listing = [e.path for e in src.listing(True)]
    # the folder marker "s/" is no file
    assert info.checksum == {"md5": _manifest([("x", '"0x1"'), ("s/y", '"0x2"')])}
    assert (info.isdir, info.size, info.nfiles) == (True, 5, 2)
    assert listing == ["x", "s/y"]


@pytest.mark.usefixtures("no_azure_env")
def test_a_missing_azure_url_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        _azure("azure://c/p/nope", monkeypatch, None, []) as src,
        pytest.raises(UrlMissingError, match=r"^azure://c/p/nope: no such object or prefix$"),
    ):
        src.info()


@pytest.mark.usefixtures("no_azure_env")
def test_azure_urls_and_options_are_checked_before_anything_is_read() -> None:
    with pytest.raises(
        TargetError, match=r"azure:///k: not a URL of the form azure://container/key"
    ):
        open_url("azure:///k", base=Path.cwd(), fs_config=AZURE)
    with pytest.raises(ConfigError, match=r"azure://c/k: unknown --fs-config option 'endpoint'"):
        open_url("azure://c/k", base=Path.cwd(), fs_config={**AZURE, "endpoint": "x"})
    with pytest.raises(BaleError, match=r"option 'version_aware' is not supported"):
        open_url("azure://c/k", base=Path.cwd(), fs_config={**AZURE, "version_aware": "true"})


def test_a_gcs_etag_is_recorded_in_hex_with_the_generation_as_version_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")  # never asked
    src = open_url("gs://b/p/f.txt", base=Path.cwd())
    assert isinstance(src, GCSUrl)
    answers = iter([(6, "sZRqySSS0jR8YjW00mERhA==", "1796656399410960"), (6, "not base64!", "2")])

    async def object_meta(key: str) -> tuple[int, str, str] | None:
        return next(answers)

    monkeypatch.setattr(src._store, "object_meta", object_meta)
    with src:
        # as dvc 3.67.1 + dvc-gs recorded this object of fake-gcs-server
        assert src.info() == Info(
            isdir=False,
            size=6,
            checksum={"etag": "b1946ac92492d2347c6235b4d2611184"},
            meta={"version_id": "1796656399410960"},
        )
        with pytest.raises(TargetError, match="is not base64"):
            src.info()


def test_other_schemes_are_refused_by_name() -> None:
    with pytest.raises(BaleError, match=r"^hdfs://h/p: bale cannot read hdfs:// URLs \(local"):
        open_url("hdfs://h/p", base=Path.cwd())


@pytest.mark.usefixtures("no_azure_env")
@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("webdav://ann:s3cret@h/p/f", "put the WebDAV password in the password option"),
        ("ssh://ann:s3cret@h/p/f", "put the SSH password in the password option"),
        ("azure://c/p/f", "Azure needs account_name or connection_string (set account_name"),
    ],
)
def test_a_url_sources_option_errors_say_to_use_fs_config_and_show_no_secret(
    url: str, said: str
) -> None:
    with pytest.raises(BaleError) as e:
        open_url(url, base=Path.cwd())
    message = str(e.value)
    assert said in message and "--fs-config <option>=<value>" in message
    assert "remote modify" not in message and "s3cret" not in message
