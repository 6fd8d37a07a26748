"""Property tests: registry tag names read as GTO reads them, versions
ordered as GTO orders them (gto and semver from PyPI, the oracles)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bale.registry import tags

gto_tag = pytest.importorskip("gto.tag", reason="gto is the oracle")
semver = pytest.importorskip("semver", reason="semver is the oracle")

_word = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_/-]{0,6}[a-zA-Z0-9]|[a-zA-Z0-9]", fullmatch=True)
_ident = st.from_regex(r"0|[1-9][0-9]{0,2}|[0-9]{0,2}[a-zA-Z-][0-9a-zA-Z-]{0,3}", fullmatch=True)
_version = st.builds(
    lambda a, b, c, pre, build: (
        f"v{a}.{b}.{c}"
        + (f"-{'.'.join(pre)}" if pre else "")
        + (f"+{'.'.join(build)}" if build else "")
    ),
    st.integers(0, 12),
    st.integers(0, 12),
    st.integers(0, 12),
    st.lists(_ident, max_size=3),
    st.lists(st.from_regex(r"[0-9a-zA-Z-]{1,4}", fullmatch=True), max_size=2),
)


@st.composite
def _tag_name(draw: st.DrawFn) -> str:
    artifact = draw(_word)
    if draw(st.booleans()):
        artifact = draw(st.from_regex(r"[a-zA-Z0-9_./-]{1,8}", fullmatch=True)) + "=" + artifact
    event = draw(
        st.one_of(
            _version.map(lambda v: f"@{v}"),
            _word.map(lambda s: f"#{s}"),
            st.sampled_from(["@deprecated", "@created", "@latest", "@v1.2", "#", "@"]),
        )
    )
    cancel = draw(st.sampled_from(["", "", "!"]))
    counter = draw(st.sampled_from(["", "#1", "#12", "#x"]))
    junk = draw(st.sampled_from(["", "", " ", ":", "@v1.0.0"]))
    return artifact + event + cancel + counter + junk


@settings(max_examples=500)
@given(name=_tag_name())
def test_tag_names_are_read_as_gto_reads_them(name: str) -> None:
    theirs = gto_tag.parse_name(name, raise_on_fail=False)
    ours = tags.parse_name(name)
    if not theirs:
        assert ours is None
        return
    assert ours is not None
    assert ours.artifact == theirs["name"]
    # GTO gives "@created" no action at all
    assert ours.action == (theirs["action"].value if "action" in theirs else tags.CREATE)
    assert ours.version == theirs.get("version")
    assert ours.stage == theirs.get("stage")
    assert ours.counter == theirs.get("counter")


@settings(max_examples=500)
@given(a=_version, b=_version)
def test_versions_are_ordered_as_semver_orders_them(a: str, b: str) -> None:
    ka, kb = tags.semver_key(a), tags.semver_key(b)
    assert ka is not None and kb is not None
    va, vb = semver.Version.parse(a[1:]), semver.Version.parse(b[1:])
    assert (ka < kb) == (va < vb) and (ka == kb) == (va.compare(vb) == 0)


def test_what_is_no_version_has_no_key() -> None:
    for v in ["1.0.0", "v1.0", "v01.0.0", "va.b.c", "", "v1.0.0-"]:
        assert tags.semver_key(v) is None, v
