"""``exp show``'s table, as dvc 3.67.1 builds and prints it
(``dvc/repo/experiments/show.py: tabulate``, ``dvc/commands/experiments/show.py``):
columns Experiment, Created, each metric, each param, then each dependency's
hash; a row per baseline and experiment, experiments drawn as a tree.

Printed the way dvc prints it when its output is not a terminal (its pager
path): a rich table with horizontal rules, every column as wide as its
widest cell, nothing cut. bale never pages; dvc's ``--no-pager`` on a narrow
terminal shortens and hides columns to fit, which bale does not (the full
table is what a script or a pager needs)."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bale.exceptions import BaleError
from bale.experiments.show import ExpState

_BASE = ["Experiment", "rev", "typ", "Created", "parent", "State", "Executor"]
_TREE = {"branch_commit": "├──", "branch_base": "└──", "baseline": ""}


@dataclass
class Tabular:
    """dvc's ``TabularData``: named columns of strings, some protected."""

    keys: list[str]
    fill: str
    columns: dict[str, list[str]] = field(default_factory=dict)
    protected: set[str] = field(default_factory=set)

    def append(self, row: Mapping[str, str]) -> None:
        for k in self.keys:
            self.columns.setdefault(k, []).append(row.get(k, self.fill))

    def column(self, name: str) -> list[str]:
        return self.columns.setdefault(name, [])

    def drop(self, *names: str) -> None:
        for n in names:
            if n not in self.protected and n in self.keys:
                self.keys.remove(n)
                self.columns.pop(n, None)

    def rows(self) -> list[list[str]]:
        cols = [self.column(k) for k in self.keys]
        return [list(r) for r in zip(*cols, strict=True)] if cols else []


@dataclass
class Names:
    """Column names met in the data, in the order met (dvc's ``_DataNames``)."""

    metrics: dict[str, dict[str, None]] = field(default_factory=dict)
    params: dict[str, dict[str, None]] = field(default_factory=dict)
    deps: set[str] = field(default_factory=set)


def _collect_names(states: Iterable[ExpState], names: Names) -> None:
    from bale.pipeline.params import flatten

    def collect(into: dict[str, dict[str, None]], files: Mapping[str, Any]) -> None:
        for path, item in files.items():
            data = item.get("data", {})
            if isinstance(data, dict):
                into.setdefault(path, {}).update(dict.fromkeys(flatten(data)))

    for s in states:
        if s.data:
            collect(names.metrics, s.data.metrics)
            collect(names.params, s.data.params)
            names.deps.update(s.data.deps)
        for child in s.experiments or []:
            _collect_names([child], names)


def format_time(ts: int | None, fill: str, iso: bool) -> str:
    """dvc's ``format_time``: local time, today's as ``%I:%M %p``, older ones
    as ``%b %d, %Y``, ISO for CSV."""
    if not ts:
        return fill
    when = datetime.fromtimestamp(ts)
    if iso:
        return when.isoformat()
    fmt = "%I:%M %p" if when.date() == date.today() else "%b %d, %Y"
    return when.strftime(fmt)


def _format_field(value: Any, precision: int | None) -> str:
    """dvc's ``_format_field`` (``round_digits=False``): floats to
    ``precision`` significant digits, in lists and dicts too, then ``str()``."""

    def fmt(item: Any) -> Any:
        if isinstance(item, float) and precision:
            return f"{item:.{precision}g}"
        if isinstance(item, Mapping):
            return {k: fmt(v) for k, v in item.items()}
        if isinstance(item, list):
            return [fmt(v) for v in item]
        return item

    return str(fmt(value))


