"""``.dvc`` file reading/writing, checked against the format spec and dvc itself."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bale.exceptions import MetafileError
from bale.metafiles.dvcfile import (
    Out,
    dump_dvcfile,
    dumps_dvcfile,
    dvcfile_path_for,
    load_dvcfile,
    loads_dvcfile,
    stage_md5,
)

MD5 = "b1946ac92492d2347c6235b4d2611184"
B3 = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


def _dvc_validate(text: str) -> dict[str, Any]:
    """Parse like dvc (ruamel safe) and validate with dvc's own .dvc schema."""
    from dvc.schema import COMPILED_SINGLE_STAGE_SCHEMA
    from dvc.utils.serialize import parse_yaml

    return COMPILED_SINGLE_STAGE_SCHEMA(parse_yaml(text, "x.dvc"))


# -- exact bytes (dvc-format.md §4.1, §4.2) ---------------------------------


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        (
            Out("data.txt", "md5", MD5, size=6),
            f"outs:\n- md5: {MD5}\n  size: 6\n  hash: md5\n  path: data.txt\n",
        ),
        (
            Out("images", "md5", "ad5adcace8307aa36df3218729f87e87.dir", size=7, nfiles=4),
            "outs:\n- md5: ad5adcace8307aa36df3218729f87e87.dir\n  size: 7\n  nfiles: 4\n"
            "  hash: md5\n  path: images\n",
        ),
        (
            Out("run.sh", "md5", "9a312c9d8b035b8c2da417b451f8f92d", size=8, isexec=True),
            "outs:\n- md5: 9a312c9d8b035b8c2da417b451f8f92d\n  size: 8\n  isexec: true\n"
            "  hash: md5\n  path: run.sh\n",
        ),
        (
            Out("fé.txt", "md5", MD5, size=6),
            f"outs:\n- md5: {MD5}\n  size: 6\n  hash: md5\n  path: fé.txt\n",
        ),
        (
            Out("d", "md5", MD5, size=6, cache=False, remote="r2", push=False),
            f"outs:\n- md5: {MD5}\n  size: 6\n  hash: md5\n  path: d\n  cache: false\n"
            "  remote: r2\n  push: false\n",
        ),
        (
            Out("old.txt", None, MD5, size=6),
            f"outs:\n- md5: {MD5}\n  size: 6\n  path: old.txt\n",
        ),
    ],
)
def test_first_write_bytes(tmp_path: Path, out: Out, expected: str) -> None:
    dvcfile = tmp_path / (out.path + ".dvc")
    dump_dvcfile(dvcfile, [out])
    assert dvcfile.read_bytes() == expected.encode()
    assert load_dvcfile(dvcfile).outs == [out]
    _dvc_validate(expected)


def test_subdirectory_file(tmp_path: Path) -> None:
    target = tmp_path / "p" / "q" / "f.bin"
    target.parent.mkdir(parents=True)
    dvcfile = dvcfile_path_for(target)
    assert dvcfile == tmp_path / "p" / "q" / "f.bin.dvc"
    dump_dvcfile(dvcfile, [Out("f.bin", "md5", MD5, size=6)])
    assert dvcfile.read_text() == f"outs:\n- md5: {MD5}\n  size: 6\n  hash: md5\n  path: f.bin\n"


def test_is_dir_and_is_import() -> None:
    assert Out("d", "md5", "x" * 32 + ".dir").is_dir
    assert Out("d", "blake3", "x" * 64 + ".tree").is_dir
    assert Out("d", "md5", None, nfiles=0).is_dir
    assert not Out("f", "md5", MD5).is_dir
    text = (
        "md5: dce035efabc51c7d5ef8f084d1df4a95\nfrozen: true\ndeps:\n- path: data.txt\n"
        "  repo:\n    url: /x/r1\n    rev_lock: 59856427e7dd287b89d122e6aa9cfc3b9ac3484a\n"
        f"outs:\n- md5: {MD5}\n  size: 6\n  hash: md5\n  path: imported.txt\n"
    )
    f = loads_dvcfile(text, "imported.txt.dvc")
    assert f.is_import
    assert f.deps[0]["repo"]["url"] == "/x/r1"
    # rewriting an import with the same outputs leaves it byte-identical
    assert dumps_dvcfile(f.outs, f) == text


