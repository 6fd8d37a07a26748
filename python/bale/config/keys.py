"""Config keys and the nested dicts they address.

A key is a tuple: ``("core", "remote")`` for a plain section's option,
``("remote", "<name>", "url")`` for a named section's; a level's config is
the nested dict of its file (named sections under their kind).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from bale.exceptions import ConfigError

NAMED = ("remote", "machine", "db")
_KEY_RE = re.compile(
    r"^(?:(?P<top>remote|db|machine)\.(?P<name>[^.]*)|(?P<section>[^.]*))\.(?P<opt>[^.]*)$"
)

Key = tuple[str, ...]  # ("core", "remote") or ("remote", "<name>", "url")


def parse_key(key: str) -> Key:
    m = _KEY_RE.match(key)
    if not m or not m.group("opt") or not (m.group("section") or m.group("name")):
        raise ConfigError(
            f"bad config name '{key}': use section.option, remote.<name>.option or db.<name>.option"
        )
    if m.group("top"):
        # dvc lower-cases every key on load, remote names included
        return (m.group("top"), m.group("name").lower(), m.group("opt").lower())
    return (m.group("section").lower(), m.group("opt").lower())


def key_str(key: Key) -> str:
    return ".".join(key)


def lookup(conf: dict[str, Any], key: Key) -> Any:
    node: Any = conf
    for part in key:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def flatten(conf: dict[str, Any], prefix: Key = ()) -> Iterator[tuple[Key, Any]]:
    for k, v in conf.items():
        if isinstance(v, dict):
            yield from flatten(v, (*prefix, k))
        else:
            yield (*prefix, k), v


def merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for k, v in update.items():
        if isinstance(into.get(k), dict) and isinstance(v, dict):
            merge(into[k], v)
        else:
            # copy so later merges never write into a level's own dicts
            into[k] = copy_tree(v) if isinstance(v, dict) else v


def as_str(value: Any) -> str:
    # configobj turns an unquoted "a,b" into a list
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def copy_tree(conf: dict[str, Any]) -> dict[str, Any]:
    return {k: copy_tree(v) if isinstance(v, dict) else v for k, v in conf.items()}
