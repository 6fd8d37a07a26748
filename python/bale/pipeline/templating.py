"""``dvc.yaml`` templating: ``vars``, ``${...}`` interpolation, ``foreach`` and ``matrix``.

A reimplementation of dvc 3.67.1's ``dvc/parsing/`` (``DataResolver`` in ``__init__.py``,
``Context`` in ``context.py``, ``interpolate.py``) that expands a parsed ``dvc.yaml`` into the
same ``{name: definition}`` stages dvc's ``DataResolver.resolve()`` produces, including its
quirks, so that a pipeline means the same thing to bale and to dvc:

* the variables are ``params.yaml`` beside ``dvc.yaml`` (if it exists), then the top-level
  ``vars``, then a stage's own ``vars`` (read relative to its ``wdir``); sources are merged
  recursively and redefining a leaf is an error; mapping keys that are not strings are
  silently dropped from variables (dvc's ``CtxDict`` ignores them);
* ``"${x}"`` alone keeps x's type; ``${x}`` within text is rendered with dvc's ``to_str``
  (``true``/``false``, ``None``, Python ``str()``), a mapping in ``cmd`` as CLI options;
  lists and mappings are refused in stage fields except a mapping in ``cmd``;
* mapping keys inside stage definitions are interpolated like values;
* generated names: ``foreach`` over scalars uses the value, over a list holding any list or
  mapping the index, over a mapping the key; ``matrix`` joins one part per axis with ``-``,
  the value or, for a list/mapping value, the axis name plus index. Values that come
  straight from a variable (``foreach: ${flags}``) are named with Python's ``str()`` (``True``)
  where literal ones use ``true``; members whose names coincide collapse into one, the last
  value winning, as in dvc.

Where dvc crashes, or cannot load the stage (a literal stage name containing ``@``, a generated
name whose key is empty or contains ``@``, an empty matrix, unsupported value types), this
raises a :class:`MetafileError` instead. Each stage's ``tracked_vars`` (the variables from files it
interpolated, which dvc's ``params show``/``diff`` and ``exp show`` list) are recorded when asked.
Not mirrored: interpolation of the top-level ``params``/``metrics``/``plots``/``artifacts``/
``datasets`` sections, and dvc's warning when ``item``/``key`` shadow a variable.
"""

from __future__ import annotations

import copy
import functools
import os
import posixpath
import re
import shlex
import subprocess
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from itertools import product
from typing import Any

from bale.exceptions import MetafileError

__all__ = ["interpolates", "resolve_stages"]

DEFAULT_PARAMS_FILE = "params.yaml"

_INTERP = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")
# dvc's pyparsing grammar: word ("." word | "[" word "]")*, a word being anything but
# ".[]"; whitespace may follow a "]".
_WORD = r"[^.\[\]]+"
_EXPR = re.compile(rf"{_WORD}(?:\.{_WORD}|\[{_WORD}\][ \t\r]*)*")
_SCALARS = (str, int, float, bytes, bool)

_Stage = tuple[str, dict[str, Any]]
# Where a value came from: (the source it was merged from, its path there). dvc keeps the
# nodes of `foreach: ${x}` and `matrix` data as `item`, so their origin is x's.
_Origin = tuple[str | None, tuple[str, ...]]
# A foreach/matrix member: its variables (item, key), and the origin of those from variables.
_Member = tuple[dict[str, Any], dict[tuple[str, ...], _Origin]]


class _Error(Exception):
    """A templating error not yet tied to the part of ``dvc.yaml`` that caused it."""


class _AlreadyLoaded(_Error):
    """Separate because dvc reports it against ``stages.X.vars`` rather than the stage."""


def interpolates(s: str) -> bool:
    """Whether ``s`` holds a ``${...}`` that dvc would interpolate (not ``\\${...}``)."""
    return _INTERP.search(s) is not None


