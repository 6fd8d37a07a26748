"""What :mod:`bale.remotes.urls` computes from an S3 listing without a
server: dvc's id of a prefix, and the order ``dvc ls-url`` lists it in
(checked against dvc on SeaweedFS in tests/interop/test_import_url.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bale.exceptions import TargetError
from bale.ops.urls import resolve_output
from bale.remotes.urls import (
    Entry,
    Node,
    check_relpath,
    etag_tree_md5,
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
