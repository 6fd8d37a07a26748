"""Reading parameter files, and selecting and comparing their values, the way dvc 3.x does.

Mirrors:

- ``dvc/utils/serialize`` (``LOADERS``/``load_path``): the loader is chosen by the
  file name's suffix, which dvc takes as *everything after the first dot* of the
  base name, lower-cased (``fs.suffix``): ``.json``, ``.toml`` and ``.py`` have
  their own loaders and every other suffix — including ``params.prod.json``,
  whose suffix is ``.prod.json`` — is read as YAML. YAML is ruamel's safe loader
  (YAML 1.2: ``1e-3`` is a float, ``yes`` is a string, duplicate keys are
  errors); JSON and YAML documents that are empty or falsy load as ``{}``.
- ``dvc/utils/serialize/_py.py``: top-level and class-level constant
  assignments of a Python file, and ``self.x = ...`` in ``__init__``.
- ``dvc/dependency/param.py``: ``read_param_file`` with ``flatten=True``
  (:func:`select`, dpath ``get`` with ``.`` as separator) and ``flatten=False``
  (:func:`select_tree`, dpath ``search`` + additive ``merge``), calling dpath
  as dvc does, so that keys select what they select in dvc;
  ``ParamsDependency.read_params`` (:func:`read_params`), ``get_hash``
  (:func:`lock_values`) and ``workspace_status`` (:func:`changed`).
- ``dvc/utils/flatten.py`` (``flatten_dict`` with the dot reducer): :func:`flatten`.

YAML is :mod:`bale.metafiles.yaml12`, the one YAML 1.2 reader every metafile uses.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import dpath
from dpath.exceptions import InvalidGlob, InvalidKeyName

from bale.exceptions import MetafileError, one_line

if TYPE_CHECKING:
    from bale.metafiles.memo import ParseMemo

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = [
    "DEFAULT_PARAMS_FILE",
    "changed",
    "flatten",
    "load_file",
    "loads",
    "loads_bytes",
    "lock_values",
    "parse_yaml",
    "read_params",
    "select",
    "select_tree",
    "suffix",
]

DEFAULT_PARAMS_FILE = "params.yaml"


# ---------------------------------------------------------------------------
# loading


def suffix(name: str) -> str:
    """The suffix dvc picks a loader by: from the first dot of the base name, lower-cased."""
    base = PurePath(name).name
    _, dot, rest = base.partition(".")
    return (dot + rest).lower()


def loads(text: str, name: str, memo: ParseMemo | None = None) -> Any:
    """Parse a params/metrics file's text by ``name``'s suffix, as dvc's ``LOADERS`` do.

    Unknown suffixes are YAML, as in dvc; ``memo`` (the repository's parse
    memo) remembers a YAML parse. Malformed content raises a one-line
    :class:`MetafileError` starting with ``name``.
    """
    parser = _PARSERS.get(suffix(name))
    return parse_yaml(text, name, memo) if parser is None else parser(text, name)


def loads_as(text: str, name: str, ext: str, memo: ParseMemo | None = None) -> Any:
    """:func:`loads` with the parser of suffix ``ext`` (``.json``), whatever
    ``name`` ends in: dvc's plots pick theirs by the last extension."""
    parser = _PARSERS.get(ext.lower())
    return parse_yaml(text, name, memo) if parser is None else parser(text, name)