def resolve_stages(
    data: Mapping[str, Any],
    *,
    where: str,
    load: Callable[[str], Any],
    parsing: Mapping[str, Any] | None = None,
    tracked: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """Stages in file order, each (name, definition) with every ${...} resolved,
    `vars` applied and removed, `foreach`/`do` and `matrix` expanded
    (names like `build@small`, `grid@0.1-adam`).

    ``load`` reads a vars file given its path relative to the ``dvc.yaml`` directory and
    raises FileNotFoundError if it is missing. ``parsing`` is dvc's ``parsing`` config
    section (``bool``: ``store_true``/``boolean_optional``, ``list``: ``nargs``/``append``),
    which only changes how a mapping interpolated into ``cmd`` is rendered.

    ``tracked``, if given, receives dvc's ``tracked_vars``: per stage name, per vars file
    (relative to the ``dvc.yaml`` directory), ``{dotted.key: value}`` of each variable from
    that file the stage's fields interpolated, in the order they were met. As in dvc's
    ``Context._track_data``, inline ``vars`` dictionaries and ``item``/``key`` are not
    tracked, nor are whole dictionaries (a list is), nor ``foreach``/``matrix`` data.
    """
    return _Resolver(where, load, parsing or {}, tracked).run(data)


class _Context:
    """The variables visible while resolving: dvc's ``Context`` without its node wrappers."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        # Where each merged subtree came from, only to name both sides of a merge conflict.
        self.sources: dict[tuple[str, ...], str] = {}
        # Vars files loaded so far: whole (None) or only some keys; see _Resolver._merge_file.
        self.imports: dict[str, list[str] | None] = {}
        # `item`/`key` of the current foreach/matrix member: stage vars may not redefine them.
        self.reserved: tuple[str, ...] = ()
        # Vars files by their `sources` name: the path relative to the dvc.yaml directory.
        self.files: dict[str, str] = {}
        # Set while a stage's fields resolve: {file: {dotted.key: value}} of what they used.
        self.tracking: dict[str, dict[str, Any]] | None = None
        # The origin of member variables that came from other variables, by their path.
        self.aliases: dict[tuple[str, ...], _Origin] = {}

    def clone(self) -> _Context:
        new = _Context()
        new.data = copy.deepcopy(self.data)
        new.sources = dict(self.sources)
        new.imports = {k: None if v is None else list(v) for k, v in self.imports.items()}
        new.reserved = self.reserved
        new.files = dict(self.files)
        new.tracking = self.tracking
        new.aliases = self.aliases
        return new

    def with_member(self, member: _Member) -> _Context:
        """The member's values shadow (not merge with) same-named variables; shares the
        rest, so it must be cloned before merging into it."""
        values, aliases = member
        new = _Context()
        new.aliases = aliases
        new.data = {**self.data, **values}
        new.sources = self.sources
        new.imports = self.imports
        new.reserved = tuple(values)
        new.files = self.files
        new.tracking = self.tracking
        return new

    def with_tracking(self, tracking: dict[str, dict[str, Any]]) -> _Context:
        """The same variables (shared, not copied), recording what is looked up in ``tracking``."""
        new = _Context()
        new.data, new.sources, new.imports = self.data, self.sources, self.imports
        new.reserved, new.files, new.tracking = self.reserved, self.files, tracking
        new.aliases = self.aliases
        return new

    def merge(self, new: dict[str, Any], source: str, item: str | None = None) -> None:
        clash = [k for k in self.reserved if k in new]
        if clash:
            noun = "keys" if len(clash) > 1 else "key"
            suffix = f" in '{item}'" if item else ""
            raise _Error(f"attempted to modify reserved {noun} {' and '.join(clash)}{suffix}")
        self._merge(self.data, new, (), source)

    def _merge(
        self, into: dict[str, Any], new: dict[str, Any], path: tuple[str, ...], source: str
    ) -> None:
        for key, value in new.items():
            here = (*path, key)
            if isinstance(into.get(key), dict) and isinstance(value, dict):
                self._merge(into[key], value, here, source)
            elif key in into:
                raise _Error(
                    f"cannot redefine '{'.'.join(here)}' from '{source}'"
                    f" as it already exists in '{self._source_of(here)}'"
                )
            else:
                into[key] = value
                self.sources[here] = source

    def _source_of(self, path: tuple[str, ...]) -> str | None:
        while path and path not in self.sources:
            path = path[:-1]
        return self.sources.get(path)

    def lookup(self, expr: str) -> Any:
        node, path = self.locate(expr)
        if self.tracking is not None and not isinstance(node, dict):
            self._track(path, node)
        return node

    def locate(self, expr: str) -> tuple[Any, tuple[str, ...]]:
        """The value of ``expr`` and its path (list positions made non-negative)."""
        node: Any = self.data
        path: list[str] = []
        for part in _parse(expr):
            try:
                if isinstance(node, dict):
                    node = node[part]
                elif isinstance(node, list):
                    index = int(part)  # as in dvc: "-1" and " 1" work too
                    part = str(index + len(node) if index < 0 else index)
                    node = node[index]
                else:
                    raise LookupError(part)
            except (LookupError, ValueError):
                raise _Error(f"Could not find '{'.'.join(_parse(expr))}'") from None
            path.append(part)
        return node, tuple(path)

    def origin(self, path: tuple[str, ...]) -> _Origin | None:
        """Where the value at ``path`` came from; None for a member's own value."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.aliases:
                source, at = self.aliases[path[:end]]
                return source, at + path[end:]
        if not path or path[0] in self.reserved:
            return None
        return self._source_of(path), path

    def _track(self, path: tuple[str, ...], value: Any) -> None:
        """dvc's ``_track_data``: a value from a vars file (not an inline dictionary, not
        a member's own ``item``/``key``) is recorded under its file and dotted path."""
        assert self.tracking is not None
        source, at = self.origin(path) or (None, ())
        if source is not None and source in self.files:
            self.tracking.setdefault(self.files[source], {})[".".join(at)] = value


class _Resolver:
    def __init__(
        self,
        where: str,
        load: Callable[[str], Any],
        parsing: Mapping[str, Any],
        tracked: dict[str, dict[str, dict[str, Any]]] | None = None,
    ):
        self.where = where
        self.base = posixpath.dirname(where)
        self.load = load
        self.parsing = parsing
        self.tracked = tracked

    @contextmanager
    def _at(self, locus: str, only: type[_Error] = _Error) -> Iterator[None]:
        # Nested loci: the innermost names the error, as dvc's format_and_raise does.
        try:
            yield
        except only as exc:
            raise self._fail(locus, str(exc)) from None

    def _fail(self, locus: str, msg: str, verb: str = "parse") -> MetafileError:
        return MetafileError(f"{self.where}: failed to {verb} {locus}: {msg}")

    def run(self, data: Mapping[str, Any]) -> list[_Stage]:
        ctx = _Context()
        with self._at("'vars'"):
            vars_ = _check_vars(data.get("vars", []))
            self._merge_file(ctx, DEFAULT_PARAMS_FILE, "", optional=True)
            self._load_vars(ctx, vars_, "")

        # dvc lists every generated name before it resolves any stage, so errors in
        # foreach/matrix data come first; keep that order.
        plan: list[tuple[str, Mapping[str, Any], dict[str, _Member] | None]] = []
        for name, definition in (data.get("stages") or {}).items():
            if not isinstance(definition, Mapping):
                raise self._fail(
                    f"'stages.{name}'", f"expected a dictionary, got {_tn(definition)}"
                )
            if "matrix" in definition:
                if {"foreach", "do"} & definition.keys():
                    raise self._fail(f"'stages.{name}'", "'matrix' excludes 'foreach' and 'do'")
                plan.append((name, definition, self._matrix(name, definition["matrix"], ctx)))
            elif "foreach" in definition:
                if not isinstance(definition.get("do"), Mapping):
                    raise self._fail(f"'stages.{name}'", "'foreach' needs a 'do' dictionary")
                plan.append((name, definition, self._foreach(name, definition["foreach"], ctx)))
            else:
                plan.append((name, definition, None))

        generated = {f"{n}@{k}": n for n, _, members in plan for k in members or ()}
        stages: list[_Stage] = []
        for name, definition, members in plan:
            if members is None:
                if name in generated:
                    raise MetafileError(
                        f"{self.where}: duplicate stage name '{name}':"
                        f" stage '{generated[name]}' generates it too"
                    )
                if "@" in str(name):
                    # dvc takes the part before the last '@' for a foreach/matrix stage's name
                    # and cannot find this stage.
                    raise MetafileError(
                        f"{self.where}: invalid stage name '{name}':"
                        " '@' is reserved for stages generated by foreach/matrix"
                    )
                stages.append((name, self._stage(name, definition, ctx)))
                continue
            if "matrix" in definition:
                template = {k: v for k, v in definition.items() if k != "matrix"}
            else:
                template = dict(definition["do"])
            if members:  # dvc checks the template lazily, so not at all without members
                self._check_syntax(name, template)
            for key, values in members.items():
                full = f"{name}@{key}"
                if not key or "@" in key:
                    # dvc splits names at the last '@' and asserts a non-empty key.
                    problem = f"'{key}' contains '@'" if key else "its key is empty"
                    raise MetafileError(
                        f"{self.where}: invalid stage name '{full}' generated by '{name}':"
                        f" {problem}, which dvc cannot load"
                    )
                stages.append((full, self._stage(full, template, ctx.with_member(values), False)))
        return stages

    # -- vars ---------------------------------------------------------------------------

    def _load_vars(self, ctx: _Context, vars_: list[Any], wdir: str, stage: str = "") -> None:
        for index, item in enumerate(vars_):
            if isinstance(item, str):
                self._merge_file(ctx, item, wdir)
            else:
                source = f"{stage}.vars[{index}]" if stage else f"vars[{index}]"
                ctx.merge(_to_context(item), source)

    def _merge_file(self, ctx: _Context, item: str, wdir: str, optional: bool = False) -> None:
        name, _, keys_spec = item.partition(":")
        path = posixpath.normpath(posixpath.join(wdir, name))
        # Relative to the repository (if `where` is) like dvc's, so that 'p.yaml' and
        # '../sub/p.yaml' from sub/dvc.yaml are the same file.
        repo_path = posixpath.normpath(posixpath.join(self.base, path))
        keys = [k for k in keys_spec.split(",") if k] if keys_spec else None
        # A file may be loaded whole any number of times, or in disjoint parts, not both.
        if repo_path in ctx.imports:
            loaded = ctx.imports[repo_path]
            if not keys and loaded is None:
                return
            if not keys or (loaded is not None and set(keys) & set(loaded)):
                raise _AlreadyLoaded(f"cannot load '{item}' as it's partially loaded already")
            if loaded is None:
                raise _AlreadyLoaded(f"cannot partially load '{item}' as it's already loaded.")
        try:
            data = self.load(path)
        except FileNotFoundError:
            if optional:
                return
            raise _Error(f"'{repo_path}' does not exist") from None
        data = data or {}  # dvc's YAML and JSON loaders turn an empty document into {}
        if not isinstance(data, Mapping):
            raise _Error(f"expected a dictionary, got '{_tn(data)}' in file '{repo_path}'")
        if keys:
            missing = [k for k in keys if k not in data]
            if missing:
                raise _Error(f"could not find '{missing[0]}' in '{repo_path}'")
            data = {k: data[k] for k in keys}
        ctx.merge(_to_context(data), repo_path, item)
        ctx.files[repo_path] = path
        if repo_path not in ctx.imports:
            ctx.imports[repo_path] = keys
        elif keys:
            loaded = ctx.imports[repo_path]
            assert loaded is not None
            loaded.extend(keys)

    # -- foreach / matrix -----------------------------------------------------------------

    def _source(self, value: Any, ctx: _Context) -> tuple[Any, bool, _Origin | None]:
        """Resolve ``value``; the flag says it is a variable's value, which dvc keeps as a
        node whose ``str()`` (used for names) gives ``True`` where ``to_str`` gives ``true``,
        and whose origin it keeps."""
        if isinstance(value, str):
            matches = list(_INTERP.finditer(value))
            if len(matches) == 1 and matches[0].group(0) == value:
                found, path = ctx.locate(matches[0]["inner"])
                return found, True, ctx.origin(path)
        return self._resolve(value, ctx, None), False, None

    def _foreach(self, name: str, data: Any, ctx: _Context) -> dict[str, _Member]:
        with self._at(f"'stages.{name}.foreach'"):
            if isinstance(data, list):
                elems = [self._source(e, ctx) for e in data]
            else:
                value, is_var, origin = self._source(data, ctx)
                if isinstance(value, Mapping):
                    return {
                        _to_str(k, None): (
                            {"item": _to_context(v), "key": _to_str(k, None)},
                            _item_origin(("item",), _child(origin, k)),
                        )
                        for k, v in value.items()
                    }
                if not isinstance(value, list):
                    raise self._fail(
                        f"'stages.{name}.foreach'",
                        f"expected list/dictionary, got {_tn(value)}",
                        verb="resolve",
                    )
                elems = [(v, is_var, _child(origin, i)) for i, v in enumerate(value)]
            if any(isinstance(v, (Mapping, list)) for v, _, _ in elems):
                return {
                    str(i): ({"item": _to_context(v)}, _item_origin(("item",), o))
                    for i, (v, _, o) in enumerate(elems)
                }
            return {
                _name_part(v, is_var): ({"item": _to_context(v)}, _item_origin(("item",), o))
                for v, is_var, o in elems
            }

    def _matrix(self, name: str, data: Any, ctx: _Context) -> dict[str, _Member]:
        with self._at(f"'stages.{name}.matrix'"):
            if not isinstance(data, Mapping):
                raise _Error(f"expected a dictionary, got {_tn(data)}")
            if not data:
                raise _Error("it is empty")
            axes: dict[Any, list[tuple[str, Any, _Origin | None]]] = {}
            for axis, spec in data.items():
                axis = self._resolve_key(axis, ctx, None)
                if isinstance(spec, list):
                    elems = [self._source(e, ctx) for e in spec]
                else:
                    value, is_var, origin = self._source(spec, ctx)
                    if isinstance(value, list):
                        elems = [(v, is_var, _child(origin, i)) for i, v in enumerate(value)]
                    elif is_var and isinstance(value, Mapping):  # dvc iterates a mapping's keys
                        elems = [(k, True, None) for k in value]
                    elif not is_var and isinstance(value, str):  # ... and a string's characters
                        elems = [(c, False, None) for c in value]
                    else:
                        raise _Error(f"expected a list for '{axis}', got {_tn(value)}")
                axes[axis] = [
                    (
                        f"{axis}{i}" if isinstance(v, (Mapping, list)) else _name_part(v, is_var),
                        v,
                        o,
                    )
                    for i, (v, is_var, o) in enumerate(elems)
                ]
            members: dict[str, _Member] = {}
            for combo in product(*axes.values()):
                key = "-".join(part for part, _, _ in combo)
                item = dict(zip(axes, (v for _, v, _ in combo), strict=True))
                aliases: dict[tuple[str, ...], _Origin] = {}
                for axis, (_, _, o) in zip(axes, combo, strict=True):
                    aliases.update(_item_origin(("item", str(axis)), o))
                members[key] = ({"key": key, "item": _to_context(item)}, aliases)
            return members

    # -- stages ---------------------------------------------------------------------------

    def _check_syntax(self, name: str, definition: Mapping[str, Any]) -> None:
        for field, value in definition.items():
            with self._at(f"'stages.{name}.{field}'"):
                for s in _strings(value):
                    for m in _INTERP.finditer(s):
                        _parse(m["inner"])

    def _stage(
        self, name: str, definition: Mapping[str, Any], ctx: _Context, check: bool = True
    ) -> dict[str, Any]:
        if check:
            self._check_syntax(name, definition)
        wdir = definition.get("wdir")
        if wdir:
            with self._at(f"'stages.{name}.wdir'"):
                wdir = _to_str(self._resolve(wdir, ctx, None), None)
        vars_ = definition.get("vars", [])
        if vars_ or "vars" in definition:
            with self._at(f"'stages.{name}.vars'"):
                vars_ = _check_vars(vars_)
            if vars_:
                ctx = ctx.clone()
                with (
                    self._at(f"stage '{name}'"),
                    self._at(f"'stages.{name}.vars'", only=_AlreadyLoaded),
                ):
                    self._load_vars(ctx, vars_, wdir or "", name)
        if self.tracked is not None:
            # dvc tracks while it resolves the fields (wdir again too), not while vars load
            self.tracked[name] = {}  # a name generated twice: the last member wins, as in dvc
            ctx = ctx.with_tracking(self.tracked[name])
        resolved: dict[str, Any] = {}
        for field, value in definition.items():
            if field != "vars":
                with self._at(f"'stages.{name}.{field}'"):
                    resolved[field] = self._resolve(value, ctx, field)
        return resolved

    def _resolve(self, value: Any, ctx: _Context, field: str | None) -> Any:
        """Interpolate every string in ``value``; ``field`` is the stage field it belongs
        to, None for foreach/matrix data and wdir, where dvc checks no types."""
        if isinstance(value, str):
            return self._resolve_str(value, ctx, field)
        if isinstance(value, Mapping):
            return {
                self._resolve_key(k, ctx, field): self._resolve(v, ctx, field)
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple, set)):
            return type(value)(self._resolve(v, ctx, field) for v in value)
        return value

    def _resolve_key(self, key: Any, ctx: _Context, field: str | None) -> Any:
        key = self._resolve(key, ctx, field)
        if not isinstance(key, Hashable):
            raise _Error(f"Cannot use data of type '{_tn(key)}' as a key")
        return key

    def _resolve_str(self, s: str, ctx: _Context, field: str | None) -> Any:
        matches = list(_INTERP.finditer(s))
        if len(matches) == 1 and matches[0].group(0) == s:
            value = ctx.lookup(matches[0]["inner"])
            _check_type(value, field)
            return copy.deepcopy(value) if isinstance(value, (dict, list)) else value
        # dvc applies the `parsing` config to stage fields only.
        parsing = self.parsing if field is not None else None
        parts: list[str] = []
        pos = 0
        for m in matches:
            value = ctx.lookup(m["inner"])
            _check_type(value, field)
            parts += [s[pos : m.start()], _to_str(value, parsing)]
            pos = m.end()
        parts.append(s[pos:])
        # Unescaping after substitution (so also inside substituted values), as dvc does.
        return "".join(parts).replace("\\${", "${")