# As dvc 3.67.1 wrote them: `dvc import <repo> data/dir -o dir` and
# `dvc import-url <file> url.txt`.
DVC_DIR_IMPORT = """\
md5: 2885ff78b56861a2b6caab5ebb1491ea
frozen: true
deps:
- path: data/dir
  repo:
    url: /tmp/imp/src
    rev_lock: 3e19d6115cf029ab8a09d6605d4032aa62df2ab3
outs:
- md5: c37f8bc8917fdf64a45bb6010380cdab.dir
  size: 4
  nfiles: 2
  hash: md5
  path: dir
"""
DVC_URL_IMPORT = """\
md5: aff7835b3aaa28d953d9b41f2aa8665f
frozen: true
deps:
- md5: 12595c247d5f057e820763aa560b5d2b
  size: 8
  hash: md5
  path: /tmp/imp/url.txt
outs:
- md5: 12595c247d5f057e820763aa560b5d2b
  size: 8
  hash: md5
  path: url.txt
"""


@pytest.mark.parametrize("text", [DVC_DIR_IMPORT, DVC_URL_IMPORT])
def test_stage_md5_of_an_import_is_the_one_dvc_wrote(text: str) -> None:
    f = loads_dvcfile(text, "x.dvc")
    assert f.is_import
    assert stage_md5(f.data) == f.data["md5"]
    assert not f.checksum_changed
    # annotations and sizes do not count; the output's hash does
    assert stage_md5({**f.data, "desc": "d", "frozen": False}) == f.data["md5"]
    changed = loads_dvcfile(
        text.replace("  size: 8\n  hash: md5\n  path: url", "  hash: md5\n  path: url"), "x"
    )
    assert changed.data["md5"] == f.data["md5"] and not changed.checksum_changed
    out = dataclasses.replace(f.outs[0], oid="0" * 32, size=1)
    assert loads_dvcfile(dumps_dvcfile([out], f), "x.dvc").checksum_changed  # as dvc add
    stamped_text = dumps_dvcfile([out], f, stamp=True)  # as dvc commit
    _dvc_validate(stamped_text)
    stamped = loads_dvcfile(stamped_text, "x.dvc")
    assert not stamped.checksum_changed and stamped.deps == f.deps
    assert stamped.data["frozen"] is True


def test_a_stamp_leaves_files_that_are_not_imports_alone() -> None:
    text = f"outs:\n- md5: {MD5}\n  size: 6\n  hash: md5\n  path: f\n"
    f = loads_dvcfile(text, "f.dvc")
    assert not f.is_import and not f.checksum_changed
    assert dumps_dvcfile(f.outs, f, stamp=True) == text


# -- round trips -------------------------------------------------------------

HANDWRITTEN = f"""\
# tracked by hand
desc: top level description
outs:
- md5: {MD5}  # the hash
  size: 6
  hash: md5
  path: data.txt
  desc: my data
  type: dataset
  labels: [l1, l2]
  meta: {{owner: me}}
  remote: r2
  push: false
frozen: true
meta:
  team: x
"""


def test_update_keeps_comments_and_handwritten_fields(tmp_path: Path) -> None:
    dvcfile = tmp_path / "data.txt.dvc"
    dvcfile.write_text(HANDWRITTEN)
    f = load_dvcfile(dvcfile)
    (out,) = f.outs
    assert (out.remote, out.push) == ("r2", False)
    # unchanged: byte-identical
    dump_dvcfile(dvcfile, f.outs)
    assert dvcfile.read_text() == HANDWRITTEN
    # changed values are updated in place, everything else stays
    out.oid, out.size = "c" * 32, 17
    dump_dvcfile(dvcfile, [out])
    assert dvcfile.read_text() == HANDWRITTEN.replace(MD5, "c" * 32).replace("size: 6", "size: 17")
    _dvc_validate(dvcfile.read_text())


