"""YAML 1.2 exactly as dvc reads and writes it: every ``.dvc`` file,
``dvc.yaml``, ``dvc.lock``, run-cache entry and YAML params file.

dvc loads them all with ruamel.yaml's safe loader (``dvc/utils/serialize``),
which speaks YAML 1.2: ``yes``, ``on`` and ``No`` are strings, ``1e3`` is a
float, ``017`` is 17, duplicate keys are errors. bale parses with PyYAML's C
loader configured with ruamel's YAML 1.2 resolvers and constructors (ten to
twenty times faster than ruamel). Documents using the few constructs where
libyaml's parser and ruamel's disagree (see ``_RUAMEL_ONLY``), and any
document the fast path rejects, go through ruamel itself, so what loads, what
fails and the values match dvc's.

Writing is ruamel's round trip, as dvc's ``dump_yaml``: :func:`load_roundtrip`
keeps a file's comments and styles, :func:`dumps` writes the changed document.
"""

from __future__ import annotations

import functools
import io
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bale.exceptions import MetafileError, one_line

if TYPE_CHECKING:
    import datetime

    from bale.metafiles.memo import ParseMemo

__all__ = ["dumps", "load_roundtrip", "parse"]


# ruamel.yaml's YAML 1.2 implicit resolvers (ruamel/yaml/resolver.py), in its order.
_YAML12_RESOLVERS: list[tuple[str, str, list[str]]] = [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    (
        "float",
        r"""^(?:
         [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        list("-+0123456789."),
    ),
    (
        "int",
        r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0o?[0-7_]+
        |[-+]?[0-9_]+
        |[-+]?0x[0-9a-fA-F_]+)$""",
        list("-+0123456789"),
    ),
    ("merge", r"^(?:<<)$", ["<"]),
    ("null", r"""^(?: ~ |null|Null|NULL | )$""", ["~", "n", "N", ""]),
    (
        "timestamp",
        r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?
        :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
        list("0123456789"),
    ),
    ("value", r"^(?:=)$", ["="]),
]

# Patterns are compiled on first use (by re's cache), not at import: most
# commands find every metafile in the parse memo.

# ruamel.yaml.util.timestamp_regexp: what the timestamp constructor accepts.
_TIMESTAMP = r"""^(?P<year>[0-9][0-9][0-9][0-9])
       -(?P<month>[0-9][0-9]?)
       -(?P<day>[0-9][0-9]?)
       (?:((?P<t>[Tt])|[ \t]+)
       (?P<hour>[0-9][0-9]?)
       :(?P<minute>[0-9][0-9])
       :(?P<second>[0-9][0-9])
       (?:\.(?P<fraction>[0-9]*))?
        (?:[ \t]*(?P<tz>Z|(?P<tz_sign>[-+])(?P<tz_hour>[0-9][0-9]?)
       (?::(?P<tz_minute>[0-9][0-9]))?))?)?$"""

_BOOL_VALUES = {
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "true": True,
    "false": False,
    "on": True,
    "off": False,
}

_TAG = "tag:yaml.org,2002:"
# Documents where libyaml's parser and ruamel's part ways go to ruamel itself.
_RUAMEL_ONLY = (
    r"^%YAML"  # a directive: ruamel may switch to YAML 1.1 rules
    r"|[\t\x85\u2028\u2029]"  # tabs (libyaml takes more), NEL and U+2028/9 (breaks to libyaml)
    r"|[\s\S]\ufeff"  # a byte order mark after the start (libyaml skips it)
    r"|[|>][-+0-9]*#"  # a block scalar header run into a comment
    r"|(?:^|[\s\[{,])"  # then, starting a token:
    r"(?:!|[&*](?![\w-]+(?:[\s\]},]|$)))"  # a tag (a bare ``!`` differs); ``&a:b``-like names
)


