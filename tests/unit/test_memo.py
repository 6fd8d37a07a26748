"""The memo of parsed YAML: answers only for the exact text and parser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bale.metafiles.memo import FILE_NAME, ParseMemo, _exact


class Counting:
    def __init__(self, value: Any) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return json.loads(json.dumps(self.value)) if _exact(self.value) else self.value


def test_a_remembered_text_is_not_parsed_again_and_each_caller_gets_its_own_copy(
    tmp_path: Path,
) -> None:
    path = tmp_path / FILE_NAME
    parse = Counting({"outs": [{"path": "data", "size": 3, "isexec": True, "x": 1.5}]})
    memo = ParseMemo(path)
    first = memo.parse("k", "text", parse)
    memo.save()
    memo = ParseMemo(path)
    second = memo.parse("k", "text", parse)
    assert parse.calls == 1 and first == second == parse.value
    second["outs"].append("changed by the caller")
    assert memo.parse("k", "text", parse) == parse.value
    # Another parser, or another text by one byte: parsed again.
    memo.parse("other", "text", parse)
    memo.parse("k", "text ", parse)
    assert parse.calls == 3


@pytest.mark.parametrize(
    "value",
    [
        {1: "int key"},
        {"when": __import__("datetime").date(2020, 1, 1)},
        {"t": (1, 2)},
        {"f": float("nan")},
        {"b": b"bytes"},
    ],
)
def test_values_json_cannot_carry_exactly_are_not_kept(tmp_path: Path, value: Any) -> None:
    memo = ParseMemo(tmp_path / FILE_NAME)
    parse = Counting(value)
    assert memo.parse("k", "t", parse) == value
    assert memo.parse("k", "t", parse) == value
    assert parse.calls == 2


def test_a_damaged_memo_file_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    for text in [
        "{not json",
        '{"format": 99, "entries": {}}',
        '{"format": 1, "entries": {"k\\u0000t": "{bad"}}',
    ]:
        path.write_text(text)
        parse = Counting({"a": 1})
        assert ParseMemo(path).parse("k", "t", parse) == {"a": 1}
        assert parse.calls == 1


def test_parse_errors_are_not_remembered(tmp_path: Path) -> None:
    memo = ParseMemo(tmp_path / FILE_NAME)

    def bad() -> Any:
        raise ValueError("line 1, column 2: nope")

    for _ in range(2):
        with pytest.raises(ValueError):
            memo.parse("k", "t", bad)
    memo.save()
    assert not (tmp_path / FILE_NAME).exists()
