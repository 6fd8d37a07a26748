"""A revision's plots: the definitions its ``dvc.yaml`` files make
(top-level ``plots:`` and stage ``plots`` outputs) and the data files they
read, parsed as dvc parses them (``dvc/repo/plots/__init__.py``)."""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from bale._core import PlotTable, read_tables
from bale.exceptions import BaleError
from bale.pipeline.compare import json_default
from bale.plots.render import data_sources, plot_id

if TYPE_CHECKING:
    from bale.pipeline.dvcyaml import PipelineFile

#: dvc-render's ImageRenderer.EXTENSIONS: read as bytes, shown as images.
IMAGE_EXTENSIONS = frozenset({".svg", ".png", ".gif", ".jpeg", ".jpg"})
#: dvc's: its PARSERS' (JSON, TOML, Python), YAML, CSV and TSV.
_DATA_EXTENSIONS = frozenset({".json", ".toml", ".py", ".yaml", ".yml", ".csv", ".tsv"})
#: dvc's PLOT_PROPS: the properties a stage's plots output may carry.
PLOT_PROPS = ("template", "x", "y", "x_label", "y_label", "title", "header")


class PlotFileTypeError(BaleError):
    """A plot data file in a format dvc does not plot."""

    json_type = "PlotMetricTypeError"  # dvc's name, in --json

    def __init__(self, path: str) -> None:
        super().__init__(f"'{path}' - file type error: only JSON, YAML, CSV and TSV are plotted")
        #: dvc's two-line message, which ``--json`` carries as dvc does
        self.json_msg = (
            f"'{path}' - file type error\nOnly JSON, YAML, CSV and TSV formats are supported."
        )


class CorruptPlotFileError(BaleError):
    """A data file its parser refuses; ``--json`` carries dvc's type and words."""

    _KINDS: ClassVar[dict[str, str]] = {".json": "JSON", ".toml": "TOML", ".py": "Python"}

    def __init__(self, path: str, ext: str, why: str) -> None:
        super().__init__(why)
        kind = self._KINDS.get(ext, "YAML")
        self.json_type = f"{kind}FileCorruptedError"
        self.json_msg = f"unable to read: '{path}', {kind} file structure is corrupted"


@dataclass
class Revision:
    """One revision's plots, as ``match_renderers`` needs them.

    ``definitions``: per config file (a ``dvc.yaml``'s path, or ``""`` for
    stage outputs), plot id -> properties, in dvc's order. ``sources``: data
    file -> its parsed content (bytes for an image). ``errors``: data file ->
    ``{"type", "msg"}`` of why it could not be read."""

    name: str
    definitions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    #: data file -> the properties it is read with (``header`` for CSV)
    source_props: dict[str, dict[str, Any]] = field(default_factory=dict)


def _norm(*parts: str) -> str:
    return posixpath.normpath(posixpath.join(*parts))


def _matches(targets: Sequence[str], config: str, pid: str) -> bool:
    """dvc's ``_matches``: a target is a regular expression matched at the
    start of the plot id, or of ``config::id``."""
    if not targets:
        return True
    full = plot_id(pid, config)
    return any(re.match(t, pid) or re.match(t, full) for t in targets)


@dataclass(frozen=True)
class Tree:
    """What a revision holds: ``under(dir)`` lists the files (repository-
    relative) under a directory, none for a file; ``exists(path)``;
    ``unlisted(path)``: a directory whose files cannot be listed (a tracked
    output whose manifest the cache lacks), which dvc plots as no files."""

    under: Callable[[str], list[str]]
    exists: Callable[[str], bool]
    unlisted: Callable[[str], bool] = lambda _path: False


def tree_of(files: Collection[str]) -> Tree:
    """A :class:`Tree` over a git revision's file list."""
    names = set(files)

    def under(path: str) -> list[str]:
        return sorted(f for f in names if f.startswith(path.rstrip("/") + "/"))

    return Tree(under, lambda p: p in names or bool(under(p)))