def _timestamp(value: str) -> datetime.date:
    """ruamel.yaml.util.create_timestamp, rounding and all."""
    import datetime

    match = re.match(_TIMESTAMP, value, re.X)
    if match is None:
        raise ValueError(f'failed to construct timestamp from "{value}"')
    g = match.groupdict()
    year, month, day = int(g["year"]), int(g["month"]), int(g["day"])
    if g["hour"] is None:
        return datetime.date(year, month, day)
    fraction = g["fraction"]
    frac = 0
    if fraction:
        frac = int(fraction[:6].ljust(6, "0"))
        if len(fraction) > 6 and int(fraction[6]) > 4:
            frac += 1
    tzinfo = None
    if g["tz_sign"]:
        delta = datetime.timedelta(
            hours=int(g["tz_hour"]), minutes=int(g["tz_minute"]) if g["tz_minute"] else 0
        )
        if g["tz_sign"] == "-":
            delta = -delta
        tzinfo = datetime.timezone(delta, name=g["tz"])
    elif g["tz"] == "Z":
        tzinfo = datetime.timezone(datetime.timedelta(hours=0), name="Z")
    data = datetime.datetime(
        year,
        month,
        day,
        int(g["hour"]),
        int(g["minute"]),
        int(g["second"]),
        frac if frac <= 999999 else 0,
        tzinfo,
    )
    if frac > 999999:  # a fraction that rounded up to a whole second
        data += datetime.timedelta(seconds=1)
    return data


def _yaml_int(text: str) -> int:
    """ruamel's YAML 1.2 int constructor: ``0o17``, ``0x1f``, ``0b11``, ``1_000``; ``017`` is 17."""
    digits = text.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    if digits[0] in "+-":
        digits = digits[1:]
    if digits == "0":
        return 0
    for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits)


def _yaml_float(text: str) -> float:
    """ruamel's YAML 1.2 float constructor."""
    digits = text.replace("_", "").lower()
    sign = -1 if digits[0] == "-" else 1
    if digits[0] in "+-":
        digits = digits[1:]
    if digits == ".inf":
        return sign * float("inf")
    if digits == ".nan":
        return float("nan")
    return sign * float(digits)


@functools.cache
def _loader() -> type:
    import yaml
    from yaml.constructor import ConstructorError
    from yaml.nodes import MappingNode, SequenceNode

    base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def scalar(loader: Any, node: Any) -> str:
        text: str = loader.construct_scalar(node)
        return text

    def construct_int(loader: Any, node: Any) -> int:
        return _yaml_int(scalar(loader, node))

    def construct_float(loader: Any, node: Any) -> float:
        return _yaml_float(scalar(loader, node))

    def construct_bool(loader: Any, node: Any) -> bool:
        return _BOOL_VALUES[scalar(loader, node).lower()]

    def construct_timestamp(loader: Any, node: Any) -> datetime.date:
        if not isinstance(node.value, str):
            raise ConstructorError(None, None, "expected a scalar node", node.start_mark)
        return _timestamp(node.value)

    def construct_omap(loader: Any, node: Any) -> Iterator[dict[Any, Any]]:
        # ruamel builds an ordered dict (PyYAML a list of pairs); a dict compares equal
        omap: dict[Any, Any] = {}
        yield omap
        if not isinstance(node, SequenceNode):
            raise ConstructorError(
                "while constructing an ordered map",
                node.start_mark,
                f"expected a sequence, but found {node.id}",
                node.start_mark,
            )
        for sub in node.value:
            if not isinstance(sub, MappingNode) or len(sub.value) != 1:
                raise ConstructorError(
                    "while constructing an ordered map",
                    node.start_mark,
                    "expected a single mapping item",
                    sub.start_mark,
                )
            key_node, value_node = sub.value[0]
            key = loader.construct_object(key_node)
            if key in omap:
                raise ConstructorError(
                    "while constructing an ordered map",
                    node.start_mark,
                    f'found duplicate key "{key}"',
                    key_node.start_mark,
                )
            omap[key] = loader.construct_object(value_node)

    class _Loader(base):  # type: ignore[misc]
        """PyYAML safe loader that resolves and constructs like ruamel's YAML 1.2 safe loader."""

        def flatten_mapping(self, node: Any) -> None:
            # ruamel's merge-key handling: a second ``<<`` is an error, and the merged
            # pairs go first so the mapping's own keys win.
            merge: list[Any] = []
            index = 0
            while index < len(node.value):
                key_node, value_node = node.value[index]
                if key_node.tag == _TAG + "merge":
                    if merge:
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            'found duplicate merge key "<<"',
                            key_node.start_mark,
                        )
                    del node.value[index]
                    if isinstance(value_node, MappingNode):
                        self.flatten_mapping(value_node)
                        merge.extend(value_node.value)
                    elif isinstance(value_node, SequenceNode):
                        submerge = []
                        for sub in value_node.value:
                            if not isinstance(sub, MappingNode):
                                raise ConstructorError(
                                    "while constructing a mapping",
                                    node.start_mark,
                                    f"expected a mapping for merging, but found {sub.id}",
                                    sub.start_mark,
                                )
                            self.flatten_mapping(sub)
                            submerge.append(sub.value)
                        for values in reversed(submerge):
                            merge.extend(values)
                    else:
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            "expected a mapping or list of mappings for merging, "
                            f"but found {value_node.id}",
                            value_node.start_mark,
                        )
                elif key_node.tag == _TAG + "value":
                    key_node.tag = _TAG + "str"
                    index += 1
                else:
                    index += 1
            if merge:
                node.merge = merge
                node.value = merge + node.value

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            if not isinstance(node, MappingNode):
                raise ConstructorError(
                    None, None, f"expected a mapping node, but found {node.id}", node.start_mark
                )
            self.flatten_mapping(node)
            merged = getattr(node, "merge", None)
            # ruamel checks duplicates only in mappings without a merge key
            todo = [(merged, False), (node.value, False)] if merged else [(node.value, True)]
            total: dict[Any, Any] = {}
            for pairs, check in todo:
                mapping: dict[Any, Any] = {}
                for key_node, value_node in pairs:
                    key = self.construct_object(key_node, deep=True)
                    if isinstance(key, list):  # ruamel turns a sequence key into a tuple
                        key = tuple(key)
                    try:
                        hash(key)
                    except TypeError:
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            "found unhashable key",
                            key_node.start_mark,
                        ) from None
                    value = self.construct_object(value_node, deep=deep)
                    if check and key in mapping:
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f'found duplicate key "{key}" with value "{value}" '
                            f'(original value: "{mapping[key]}")',
                            key_node.start_mark,
                        )
                    mapping[key] = value
                total.update(mapping)
            return total

    _Loader.yaml_implicit_resolvers = {}
    for tag, pattern, first in _YAML12_RESOLVERS:
        _Loader.add_implicit_resolver(_TAG + tag, re.compile(pattern, re.X), first)
    for tag, func in (
        ("int", construct_int),
        ("float", construct_float),
        ("bool", construct_bool),
        ("timestamp", construct_timestamp),
        ("omap", construct_omap),
    ):
        _Loader.add_constructor(_TAG + tag, func)
    return _Loader