def test_legacy_gets_hash_appended(tmp_path: Path) -> None:
    dvcfile = tmp_path / "crlf.txt.dvc"
    dvcfile.write_text(
        "outs:\n- md5: 4fcc82a88ee38e0aa16c17f512c685c9\n  size: 14\n  path: crlf.txt\n"
    )
    (out,) = load_dvcfile(dvcfile).outs
    assert out.hash_name is None
    dump_dvcfile(dvcfile, [Out("crlf.txt", "md5", "c702052c200ce32546083ea4d3be6596", 17)])
    assert dvcfile.read_text() == (
        "outs:\n- md5: c702052c200ce32546083ea4d3be6596\n  size: 17\n  path: crlf.txt\n"
        "  hash: md5\n"
    )


def test_stale_keys_removed(tmp_path: Path) -> None:
    dvcfile = tmp_path / "x.dvc"
    dump_dvcfile(dvcfile, [Out("x", "md5", "a" * 32 + ".dir", size=3, nfiles=2)])
    dump_dvcfile(dvcfile, [Out("x", "md5", MD5, size=6, isexec=True)])
    assert dvcfile.read_text() == f"outs:\n- md5: {MD5}\n  size: 6\n  hash: md5\n  path: x\n" + (
        "  isexec: true\n"
    )
    dump_dvcfile(dvcfile, [Out("x", "md5", MD5, size=6)])
    assert dvcfile.read_text() == f"outs:\n- md5: {MD5}\n  size: 6\n  hash: md5\n  path: x\n"


def test_locked_becomes_frozen_like_dvc(tmp_path: Path) -> None:
    dvcfile = tmp_path / "x.dvc"
    dvcfile.write_text(f"locked: true\nouts:\n- md5: {MD5}\n  hash: md5\n  path: x\n")
    dump_dvcfile(dvcfile, load_dvcfile(dvcfile).outs)
    assert dvcfile.read_text() == f"outs:\n- md5: {MD5}\n  hash: md5\n  path: x\nfrozen: true\n"


# -- native (blake3) outputs -----------------------------------------------


def test_native_round_trip_and_switch(tmp_path: Path) -> None:
    dvcfile = tmp_path / "d.dvc"
    dvcfile.write_text(HANDWRITTEN.replace("path: data.txt", "path: d"))
    native = Out("d", "blake3", B3 + ".tree", size=7, nfiles=4, remote="r2", push=False)
    dump_dvcfile(dvcfile, [native])
    text = dvcfile.read_text()
    assert "md5: " + MD5 not in text and "hash: md5" not in text
    assert "# tracked by hand" in text
    data = _dvc_validate(text)
    assert data["outs"][0]["meta"] == {"owner": "me", "bale": {"blake3": B3 + ".tree"}}
    assert load_dvcfile(dvcfile).outs == [native]
    # and back to md5: the bale meta key goes, the user's meta stays
    back = Out("d", "md5", "e" * 32 + ".dir", size=7, nfiles=4, remote="r2", push=False)
    dump_dvcfile(dvcfile, [back])
    data = _dvc_validate(dvcfile.read_text())
    assert data["outs"][0]["meta"] == {"owner": "me"}
    assert load_dvcfile(dvcfile).outs == [back]


def test_native_first_write(tmp_path: Path) -> None:
    dvcfile = tmp_path / "f.dvc"
    oid = "ab12" * 16
    out = Out("f", "blake3", oid, size=3)
    dump_dvcfile(dvcfile, [out])
    assert (
        dvcfile.read_text()
        == f"outs:\n- size: 3\n  path: f\n  meta:\n    bale:\n      blake3: {oid}\n"
    )
    assert load_dvcfile(dvcfile).outs == [out]


def test_dvc_rewrite_of_native_output_means_md5(tmp_path: Path) -> None:
    # `dvc add` on a native output adds md5/hash and keeps our (now stale) meta
    text = (
        "outs:\n- size: 3\n  path: f\n  meta:\n    bale:\n      blake3: ab12\n"
        f"  md5: {MD5}\n  hash: md5\n"
    )
    (out,) = loads_dvcfile(text, "f.dvc").outs
    assert (out.hash_name, out.oid) == ("md5", MD5)


