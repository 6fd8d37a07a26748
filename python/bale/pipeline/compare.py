"""``metrics show``, ``metrics diff`` and ``params diff``: results and their text, as dvc 3.x.

Pure functions over data already loaded (see :mod:`bale.pipeline.params`); no
repository access. Mirrors:

- ``dvc/repo/metrics/show.py`` ``_extract_metrics``/``_read_metric``
  (:func:`extract_metrics`): only numbers, strings and booleans are metrics.
- ``dvc/utils/diff.py`` and ``dvc/repo/metrics/diff.py`` ``_diff`` (:func:`diff`):
  lists are compared as their ``str()``, numbers get a ``diff`` (params too).
- ``dvc/compare.py`` ``diff_table``/``metrics_table`` and ``dvc/commands/metrics.py``,
  ``dvc/commands/params.py`` (:func:`render_diff_table`, :func:`render_show_table`):
  metrics are rounded to 5 decimals by default, params are not rounded.
- ``dvc/ui/table.py`` ``plain_table``: tabulate's ``plain`` and ``github`` (``--md``)
  formats with number parsing off (:func:`format_table`).
- ``dvc/ui/__init__.py`` ``write_json`` when stdout is not a terminal (:func:`render_json`).

dvc builds diffs from Python sets, so its ``--json`` key order and the order of
files in its tables change from run to run; bale sorts files and keys.
Table rows within a file are sorted by key, as in dvc.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from bale.pipeline.params import flatten

__all__ = [
    "DEFAULT_PRECISION",
    "diff",
    "extract_metrics",
    "format_table",
    "render_diff_table",
    "render_json",
    "render_show_table",
    "show_json",
]

DEFAULT_PRECISION = 5
"""Decimal places metrics are rounded to in tables (``dvc metrics ... --precision``)."""

_FILL = "-"

# ---------------------------------------------------------------------------
# results


def extract_metrics(data: Any) -> Any:
    """What dvc keeps of a loaded metrics file: numbers, strings and booleans, in
    nested dicts; anything else (lists, nulls, dates) is dropped, and a file with
    nothing left is ``{}``."""
    return _extract(data) or {}


def _extract(value: Any) -> Any:
    if isinstance(value, (int, float, str)):
        return value
    if not isinstance(value, dict):
        return None
    kept = {}
    for key, item in value.items():
        extracted = _extract(item)
        if extracted not in (None, {}):
            kept[key] = extracted
    return kept


def _format_lists(value: Any) -> Any:
    """dvc's ``format_dict`` on one file's data: lists become their ``str()``."""
    if isinstance(value, dict):
        return {key: _format_lists(item) for key, item in value.items()}
    if isinstance(value, list):
        return str(value)
    return value


def _parse(raw: Any) -> Any:
    # a top-level list arrives as its str(): dvc reads it back as JSON if it can
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _diff_values(old: Any, new: Any, with_unchanged: bool) -> dict[str, Any]:
    if isinstance(new, list) and isinstance(old, list) and len(old) == len(new) == 1:
        return _diff_values(old[0], new[0], with_unchanged)
    if not with_unchanged and old == new:
        return {}
    res = {"old": old, "new": new}
    if isinstance(new, (int, float)) and isinstance(old, (int, float)):
        res["diff"] = new - old
    return res


def _flat_for_diff(data: Any) -> tuple[dict[str, Any], Any]:
    """(flattened values, value for keys the other side has): dvc's ``_flatten``."""
    if not data:
        return {}, None
    if isinstance(data, dict):
        return flatten(data), None
    return {}, "unable to parse"


def _diff_file(old_raw: Any, new_raw: Any, with_unchanged: bool) -> dict[str, dict[str, Any]]:
    old = _parse(old_raw)
    new = _parse(new_raw)
    if isinstance(new, dict) or isinstance(old, dict):
        old_flat, old_default = _flat_for_diff(old)
        new_flat, new_default = _flat_for_diff(new)
        res = {}
        for key in sorted({*old_flat, *new_flat}):
            change = _diff_values(
                old_flat.get(key, old_default), new_flat.get(key, new_default), with_unchanged
            )
            if change:
                res[key] = change
        return res
    change = _diff_values(old, new, with_unchanged)
    return {"": change} if change else {}