def tabulate(
    states: Sequence[ExpState],
    *,
    fill: str = "-",
    precision: int | None = None,
    iso: bool = False,
    sort_by: str | None = None,
    sort_order: str = "asc",
) -> tuple[Tabular, dict[str, list[str]]]:
    """The table's data and its metrics/params/deps headers."""
    from bale.pipeline.params import flatten

    names = Names()
    _collect_names(states, names)
    counter: Counter[str] = Counter()
    for keys in {**names.metrics, **names.params}.values():
        counter.update(list(keys))
    counter.update(_BASE)

    def headers_of(by_file: dict[str, dict[str, None]]) -> list[str]:
        return [n if counter[n] == 1 else f"{p}:{n}" for p, ks in by_file.items() for n in ks]

    metrics_h, params_h = headers_of(names.metrics), headers_of(names.params)
    deps = sorted(names.deps)
    td = Tabular([*_BASE, *metrics_h, *params_h, *deps], fill)

    def cells(s: ExpState) -> dict[str, str]:
        out: dict[str, str] = {}
        if not s.data:
            return out
        out["Created"] = format_time(s.data.timestamp, fill, iso)
        for files, by_file, headers in (
            (s.data.metrics, names.metrics, metrics_h),
            (s.data.params, names.params, params_h),
        ):
            for fname, item in files.items():
                data = item.get("data", {})
                flat = flatten(data) if isinstance(data, dict) else {fname: data}
                missing = "!" if item.get("error") else fill
                for n in by_file.get(fname, {}):
                    v = flat.get(n)
                    text = _format_field(missing if v is None else v, precision)
                    out[n if n in headers else f"{fname}:{n}"] = text
        for d in deps:
            dep = s.data.deps.get(d)
            if dep:
                out[d] = dep.get("hash") or fill
        return out

    sort = _sort_column(sort_by, names) if sort_by else None
    for b in states:
        row = {"Experiment": "", "typ": "baseline", "parent": ""}
        row["rev"] = b.name or (b.rev[:7] if _is_sha(b.rev) else b.rev)
        td.append({**row, **cells(b)})
        exps = list(b.experiments or [])
        if sort is not None:
            exps = _sort(exps, *sort, reverse=sort_order == "desc")
        for i, e in enumerate(exps):
            row = {
                "Experiment": e.name or "",
                "rev": e.rev[:7] if _is_sha(e.rev) else e.rev,
                "typ": "branch_base" if i == len(exps) - 1 else "branch_commit",
                "parent": "",
            }
            if e.executor:  # dvc's words: the state and the executor's name, capitalized
                row["State"] = str(e.executor.get("state") or "").capitalize()
                if e.executor.get("name"):
                    row["Executor"] = str(e.executor["name"]).capitalize()
            td.append({**row, **cells(e)})
    return td, {"metrics": metrics_h, "params": params_h, "deps": deps}


def _is_sha(rev: str) -> bool:
    return len(rev) == 40 and all(c in "0123456789abcdef" for c in rev)


def _sort_column(sort_by: str, names: Names) -> tuple[str, str, str]:
    """dvc's ``_sort_column``: (file, key, "metrics"/"params") of ``sort_by``,
    written ``key`` or ``file:key``."""
    parts = sort_by.split(":")
    matches: set[tuple[str, str, str]] = set()
    for n in range(len(parts)):
        path, name = ":".join(parts[:n]), ":".join(parts[n:])
        if not path:
            sort_by = name
        if name in names.metrics.get(path, {}):
            matches.add((path, name, "metrics"))
        if name in names.params.get(path, {}):
            matches.add((path, name, "params"))
    if not matches:
        for path, keys in names.metrics.items():
            if sort_by in keys:
                matches.add((path, sort_by, "metrics"))
        for path, keys in names.params.items():
            if sort_by in keys:
                matches.add((path, sort_by, "params"))
    if len(matches) == 1:
        return matches.pop()
    if matches:
        # dvc names them in a set's order; bale sorts them
        found = ", ".join(f"{p}:{n}" for p, n, _ in sorted(matches))
        raise BaleError(f"Ambiguous sort column '{sort_by}' matched '{found}'")
    raise BaleError(f"Unknown sort column '{sort_by}'")


def _sort(
    exps: list[ExpState], path: str, name: str, kind: str, *, reverse: bool
) -> list[ExpState]:
    from bale.pipeline.params import flatten

    def key(e: ExpState) -> tuple[bool, Any]:
        files = getattr(e.data, kind, {}) if e.data else {}
        data = files.get(path, {}).get("data", {})
        value = flatten(data).get(name) if isinstance(data, dict) else None
        return value is None, value

    try:
        return sorted(exps, key=key, reverse=reverse)
    except TypeError:
        raise BaleError(f"cannot sort by '{name}': its values are of different types") from None


def _exp_id(name: str, rev: str, typ: str) -> str:
    """dvc's ``prepare_exp_id``: ``rev [name]`` under its tree glyph."""
    text = name or rev if typ == "baseline" or not name else f"{rev} [{name}]"
    tree = _TREE[typ]
    return f"{tree} {text}" if tree else text


def render(
    td: Tabular,
    headers: dict[str, list[str]],
    *,
    keep: Sequence[str] = (),
    drop: Sequence[str] = (),
    csv_out: bool = False,
    markdown: bool = False,
    only_changed: bool = False,
) -> str:
    """dvc's ``show_experiments``: the table as text, ready to print."""
    if keep:
        keep_re = re.compile("|".join(keep))
        td.protected.update(k for k in td.keys if keep_re.match(k))
    for col in ("State", "Executor"):
        if all(v == td.fill for v in td.column(col)):
            td.drop(col)
    right = set(headers["metrics"])
    if not csv_out:
        td.columns["Experiment"] = [
            _exp_id(n, r, t)
            for n, r, t in zip(
                td.column("Experiment"), td.column("rev"), td.column("typ"), strict=True
            )
        ]
        td.drop("rev", "typ", "parent")
    if only_changed:
        td.drop(*[k for k in list(td.keys) if len(set(td.column(k))) == 1])
    if drop:
        drop_re = re.compile("|".join(drop))
        td.drop(*[k for k in list(td.keys) if drop_re.match(k)])
    if csv_out:
        buf = io.StringIO()
        writer = csv.writer(buf)  # "\r\n" line ends, as dvc's
        writer.writerow(td.keys)
        writer.writerows(td.rows())
        return buf.getvalue()
    if markdown:
        from bale.pipeline.compare import format_table

        return format_table(td.keys, td.rows(), markdown=True) + "\n\n"
    rows = td.rows()
    # dvc prints no table at all without rows (a repository with no commit)
    if not rows:
        return ""
    # the first column of each kind stays when the table is too wide
    collapsible = {h for hs in headers.values() for h in hs[1:]}
    return _rich_horizontals(td.keys, rows, right, collapsible) + "\n"