# -- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("outs:\n- md5: abc\n  path: [x\n", "data.dvc: line 4, column 1: "),
        ("outs:\n- path: x\n  xtra: 1\n", "data.dvc: unknown key 'xtra' in outs[0]"),
        ("outs:\n- md5: abcd\n", "data.dvc: missing required key 'path' in outs[0]"),
        ("outs: x\n", "data.dvc: 'outs' must be a list"),
        ("", "data.dvc: file is empty"),
        ("frozen: true\n", "data.dvc: no outputs"),
        ("outs:\n- path: x\nbogus: 1\n", "data.dvc: unknown key 'bogus'"),
        ("outs:\n- path: x\n  size: big\n", "data.dvc: 'size' in outs[0] must be an integer"),
        ("outs:\n- path: x\n  path: y\n", "data.dvc: line 3, column 3: found duplicate key"),
        ("outs:\n- path: x\n  hash: sha1\n", "data.dvc: unsupported hash 'sha1' in outs[0]"),
        ("- a\n", "data.dvc: expected a mapping at the top level"),
        (
            f"outs:\n- md5: zz{'0' * 30}.dir\n  path: x\n",
            f"data.dvc: outs[0]: 'zz{'0' * 30}.dir' is not a valid md5 id",
        ),
        (
            "outs:\n- path: x\n  meta:\n    bale:\n      blake3: ab12\n",
            "data.dvc: outs[0]: 'ab12' is not a valid blake3 id",
        ),
    ],
)
def test_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    dvcfile = tmp_path / "data.dvc"
    dvcfile.write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MetafileError) as exc:
        load_dvcfile(Path("data.dvc"))
    assert str(exc.value).startswith(message)
    assert "\n" not in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MetafileError, match="does not exist"):
        load_dvcfile(tmp_path / "nope.dvc")


def test_failed_write_leaves_no_temp(tmp_path: Path) -> None:
    dvcfile = tmp_path / "x.dvc"
    with pytest.raises(ValueError):
        dump_dvcfile(dvcfile, [Out("x", "sha1", "abc")])
    assert list(tmp_path.iterdir()) == []


def test_absolute_and_escaping_paths_load(tmp_path: Path) -> None:
    text = f"outs:\n- md5: {MD5}\n  hash: md5\n  path: ../../elsewhere\n"
    assert loads_dvcfile(text, "x.dvc").outs[0].path == "../../elsewhere"


# -- oracle: dvc itself -----------------------------------------------------