def diff(
    old: Mapping[str, Any], new: Mapping[str, Any], *, with_unchanged: bool = False
) -> dict[str, dict[str, dict[str, Any]]]:
    """Compare two revisions' files: ``{file: data}`` each, as dvc's ``metrics show`` /
    ``params show`` would give them (metrics through :func:`extract_metrics`, params
    through :func:`~bale.pipeline.params.select_tree`). A file that failed to load
    is left out of its side.

    Returns dvc's ``--json`` shape, ``{file: {dotted.key: {"old", "new"[, "diff"]}}}``:
    a side without the key has ``None``; ``diff`` (``new - old``) is there when both
    are numbers (booleans count, as in dvc). Unchanged keys only with
    ``with_unchanged`` (``--all``). Files and keys are sorted.
    """
    res: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted({*old, *new}):
        old_raw = _format_lists(old[path]) if path in old else {}
        new_raw = _format_lists(new[path]) if path in new else {}
        changes = _diff_file(old_raw, new_raw, with_unchanged)
        if changes:
            res[path] = changes
    return res


def is_error(data: Any) -> bool:
    """Whether a snapshot's entry is ``{"error": msg[, "type": name]}``, not a
    file's data."""
    return isinstance(data, dict) and "error" in data and set(data) <= {"error", "type"}


def dvc_error(error: BaseException | Mapping[str, str]) -> dict[str, str]:
    """An error as dvc's JSON writes it: ``{"type", "msg"}``, from an exception
    or a snapshot's error entry (type default ``BaleError``)."""
    if isinstance(error, BaseException):
        return {"type": type(error).__name__, "msg": str(error)}
    return {"type": error.get("type", "BaleError"), "msg": error["error"]}


def show_json(
    shown: Mapping[str, Any],
    *,
    errors: Mapping[str, BaseException | Mapping[str, str]] | None = None,
    rev: str = "",
    order: Sequence[str] = (),
) -> dict[str, Any]:
    """``dvc metrics show --json``'s shape for one revision (``""``, the workspace,
    when no revisions are asked for): ``{rev: {"data": {file: {"data": ...}}}}``;
    a file in ``errors`` gets ``{"error": {"type", "msg"}}`` instead. An error is
    an exception, or a snapshot's ``{"error": msg[, "type": name]}`` (type
    default ``BaleError``). Files come in ``order`` if given (the rest after),
    else those of ``shown`` then those of ``errors``."""
    files: dict[str, Any] = {path: {"data": data} for path, data in shown.items()}
    for path, exc in (errors or {}).items():
        files[path] = {"error": dvc_error(exc)}
    ordered = {path: files[path] for path in order if path in files}
    return {rev: {"data": {**ordered, **files}}}


def json_default(value: Any) -> Any:
    """What ``--json`` writes for a value JSON has no type for."""
    # dvc fails on these (a date param, a set from a .py file); bale prints them
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return str(value)


def render_json(data: Any) -> str:
    """What dvc prints for ``--json`` to a pipe or file: one compact line."""
    return json.dumps(data, default=json_default) + "\n"


# ---------------------------------------------------------------------------
# tables


def _format_field(value: Any, precision: int | None, round_digits: bool) -> str:
    """dvc's ``_format_field``: floats rounded (or ``.Ng``-formatted), then ``str()``."""

    def fmt(item: Any) -> Any:
        if isinstance(item, float) and precision:
            return round(item, precision) if round_digits else f"{item:.{precision}g}"
        if isinstance(item, Mapping):
            return {key: fmt(sub) for key, sub in item.items()}
        if isinstance(item, list):
            return [fmt(sub) for sub in item]
        return item

    return str(fmt(value))