def _unpack(path: str, tree: Tree) -> list[str]:
    """The files under ``path`` when it is a directory of ``tree``, else ``[path]``."""
    return tree.under(path) or ([] if tree.unlisted(path) else [path])


def _closest_parent(path: str, parents: list[str]) -> str:
    best = ""
    for parent in parents:
        try:
            common = posixpath.commonpath([path, parent])
        except ValueError:
            continue
        if len(common) > len(best):
            best = common
    return best


def definitions(
    pipelines: Sequence[PipelineFile],
    rel: Callable[[Any], str],
    tree: Tree,
    targets: Sequence[str] = (),
    props: dict[str, Any] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """dvc's ``_collect_definitions``: each ``dvc.yaml``'s top-level plots
    (paths made repository-relative by ``rel``; a directory stands for the
    files of ``tree`` under it), then stage plots outputs under ``""``, then
    targets that are files but no plot yet. ``props`` (given on the command
    line) override every definition's."""
    given = props or {}
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for f in pipelines:
        config = rel(f.path)
        config_dir = posixpath.dirname(config)
        entries: dict[str, dict[str, Any] | None] = {}
        for item in f.data.get("plots") or []:
            if isinstance(item, str):
                entries[item] = None
            else:
                ((k, v),) = item.items()
                entries[k] = v
        parents = [_norm(config_dir, pid) for pid in entries]
        mine: dict[str, dict[str, Any]] = {}
        for pid, props in entries.items():
            props = props or {}
            if not _matches(targets, config, pid):
                continue
            if not isinstance(props.get("y"), dict):
                data_path = _norm(config_dir, pid)
                for p in _unpack(data_path, tree):
                    # the most specific definition of a directory's file wins
                    if p == data_path or _closest_parent(p, parents) == data_path:
                        mine[p] = props | given
            else:
                adjusted = dict(props)
                for axis in ("x", "y"):
                    if isinstance(adjusted.get(axis), dict):
                        adjusted[axis] = {
                            _norm(config_dir, fp): v for fp, v in adjusted[axis].items()
                        }
                mine[pid] = adjusted | given
        if entries:
            result.setdefault(config, {}).update(mine)
    outs: dict[str, dict[str, Any]] = {}
    for f in pipelines:
        config = rel(f.path)
        for s in f.stages:
            for o in s.outs:
                if o.kind != "plots":
                    continue
                path = rel(s.abspath(o.path))
                if not _matches(targets, config, path):
                    continue
                own = {k: v for k, v in o.flags if k in PLOT_PROPS}
                for p in _unpack(path, tree):
                    outs[p] = own | given
    if outs:
        result.setdefault("", {}).update(outs)
    for t in targets:
        if not result or tree.exists(t):
            for p in _unpack(t, tree):
                result.setdefault("", {}).setdefault(p, dict(given))
    return result


def stage_plot_props(
    pipelines: Sequence[PipelineFile], rel: Callable[[Any], str]
) -> dict[str, Any]:
    """Stage plots outputs (repository-relative) -> their properties."""
    return {
        rel(s.abspath(o.path)): {k: v for k, v in o.flags if k in PLOT_PROPS}
        for f in pipelines
        for s in f.stages
        for o in s.outs
        if o.kind == "plots"
    }


def needed_sources(defs: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """dvc's ``_get_data_targets``: every file some definition reads."""
    seen: dict[str, None] = {}
    for plots in defs.values():
        for pid, props in plots.items():
            seen.update(dict.fromkeys(data_sources(pid, props)))
    return list(seen)


def parse(path: str, data: bytes, header: bool = True) -> PlotTable | bytes:
    """dvc's ``parse``: an image's bytes, else the data file's records as a
    :class:`~bale._core.PlotTable` (see :func:`parse_many`)."""
    (parsed,) = parse_many([(path, data, header)])
    if isinstance(parsed, BaleError):
        raise parsed
    return parsed


def parse_many(files: Sequence[tuple[str, bytes, bool]]) -> list[PlotTable | bytes | BaleError]:
    """dvc's ``parse`` of each ``(path, data, header)``: an image's bytes,
    else the file's records as a :class:`~bale._core.PlotTable`: CSV/TSV
    rows as ``{field: text}`` (fields numbered from "0" without a header),
    JSON/YAML content's datapoints; or why it cannot be read. The engine
    reads CSV, TSV and JSON itself, all files at once; what it leaves
    (quoted or ragged CSV, YAML, TOML, malformed JSON) Python reads as dvc
    does, and hands over as JSON."""
    found: list[PlotTable | bytes | BaleError | None] = []
    engine: list[tuple[Literal["csv", "tsv", "json"], bytes]] = []
    engine_at: list[int] = []
    for i, (path, data, header) in enumerate(files):
        ext = posixpath.splitext(path)[1]
        try:
            check_type(path)
        except BaleError as e:
            found.append(e)
            continue
        if ext in IMAGE_EXTENSIONS:
            found.append(data)
            continue
        found.append(None)
        if ext == ".json":
            engine.append(("json", data))
            engine_at.append(i)
        elif ext in (".csv", ".tsv") and header:
            engine.append(("csv" if ext == ".csv" else "tsv", data))
            engine_at.append(i)
    for i, table in zip(engine_at, read_tables(engine), strict=True):
        found[i] = table
    result: list[PlotTable | bytes | BaleError] = []
    for (path, data, header), parsed in zip(files, found, strict=True):
        if parsed is None:
            try:
                parsed = _python_table(path, posixpath.splitext(path)[1], data, header)
            except BaleError as e:
                parsed = e
        result.append(parsed)
    return result


def _python_table(path: str, ext: str, data: bytes, header: bool) -> PlotTable:
    content = _parse_with_python(path, ext, data, header)
    (table,) = read_tables([("json", json.dumps(content, default=json_default).encode())])
    if table is None:
        raise BaleError(f"'{path}': its data is nested too deeply to plot")
    return table


def _parse_with_python(path: str, ext: str, data: bytes, header: bool) -> Any:
    try:
        # read as dvc opens it: UTF-8 text mode, universal newlines
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        raise BaleError(f"'{path}' is not valid utf-8") from None
    if ext in (".csv", ".tsv"):
        delim = "\t" if ext == ".tsv" else ","
        rows: Iterator[list[str]] = csv.reader(io.StringIO(text), delimiter=delim)
        if header:
            names = next(rows, None)
            if names is None:
                return []
        else:
            # dvc counts the first row's fields with a comma even in a TSV (so a
            # headerless TSV gets one name); kept, as its --json shows it
            first = next(csv.reader(io.StringIO(text)), [])
            names = [str(i) for i in range(len(first))]
        return _records(names, rows)
    from bale.exceptions import MetafileError
    from bale.pipeline.params import loads_as

    # JSON, TOML, Python constants, else YAML: dvc's PARSERS, as params are read
    try:
        return loads_as(text, path, ext) or {}
    except MetafileError as e:
        raise CorruptPlotFileError(path, ext, str(e)) from None


def _records(names: list[str], rows: Iterable[list[str]]) -> list[dict[Any, Any]]:
    """``csv.DictReader``'s records: blank lines skipped, a short row's
    missing fields None, a long row's extra ones in a list under None."""
    records: list[dict[Any, Any]] = []
    n = len(names)
    for r in filter(None, rows):
        d: dict[Any, Any] = dict(zip(names, r, strict=False))
        if len(r) > n:
            d[None] = r[n:]
        else:
            d.update(dict.fromkeys(names[len(r) :]))
        records.append(d)
    return records


def check_type(path: str) -> None:
    """Raises :class:`PlotFileTypeError` unless dvc plots files like ``path``
    (checked before the file is opened, as dvc does)."""
    ext = posixpath.splitext(path)[1]
    if ext not in IMAGE_EXTENSIONS and ext not in _DATA_EXTENSIONS:
        raise PlotFileTypeError(path)