@pytest.fixture
def dvc_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("dvc") is None or shutil.which("git") is None:
        pytest.skip("dvc and git are needed")
    for var in ("DVC_GLOBAL_CONFIG_DIR", "DVC_SYSTEM_CONFIG_DIR", "DVC_SITE_CACHE_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True)
    return repo


@pytest.mark.interop
def test_same_bytes_as_dvc_add(dvc_repo: Path) -> None:
    (dvc_repo / "data.txt").write_text("hello\n")
    (dvc_repo / "run.sh").write_text("#!/bin/sh\n")
    (dvc_repo / "run.sh").chmod(0o755)
    (dvc_repo / "images" / "sub").mkdir(parents=True)
    for name, content in {"a": "1", "b": "22", "sub/c": "333", "sub/é d": "4"}.items():
        (dvc_repo / "images" / name).write_text(content)
    (dvc_repo / "fé: x#.txt").write_text("x")
    targets = ["data.txt", "run.sh", "images", "fé: x#.txt"]
    subprocess.run(["dvc", "add", "-q", *targets], cwd=dvc_repo, check=True)
    for target in targets:
        dvcfile = dvcfile_path_for(dvc_repo / target)
        expected = dvcfile.read_bytes()
        loaded = load_dvcfile(dvcfile)
        assert dumps_dvcfile(loaded.outs).encode() == expected, target
        dvcfile.unlink()
        dump_dvcfile(dvcfile, loaded.outs)
        assert dvcfile.read_bytes() == expected, target


@pytest.mark.interop
def test_dvc_loads_what_we_write(dvc_repo: Path) -> None:
    from dvc.dvcfile import SingleStageFile
    from dvc.repo import Repo

    outs = {
        "f.txt": Out("f.txt", "md5", MD5, size=6),
        "d": Out("d", "md5", "ad5adcace8307aa36df3218729f87e87.dir", size=7, nfiles=4),
        "legacy": Out("legacy", None, "4fcc82a88ee38e0aa16c17f512c685c9", size=14),
        "n": Out("n", "blake3", B3, size=5, isexec=True),
    }
    for name, out in outs.items():
        dump_dvcfile(dvc_repo / f"{name}.dvc", [out])
    with Repo(str(dvc_repo)) as repo:
        for name, out in outs.items():
            (dvc_out,) = SingleStageFile(repo, str(dvc_repo / f"{name}.dvc")).stage.outs
            assert dvc_out.meta.size == out.size
            assert dvc_out.meta.nfiles == out.nfiles
            if out.hash_name == "blake3":
                assert dvc_out.hash_info.value is None
                assert dvc_out.annot.meta == {"bale": {"blake3": B3}}
            else:
                assert dvc_out.hash_info.value == out.oid
                expected = "md5" if out.hash_name == "md5" else "md5-dos2unix"
                assert dvc_out.hash_name == expected


# -- property: random outputs round-trip and validate --------------------------

_path_chars = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\\x85\u2028\u2029\ufeff"
)
# Plain scalars that YAML 1.1 (PyYAML's default) and YAML 1.2 (dvc's ruamel) read
# differently, or that look like numbers, dates or nulls: a name must stay a string.
_YAML_LOOKALIKES = ["Yes", "no", "On", "OFF", "y", "1e3", "017", "0o17", "1:20", "1_0", "~"]
_YAML_LOOKALIKES += ["null", "true", "2001-12-14", "=", "<<", ".inf", "0x1F", "-0", "+.5"]
_names = st.sampled_from(_YAML_LOOKALIKES) | st.text(_path_chars, min_size=1, max_size=40).filter(
    lambda s: s not in (".", "..")
)
_md5 = st.text("0123456789abcdef", min_size=32, max_size=32)


@st.composite
def _outs(draw: st.DrawFn) -> Out:
    hash_name = draw(st.sampled_from(["md5", None, "blake3"]))
    is_dir = draw(st.booleans())
    if hash_name == "blake3":
        oid = draw(st.text("0123456789abcdef", min_size=64, max_size=64))
        suffix = ".tree"
    else:
        oid = draw(_md5)
        suffix = ".dir"
    oid = draw(st.sampled_from([oid + suffix if is_dir else oid, None]))
    return Out(
        path="/".join(draw(st.lists(_names, min_size=1, max_size=3))),
        hash_name=hash_name,
        oid=oid,
        size=draw(st.none() | st.integers(0, 2**63)),
        nfiles=draw(st.integers(0, 10**6)) if is_dir else None,
        isexec=False if is_dir else draw(st.booleans()),
        cache=draw(st.booleans()),
        push=draw(st.booleans()),
        remote=draw(st.none() | _names),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outs=st.lists(_outs(), min_size=1, max_size=3))
def test_property_round_trip(outs: list[Out]) -> None:
    text = dumps_dvcfile(outs)
    loaded = loads_dvcfile(text, "p.dvc")
    assert loaded.outs == outs
    data = _dvc_validate(text)
    for out, raw in zip(outs, data["outs"], strict=True):
        assert raw["path"] == out.path
        assert raw.get("size") == out.size
        assert raw.get("nfiles") == out.nfiles
        assert raw.get("remote") == out.remote
        if out.hash_name != "blake3":
            assert raw.get("md5") == out.oid
    # a second write over the first is a no-op
    assert dumps_dvcfile(outs, loaded) == text