def _load_fast(text: str) -> Any:
    """The PyYAML path alone (exposed for tests): raises whatever PyYAML raises."""
    import yaml

    return yaml.load(text, Loader=_loader())


def _load_ruamel(text: str, name: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    try:
        with warnings.catch_warnings():
            # YAML 1.1 documents make ruamel warn about floats like 1e3; dvc's users see
            # that noise, bale's need not
            warnings.simplefilter("ignore")
            return YAML(typ="safe").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = one_line(exc.problem or exc.context or "invalid YAML")
        if mark is not None:
            raise MetafileError(
                f"{name}: line {mark.line + 1}, column {mark.column + 1}: {problem}"
            ) from None
        raise MetafileError(f"{name}: {problem}") from None
    except Exception as exc:  # ruamel raises ValueError on some scalars (``+_``)
        raise MetafileError(f"{name}: {one_line(exc) or type(exc).__name__}") from None


def parse(text: str, name: str, memo: ParseMemo | None = None) -> Any:
    """The document in ``text`` (None when it is empty), as dvc's ruamel reads
    it; ``name`` is used in messages. Remembered by text in ``memo`` (the
    repository's parse memo) when one is given."""
    if memo is None:
        return _parse(text, name)
    return memo.parse("yaml1.2-doc", text, lambda: _parse(text, name))


def _parse(text: str, name: str) -> Any:
    if re.search(_RUAMEL_ONLY, text, re.M):
        return _load_ruamel(text, name)
    try:
        return _load_fast(text)
    except Exception:  # ruamel decides whether dvc accepts it, and words the error
        return _load_ruamel(text, name)


def _roundtrip() -> Any:
    # ruamel is slow to import; only the write path pays for it
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    return yaml


def load_roundtrip(text: str | None) -> Any:
    """``text`` as ruamel's round-trip loader reads it (comments, order and
    styles kept for :func:`dumps`); None for no text. Raises ruamel's
    ``YAMLError`` on invalid YAML."""
    return _roundtrip().load(text) if text else None


def dumps(data: Any) -> str:
    """``data`` (plain, or from :func:`load_roundtrip`) as dvc's ``dump_yaml`` writes it."""
    stream = io.StringIO()
    _roundtrip().dump(data, stream)
    return stream.getvalue()