def loads_bytes(data: bytes, name: str, memo: ParseMemo | None = None) -> Any:
    """:func:`loads` for raw bytes (a git blob, say), decoded as dvc opens files:
    UTF-8 text mode, so ``\\r\\n`` and ``\\r`` read as ``\\n``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MetafileError(f"{name}: is not valid utf-8") from None
    return loads(text.replace("\r\n", "\n").replace("\r", "\n"), name, memo)


def load_file(path: Path | str, name: str | None = None, memo: ParseMemo | None = None) -> Any:
    """Read and parse a file; ``name`` (default: ``path``) is used for the suffix and
    in error messages. A missing file raises :class:`FileNotFoundError`."""
    label = str(path) if name is None else name
    try:
        # text mode with universal newlines: what dvc's ``open(..., encoding="utf-8")`` reads
        with open(path, encoding="utf-8") as fobj:
            text = fobj.read()
    except UnicodeDecodeError:
        raise MetafileError(f"{label}: is not valid utf-8") from None
    return loads(text, label, memo)


# -- JSON -------------------------------------------------------------------


def _parse_json(text: str, name: str) -> Any:
    try:
        return json.loads(text) or {}
    except json.JSONDecodeError as exc:
        raise MetafileError(f"{name}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise MetafileError(f"{name}: JSON nested too deeply") from None


# -- TOML -------------------------------------------------------------------

_TOML_WHERE = re.compile(r"^(.*) \(at line (\d+), column (\d+)\)$", re.S)


def _parse_toml(text: str, name: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = one_line(exc)
        where = _TOML_WHERE.match(message)
        if where:
            raise MetafileError(f"{name}: line {where[2]}, column {where[3]}: {where[1]}") from None
        raise MetafileError(f"{name}: {message}") from None


# -- Python -----------------------------------------------------------------


def _parse_py(text: str, name: str) -> Any:
    try:
        tree = ast.parse(text, filename=name)
    except SyntaxError as exc:
        where = f"line {exc.lineno}, column {exc.offset}: " if exc.lineno else ""
        raise MetafileError(f"{name}: {where}{one_line(exc.msg)}") from None
    except ValueError as exc:  # null bytes, on Python < 3.12
        raise MetafileError(f"{name}: {one_line(exc)}") from None
    try:
        return _py_body(tree.body, only_self=False)
    except (TypeError, RecursionError, MemoryError) as exc:
        # dvc crashes here (an unhashable literal key, say); an error is the closest match
        raise MetafileError(f"{name}: {one_line(exc)}") from None


def _py_body(body: list[ast.stmt], only_self: bool) -> dict[Any, Any]:
    # dvc skips any statement whose name or value it cannot take (ValueError or
    # AttributeError inside), keeping the rest of the file.
    result: dict[Any, Any] = {}
    for stmt in body:
        try:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                result.update(_py_assign(stmt, only_self))
            elif isinstance(stmt, ast.ClassDef):
                result.update({stmt.name: _py_body(stmt.body, only_self=False)})
            elif isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
                result.update(_py_body(stmt.body, only_self=True))
        except (ValueError, AttributeError):
            continue
    return result


def _py_assign(stmt: ast.Assign | ast.AnnAssign, only_self: bool) -> dict[Any, Any]:
    if isinstance(stmt, ast.AnnAssign):
        name = _py_target(stmt.target, only_self)
    elif len(stmt.targets) == 1:
        name = _py_target(stmt.targets[0], only_self)
    else:
        raise AttributeError("chained assignment")
    node = stmt.value
    value: Any
    if isinstance(node, ast.Dict):
        value = {}
        for key, val in zip(node.keys, node.values, strict=True):
            item = ast.literal_eval(val)
            value[ast.literal_eval(key)] = item  # type: ignore[arg-type]
    elif isinstance(node, ast.List):
        value = [ast.literal_eval(elt) for elt in node.elts]
    elif isinstance(node, ast.Set):
        value = {ast.literal_eval(elt) for elt in node.elts}
    elif isinstance(node, ast.Tuple):
        value = tuple(ast.literal_eval(elt) for elt in node.elts)
    else:
        value = ast.literal_eval(node)  # type: ignore[arg-type]
    return {name: value}


def _py_target(target: ast.expr, only_self: bool) -> str:
    if isinstance(target, ast.Name) and not only_self:
        return target.id
    if isinstance(target, ast.Attribute):
        owner = target.value
        if not isinstance(owner, ast.Name):
            raise AttributeError("not a plain attribute")
        if owner.id == "self":
            return target.attr
    raise AttributeError("not a parameter name")


def parse_yaml(text: str, name: str, memo: ParseMemo | None = None) -> Any:
    """A YAML params file as dvc reads it: empty or falsy documents are ``{}``."""
    from bale.metafiles import yaml12

    return yaml12.parse(text, name, memo) or {}


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    ".json": _parse_json,
    ".toml": _parse_toml,
    ".py": _parse_py,
}


# ---------------------------------------------------------------------------
# selecting by key: dpath with "." as separator, called as dvc calls it


@contextlib.contextmanager
def _dpath_errors(key_path: str) -> Iterator[None]:
    """What dpath raises where dvc fails too, as one line."""
    try:
        yield
    except InvalidKeyName:
        raise MetafileError("parameter files read by key may not have empty keys") from None
    except InvalidGlob:
        raise MetafileError(f"invalid key '{key_path}': only one '**' is allowed") from None
    except (TypeError, ValueError, AttributeError, IndexError, KeyError) as e:
        # a set, tuple or non-string key (from a .py file, say) that dpath cannot walk
        raise MetafileError(f"cannot select parameter '{key_path}': {one_line(e)}") from None


def select(data: Any, keys: Sequence[str]) -> dict[str, Any]:
    """dvc's ``read_param_file(..., flatten=True)``: ``{key_path: value}`` for the
    dotted key paths found in ``data``; absent ones are left out.

    Key paths are dpath globs split on ``.``: ``train.lr``, ``layers.0`` (a list
    position; ``-1`` too), ``train.*`` (if it matches one value). A path that
    matches several values, or a document with an empty key, is an error, as in dvc.
    """
    ret: dict[str, Any] = {}
    for key_path in keys:
        with _dpath_errors(key_path):
            try:
                ret[key_path] = dpath.get(data, key_path, separator=".")
            except KeyError:
                continue
            except ValueError:
                raise MetafileError(f"parameter '{key_path}' matches more than one value") from None
    return ret


def select_tree(data: Any, keys: Sequence[str] | None) -> Any:
    """dvc's ``read_param_file(..., flatten=False)`` (what ``params show``/``diff``
    compare): the nested part of ``data`` holding the given key paths, or all of
    ``data`` if ``keys`` is empty. Lists keep their positions (``a.1`` gives
    ``{"a": [None, x]}``) and two key paths selecting list parts concatenate, as
    dpath's additive merge does."""
    if not keys:
        return data
    ret: dict[Any, Any] = {}
    for key_path in dict.fromkeys(keys):
        with _dpath_errors(key_path):
            found = copy.deepcopy(dpath.search(data, key_path, separator="."))
            dpath.merge(ret, found, separator=".")
    return ret