def _child(origin: _Origin | None, key: Any) -> _Origin | None:
    return None if origin is None else (origin[0], (*origin[1], str(key)))


def _item_origin(path: tuple[str, ...], origin: _Origin | None) -> dict[tuple[str, ...], _Origin]:
    return {} if origin is None else {path: origin}


@functools.lru_cache(maxsize=4096)
def _parse(expr: str) -> tuple[str, ...]:
    """``a.b[0]`` -> ``("a", "b", "0")``."""
    if not _EXPR.fullmatch(expr):
        raise _Error(f"invalid interpolation '${{{expr}}}'")
    return tuple(p.strip() for p in expr.replace("[", ".").replace("]", "").split("."))


def _check_type(value: Any, field: str | None) -> None:
    """dvc's ``validate_value``: stage fields take scalars, and ``cmd`` a mapping too."""
    if value is None or isinstance(value, _SCALARS) or field is None or "foreach" in str(field):
        return
    if isinstance(value, dict) and field == "cmd":
        return
    raise _Error(f"Cannot interpolate data of type '{_tn(value)}'")


def _check_vars(vars_: Any) -> list[Any]:
    if not isinstance(vars_, list):
        raise _Error(f"expected a list, got {_tn(vars_)}")
    for item in vars_:
        if not isinstance(item, (str, Mapping)):
            raise _Error(f"expected a file name or a dictionary, got {_tn(item)}")
    if any(interpolates(s) for s in _strings(vars_)):
        raise _Error("interpolating is not allowed")
    return vars_