def render_diff_table(
    result: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    kind: Literal["metrics", "params"],
    markdown: bool = False,
    a_rev: str | None = None,
    b_rev: str | None = None,
    precision: int | None = None,
    no_path: bool = False,
) -> str:
    """The text ``dvc metrics diff`` / ``dvc params diff`` print for a :func:`diff` result.

    Columns: Path, Metric/Param, ``a_rev`` (default ``HEAD``), ``b_rev`` (default
    ``workspace``), and for metrics Change. Metrics are rounded to ``precision``
    decimals (``None`` or 0: 5, as dvc's ``--precision``); params are printed as
    they are (``precision`` is ignored: dvc has no such option for them).
    Returns ``""`` for an empty plain table (dvc prints nothing).
    """
    metrics = kind == "metrics"
    digits = (precision or DEFAULT_PRECISION) if metrics else None
    a_rev = a_rev or "HEAD"
    b_rev = b_rev or "workspace"
    headers = ["Path", "Metric" if metrics else "Param", a_rev, b_rev, "Change"]
    rows = []
    for path, changes in result.items():
        for key, change in sorted(changes.items()):
            cells = [change.get("old"), change.get("new"), change.get("diff")]
            rows.append(
                [
                    path,
                    str(key),
                    *(_format_field(_FILL if c is None else c, digits, True) for c in cells),
                ]
            )
    dropped = {0} if no_path else set()
    if not metrics:
        dropped.add(4)  # dvc params diff has no Change column
    keep = [i for i in range(len(headers)) if i not in dropped]
    return _render([headers[i] for i in keep], [[row[i] for i in keep] for row in rows], markdown)


def render_show_table(
    shown: Mapping[str, Any],
    *,
    markdown: bool = False,
    precision: int | None = None,
    revisions: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The text ``dvc metrics show`` prints.

    ``shown`` is ``{file: data}`` for the workspace, data as :func:`extract_metrics`
    gives it (a file that failed to load: ``{}``, which dvc prints as a row of
    ``-``). Columns: Path, then every flattened metric key, sorted; a file whose
    metric is a bare value gets the column ``""``. Floats are rounded to
    ``precision`` decimals (``None`` or 0: 5).

    ``revisions`` (``{rev: {file: data}}``, instead of ``shown``) adds the Revision
    column, as ``-a``/``-T``/``-A`` do. Returns ``""`` for an empty plain table.
    """
    digits = precision or DEFAULT_PRECISION
    by_rev = revisions if revisions is not None else {"": shown}
    records: list[tuple[str, str, dict[str, str]]] = []
    columns: dict[str, None] = {}
    for rev, files in by_rev.items():
        for path, data in files.items():
            flat = flatten(_format_lists(data)) if isinstance(data, dict) else {"": data}
            cells = {key: _format_field(value, digits, True) for key, value in flat.items()}
            columns.update(dict.fromkeys(cells))
            records.append((rev, path, cells))
    keys = sorted(columns)
    headers = ["Path", *keys]
    rows = [[path, *(cells.get(key, _FILL) for key in keys)] for _, path, cells in records]
    if revisions is not None:
        headers.insert(0, "Revision")
        rows = [[rev, *row] for (rev, _, _), row in zip(records, rows, strict=True)]
    return _render(headers, rows, markdown)


def _render(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    """dvc's ``ui.table`` → ``plain_table``, as written to stdout."""
    if not rows and not markdown:
        return ""
    text = format_table(headers, rows, markdown=markdown)
    # dvc appends a newline to markdown ("md table is incomplete without it"), print another
    return text + "\n\n" if markdown else text + "\n"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, markdown: bool) -> str:
    """dvc's ``plain_table``: tabulate's ``plain`` format (``github`` with
    ``markdown``), numbers not parsed, called as dvc calls it."""
    # imported here: tabulate (with wcwidth) costs ~50 ms, for table output only
    from tabulate import tabulate

    fmt = "github" if markdown else "plain"
    return str(tabulate(rows, headers, tablefmt=fmt, disable_numparse=True, missingval="-"))