# ---------------------------------------------------------------------------
# ParamsDependency


def read_params(data: Any, keys: Sequence[str] | None) -> Any:
    """``ParamsDependency.read_params``: the tracked values ``{key_path: value}``, or
    the whole document when the stage tracks the whole file (no keys)."""
    return select(data, keys) if keys else data


def lock_values(data: Any, keys: Sequence[str] | None, name: str) -> Any:
    """``ParamsDependency.get_hash``: the values ``dvc.lock`` records for this
    params file; a tracked key missing from the file is an error naming it."""
    info = read_params(data, keys)
    missing = [key for key in dict.fromkeys(keys or ()) if key not in info]
    if missing:
        raise MetafileError(f"Parameters '{', '.join(missing)}' are missing from '{name}'.")
    return info


def changed(
    recorded: Mapping[str, Any], actual: Mapping[str, Any], keys: Sequence[str] | None
) -> dict[str, str]:
    """``ParamsDependency.workspace_status`` for an existing file with a lock record:
    ``{key: "modified" | "new" | "deleted"}`` for the keys that differ.

    ``recorded`` is the file's entry in ``dvc.lock``, ``actual`` is
    :func:`read_params` of the file now. Order: ``keys`` as given; for a wholly
    tracked file, the file's keys then the lock's. A tuple (from a ``.py`` file)
    equals the list the lock holds for it.
    """
    order = list(keys) if keys else list(dict.fromkeys([*actual.keys(), *recorded.keys()]))
    status: dict[str, str] = {}
    for key in order:
        if key not in actual:
            status[key] = "deleted"
        elif key not in recorded:
            status[key] = "new"
        elif actual[key] != recorded[key]:
            if isinstance(actual[key], tuple) and list(actual[key]) == recorded[key]:
                continue
            status[key] = "modified"
    return status


# ---------------------------------------------------------------------------
# flatten


def flatten(data: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys, as dvc's ``flatten`` (``flatten_dict``, dot
    reducer): lists stay values, empty mappings vanish, and two paths that
    flatten to the same key are an error. Keys are made strings."""
    out: dict[str, Any] = {}

    def walk(node: Mapping[Any, Any], parent: str | None) -> None:
        for key, value in node.items():
            flat = str(key) if parent is None else f"{parent}.{key}"
            if isinstance(value, Mapping):
                if value:
                    walk(value, flat)
                continue
            if flat in out:
                raise MetafileError(f"duplicated key '{flat}'")
            out[flat] = value

    if not isinstance(data, Mapping):
        raise TypeError(f"cannot flatten a {type(data).__name__}")
    walk(data, prefix or None)
    return out