def _to_context(value: Any) -> Any:
    """A copy of ``value`` as dvc's ``Context`` holds it: mapping keys that are not strings
    are dropped, and only YAML's scalar types are allowed."""
    if isinstance(value, Mapping):
        return {k: _to_context(v) for k, v in value.items() if isinstance(k, str)}
    if isinstance(value, list):
        return [_to_context(v) for v in value]
    if value is None or isinstance(value, _SCALARS):
        return value
    raise _Error(f"Unsupported value of type '{_tn(value)}'")


def _name_part(value: Any, is_var: bool) -> str:
    return str(value) if is_var else _to_str(value, None)


def _to_str(value: Any, parsing: Mapping[str, Any] | None) -> str:
    """dvc's ``to_str``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return _cli_args(value, parsing or {})
    return str(value)


def _cli_args(d: dict[str, Any], parsing: Mapping[str, Any]) -> str:
    """A mapping as command-line options, e.g. ``--lr 0.1 --layers 2 3 --verbose``."""
    negate = parsing.get("bool", "store_true") == "boolean_optional"
    append = parsing.get("list", "nargs") == "append"
    out = ""
    for name, value in _flatten(d, "", {}).items():
        if isinstance(value, bool):
            if value:
                out += f"--{name} "
            elif negate:
                out += f"--no-{name} "
        elif isinstance(value, str):
            out += f"--{name} {_quote(value)} "
        elif isinstance(value, list):
            for i, elem in enumerate(value):
                if isinstance(elem, str):
                    elem = _quote(elem)
                elif isinstance(elem, (list, dict)):
                    raise _Error(f"Cannot interpolate nested iterable in '{name}'")
                # f-string, not to_str: a bool in a list renders as True, as in dvc
                out += f"--{name} {elem} " if append or i == 0 else f"{elem} "
        else:
            out += f"--{name} {value} "
    return out.rstrip()


def _flatten(d: dict[str, Any], prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    """Nested mappings to dotted keys, empty ones dropped (``flatten_dict``'s behaviour)."""
    for key, value in d.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(value, name, out)
            continue
        if name in out:
            raise _Error(f"duplicated key '{name}'")
        out[name] = value
    return out


def _quote(s: str) -> str:
    return subprocess.list2cmdline([s]) if os.name == "nt" else shlex.quote(s)


def _strings(value: Any) -> Iterator[str]:
    """Every string in ``value``, mapping keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _strings(v)


def _tn(value: Any) -> str:
    return type(value).__name__