#: dvc's SHOW_MAX_WIDTH: the widest table it prints (in its pager path)
_MAX_WIDTH = 1024


def _rich_horizontals(
    keys: list[str], rows: list[list[str]], right: set[str], collapsible: set[str]
) -> str:
    """rich's ``Table(box=HORIZONTALS)`` at its full width: a rule above and
    below, one under the header, cells padded by a space each side, columns a
    space apart, metrics aligned right."""
    widths = [max([_cell_width(k), *(_cell_width(r[i]) for r in rows)]) for i, k in enumerate(keys)]
    gone = _collapsed(keys, widths, collapsible)
    if gone:
        keys = [k for i, k in enumerate(keys) if i not in gone]
        widths = [w for i, w in enumerate(widths) if i not in gone]
        rows = [[c for i, c in enumerate(r) if i not in gone] for r in rows]

    def line(cells: list[str]) -> str:
        out = []
        for k, cell, w in zip(keys, cells, widths, strict=True):
            pad = " " * (w - _cell_width(cell))
            out.append(f" {pad}{cell} " if k in right else f" {cell}{pad} ")
        return " " + " ".join(out) + " "

    rule = " " + "─".join("─" * (w + 2) for w in widths) + " "
    return "\n".join([rule, line(keys), rule, *(line(r) for r in rows), rule])


def _cell_width(text: str) -> int:
    """Terminal columns of ``text``, as wcwidth counts them (rich's count,
    which dvc's table uses, differs only for a few emoji). Plain text and
    the tree's lines are counted without importing wcwidth (~15 ms)."""
    if text.isprintable() and text.translate(_ONE_COLUMN).isascii():
        return len(text)
    from wcwidth import wcswidth

    return max(wcswidth(text), 0)


#: the tree's characters, one column each
_ONE_COLUMN = str.maketrans(dict.fromkeys("├└─", "-"))


def render_diff(
    result: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    a_rev: str,
    b_rev: str,
    markdown: bool = False,
    no_path: bool = False,
    precision: int | None = None,
) -> str:
    """What ``dvc exp diff`` prints: a metrics table then a params table,
    a blank line between them, each with a Change column (``diff not
    supported`` where a value is not a number); metrics to ``precision``
    significant digits (5 by default), params as they are. An empty plain
    table prints nothing; an empty markdown table prints its header."""
    from bale.pipeline.compare import format_table

    out = []
    for kind, title in (("metrics", "Metric"), ("params", "Param")):
        digits = (precision or 5) if kind == "metrics" else None
        rows = []
        for path, changes in result.get(kind, {}).items():
            for key, change in sorted(changes.items()):
                cells = [change.get("old"), change.get("new"), change.get("diff", _NO_DIFF)]
                rows.append(
                    [
                        path,
                        str(key),
                        *(_format_field("-" if c is None else c, digits) for c in cells),
                    ]
                )
        headers = ["Path", title, a_rev, b_rev, "Change"]
        if no_path:
            headers, rows = headers[1:], [r[1:] for r in rows]
        if rows or markdown:
            text = format_table(headers, rows, markdown=markdown)
            out.append(text + ("\n\n" if markdown else "\n"))
        else:
            out.append("")
    return "\n".join(out)


_NO_DIFF = "diff not supported"


def _collapsed(keys: list[str], widths: list[int], collapsible: set[str]) -> set[int]:
    """The columns dvc's table loses when wider than :data:`_MAX_WIDTH`:
    measuring it, dvc's ``Table`` empties collapsible columns from the right
    until the rest fits, then deletes each emptied column whose left
    neighbour was emptied too (rich then prints the table at the width of
    what is left, every column whole)."""
    padded = [w + 2 for w in widths]
    excess = sum(padded) - (_MAX_WIDTH - (len(keys) + 1))
    if excess <= 0:
        return set()
    emptied: set[int] = set()
    for i in range(len(keys) - 1, -1, -1):
        if keys[i] in collapsible:
            excess -= padded[i]
            emptied.add(i)
            if excess <= 0:
                break
    return {i for i in emptied if i - 1 in emptied}
