"""bale's copy of dvc's config keys (bale.config.schema) against dvc's own
schema (``dvc.config_schema``), so the two cannot drift: the same sections
and options, and no value bale accepts that dvc refuses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dvc import config_schema as dvc
from voluptuous import Invalid, Lower, Schema

from bale.config import BALE_KEYS, BALE_REMOTE_KEYS
from bale.config import schema as bale
from bale.remotes import support

_NAMED = ("remote", "machine", "db")
# config values as configobj hands them over: strings, and a list for an
# unquoted "a, b"
SAMPLES: list[Any] = [
    *("", "true", "FALSE", "yes", "on", "0", "1", "-1", "7", "5242880", "1.5", "-0.5"),
    *("abc", "group", "GROUP", "copy", "reflink,copy", "reflink, bogus", "basic", "Digest"),
    *("aws", "us-east", "store_true", "nargs", "append", "boolean_optional", "s3://b/p"),
    ["reflink", "copy"],
]


def _options(spec: Any) -> dict[str, Any]:
    """A voluptuous mapping's options by name (``Optional("x")`` is ``x``)."""
    spec = getattr(spec, "schema", spec)  # FeatureSchema wraps its dict
    return {str(k): v for k, v in spec.items()}


def _dvc_remote_schemas() -> dict[str, dict[str, Any]]:
    # "remote" is the catch-all dvc uses for a remote's own remote: not a URL scheme
    return {s: _options(spec) for s, spec in dvc.REMOTE_SCHEMAS.items() if s != "remote"}


def _tables() -> Iterator[tuple[str, dict[str, Any], dict[str, bale.Validator]]]:
    """(name, dvc's options, bale's validators) for every table dvc has."""
    for section, spec in dvc.SCHEMA.items():
        if section not in _NAMED:
            yield section, _options(spec), bale.SECTIONS.get(section, {})
    yield "machine", _options(dvc.SCHEMA["machine"][str]), bale.validators_for(("machine",), {})
    yield "db", _options(dvc.SCHEMA["db"][str]), bale.validators_for(("db",), {})
    for scheme, options in _dvc_remote_schemas().items():
        yield f"remote ({scheme or 'local'})", options, bale.REMOTE_SCHEMAS.get(scheme, {})


def test_bale_knows_exactly_the_sections_and_remote_kinds_dvc_knows() -> None:
    assert set(bale.SECTIONS) == set(dvc.SCHEMA) - set(_NAMED)
    assert set(bale.REMOTE_SCHEMAS) == set(_dvc_remote_schemas())


@pytest.mark.parametrize("name,theirs,ours", list(_tables()), ids=lambda v: str(v)[:20])
def test_every_table_has_exactly_dvcs_options(
    name: str, theirs: dict[str, Any], ours: dict[str, bale.Validator]
) -> None:
    assert sorted(ours) == sorted(theirs), name


def _accepts(check: Callable[[Any], Any], value: Any) -> bool:
    try:
        check(value)
    except (TypeError, ValueError, Invalid):
        return False
    return True


def test_bale_accepts_no_value_dvc_refuses() -> None:
    wrong = [
        f"{name}.{option} = {value!r}"
        for name, theirs, ours in _tables()
        for option, check in ours.items()
        for value in SAMPLES
        if _accepts(check, value) and not _accepts(Schema(theirs[option]), value)
    ]
    assert wrong == []


def test_bale_accepts_every_value_dvc_accepts() -> None:
    # but a list where dvc wants a lower-cased string: dvc stores the list's
    # repr (``['a', 'b']``), which names no remote or machine
    wrong = [
        f"{name}.{option} = {value!r}"
        for name, theirs, ours in _tables()
        for option, check in ours.items()
        for value in SAMPLES
        if not (theirs[option] is Lower and isinstance(value, list))
        and _accepts(Schema(theirs[option]), value)
        and not _accepts(check, value)
    ]
    assert wrong == []


def test_bales_own_keys_are_ones_dvc_would_refuse() -> None:
    # they live in bale.conf because dvc refuses unknown keys in its files
    for key in BALE_KEYS:
        section, option = key.split(".")
        assert option not in _options(dvc.SCHEMA[section]), key
    for scheme, options in _dvc_remote_schemas().items():
        assert not set(BALE_REMOTE_KEYS) & set(options), scheme


def test_every_option_bale_refuses_or_ignores_is_one_dvc_has_for_that_kind() -> None:
    dvc_remotes = _dvc_remote_schemas()
    for kind, schemes in [("*", list(dvc_remotes)), *_kinds()]:
        tables = [support._REFUSED.get(kind, {}), support._IGNORED.get(kind, {})]
        for option in (o for table in tables for o in table):
            for scheme in schemes:
                assert option in dvc_remotes[scheme], f"{kind}: {option} ({scheme or 'local'})"


def _kinds() -> list[tuple[str, list[str]]]:
    """bale's store kinds and the URL schemes dvc validates them by (a
    ``file://`` URL has no netloc: dvc takes it for a local path)."""
    kinds: dict[str, list[str]] = {}
    for scheme, kind in support.KINDS.items():
        kinds.setdefault(kind, []).append("" if scheme == "file" else scheme)
    return list(kinds.items())
