"""``exp run -S [file:]key=value``: set params in YAML or JSON params files.

YAML is updated in ruamel's round-trip mode, so comments and layout stay, as
dvc keeps them. A value is read as YAML (``0.01`` a float, ``true`` a bool,
``[1, 2]`` a list), close to hydra's override grammar that dvc uses. Setting
a key the file lacks needs ``+key=value``, as in dvc.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bale.exceptions import BaleError
from bale.metafiles import yaml12
from bale.pipeline.stage import DEFAULT_PARAMS_FILE


@dataclass(frozen=True)
class Override:
    file: str
    key: str
    value: Any
    add: bool  # `+key=value`: the key may be new


def parse(items: Sequence[str]) -> list[Override]:
    from ruamel.yaml import YAML

    out = []
    for item in items:
        lhs, eq, raw = item.partition("=")
        if not eq or not lhs:
            raise BaleError(f"-S {item}: expected [file:]key=value")
        file, colon, key = lhs.rpartition(":")
        if not colon:
            file, key = DEFAULT_PARAMS_FILE, lhs
        add = key.startswith("+")
        key = key.removeprefix("+")
        try:
            value = YAML(typ="safe").load(raw) if raw.strip() else ""
        except Exception:
            value = raw
        out.append(Override(file, key, value, add))
    return out


def _set(data: Any, o: Override, name: str) -> None:
    parts = o.key.split(".")
    node = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            if last:
                node[int(part)] = o.value
            else:
                node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise BaleError(
                f"{name}: cannot set '{o.key}': '{'.'.join(parts[:i])}' is not a mapping"
            )
        if part not in node and not o.add:
            raise BaleError(f"{name}: has no param '{o.key}' (use +{o.key}=... to add it)")
        if last:
            node[part] = o.value
        else:
            node = node.setdefault(part, {})


def apply(text: str | None, name: str, overrides: list[Override]) -> str:
    """``text`` (the params file, or None if it does not exist yet) with
    ``overrides`` set; the file's format is chosen by its name."""
    if name.endswith(".json"):
        try:
            data = json.loads(text) if text else {}
        except ValueError as e:
            raise BaleError(f"{name}: not valid JSON: {e}") from None
        for o in overrides:
            _set(data, o, name)
        return json.dumps(data, indent=4) + "\n"
    if not name.endswith((".yaml", ".yml")):
        raise BaleError(f"-S: {name}: only YAML and JSON params files can be set")
    from ruamel.yaml.error import YAMLError

    try:
        data = yaml12.load_roundtrip(text)
    except YAMLError as e:
        raise BaleError(f"{name}: not valid YAML: {' '.join(str(e).split())}") from None
    if data is None:
        data = {}
    for o in overrides:
        _set(data, o, name)
    return yaml12.dumps(data)
