"""``bale plots show/diff/modify/templates``: dvc 3.67.1's plots, read with
bale's revision machinery and rendered by dvc-render, so ``--json`` prints
what dvc prints and the HTML page shows dvc's plots (offline:
:mod:`bale.plots.page`)."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bale import index, scm
from bale.exceptions import BaleError, MetafileError, TargetError
from bale.pipeline import revision
from bale.plots import collect
from bale.plots.render import Rendered, match_renderers

if TYPE_CHECKING:
    from bale.metafiles.dvcfile import Out
    from bale.repo import Repo

WORKSPACE = "workspace"


@dataclass(frozen=True)
class _Names:
    """Plot paths as dvc names them: relative to the current directory
    (``../loss.csv`` from a subdirectory), and back to the repository."""

    root: Path
    cwd: Path

    def shown(self, p: Any) -> str:
        """An absolute path, named from the current directory."""
        return posixpath.normpath(Path(os.path.relpath(p, self.cwd)).as_posix())

    def repo(self, name: str) -> str:
        """A name from :meth:`shown`, repository-relative."""
        return revision._rel(self.root, Path(os.path.normpath(self.cwd / name)))


def _workspace_tree(repo: Repo, names: _Names, outputs: _Outputs) -> collect.Tree:
    """The files on disk, and those of tracked outputs missing from it (dvc
    reads those from the cache)."""

    def under(path: str) -> list[str]:
        top = names.cwd / path
        found = {names.shown(Path(d) / n) for d, _s, files in os.walk(top) for n in files}
        if not top.exists():
            found.update(names.shown(repo.root / f) for f in outputs.under(names.repo(path)))
        return sorted(found)

    def exists(path: str) -> bool:
        return (names.cwd / path).exists() or outputs.has(names.repo(path))

    def unlisted(path: str) -> bool:
        return not (names.cwd / path).exists() and outputs.unlisted(names.repo(path))

    return collect.Tree(under, exists, unlisted)


class _Outputs:
    """A revision's outputs that DVC tracks (stage outputs its ``dvc.lock``
    files record, ``.dvc`` files' outputs), by repository-relative path:
    their files are read from the local cache, as dvc's file system at a
    revision reads them. A directory's manifest is read only when a path
    under it is asked for."""

    def __init__(self, repo: Repo, tracked: Callable[[], Sequence[index.Tracked]]) -> None:
        self.repo = repo
        self._tracked = tracked
        self._files: dict[str, dict[str, tuple[str, str]]] = {}

    @cached_property
    def outs(self) -> dict[str, Out]:
        """Output path -> its output; found when first asked for (in the
        workspace, only for a plot file that is not on disk)."""
        return {t.rel(self.repo): t.out for t in self._tracked() if t.out.oid}

    def has(self, path: str) -> bool:
        """Whether ``path`` is an output, or a file or directory inside one."""
        return path in self.outs or bool(self.under(path))

    def _files_of(self, out_rel: str) -> dict[str, tuple[str, str]]:
        """The files of an output: repository-relative path -> (algo, oid);
        none for a directory whose manifest the cache lacks."""
        if out_rel not in self._files:
            out = self.outs[out_rel]
            assert out.oid is not None
            found: dict[str, tuple[str, str]] = {}
            if not out.is_dir:
                found[out_rel] = (out.algo, out.oid)
            else:
                try:
                    entries = self.repo.workspace.manifest(out.algo, out.oid)
                except (BaleError, OSError):
                    entries = []
                for rel, oid, _size, _x in entries:
                    found[f"{out_rel}/{rel}"] = (out.algo, oid)
            self._files[out_rel] = found
        return self._files[out_rel]

    def under(self, path: str) -> list[str]:
        """The files of the outputs at or under the directory ``path``."""
        top = path.rstrip("/") + "/"
        found: list[str] = []
        for rel in self.outs:
            if rel == path or rel.startswith(top) or top.startswith(rel + "/"):
                found.extend(f for f in self._files_of(rel) if f.startswith(top))
        return found

    def unlisted(self, path: str) -> bool:
        """Whether ``path`` is a directory output whose manifest the cache lacks."""
        out = self.outs.get(path)
        return out is not None and out.is_dir and not self._files_of(path)

    def read(self, path: str) -> bytes | _Unavailable | None:
        """The content of the file ``path`` inside an output, from the cache
        (:data:`UNAVAILABLE` if the cache lacks it); None outside outputs."""
        for rel in self.outs:
            if path == rel or path.startswith(rel + "/"):
                where = self._files_of(rel).get(path)
                if where is None:
                    return None if self._files_of(rel) else UNAVAILABLE
                try:
                    return self.repo.workspace.object_path(*where).read_bytes()
                except OSError:
                    return UNAVAILABLE
        return None


class _Unavailable:
    """A tracked file that the cache does not hold."""


UNAVAILABLE = _Unavailable()


def _git_tree(repo: Repo, names: _Names, commit: str, outputs: _Outputs) -> collect.Tree:
    files = collect.tree_of(revision.tree_at(repo, commit))

    def under(path: str) -> list[str]:
        rel = names.repo(path)
        found = sorted({*files.under(rel), *outputs.under(rel)})
        return [names.shown(repo.root / f) for f in found]

    def exists(path: str) -> bool:
        rel = names.repo(path)
        return files.exists(rel) or outputs.has(rel)

    def unlisted(path: str) -> bool:
        rel = names.repo(path)
        return not files.exists(rel) and outputs.unlisted(rel)

    return collect.Tree(under, exists, unlisted)


def _read(
    rev: collect.Revision,
    names: _Names,
    wanted: list[str],
    blobs: dict[str, bytes | _Unavailable | None],
) -> None:
    """Parses each data file's bytes (None: missing; :data:`UNAVAILABLE`:
    tracked, not in the cache) into ``rev``, all at once."""
    todo: list[tuple[str, bytes, bool]] = []
    for name in wanted:
        data = blobs.get(name)
        try:
            collect.check_type(name)
        except collect.PlotFileTypeError as e:
            rev.errors[name] = {"type": e.json_type, "msg": e.json_msg}
            continue
        if data is None or isinstance(data, _Unavailable):
            # dvc's FileNotFoundError (naming the path in the repository), as --json encodes it
            why = "No such file or directory" if data is None else "No storage files available"
            msg = f"[Errno 2] {why}: '{names.repo(name)}'"
            rev.errors[name] = {"type": "FileNotFoundError", "msg": msg}
            continue
        header = rev.source_props.get(name, {}).get("header", True)
        todo.append((name, data, bool(header)))
    for (name, _data, _header), parsed in zip(todo, collect.parse_many(todo), strict=True):
        if isinstance(parsed, BaleError):
            kind = getattr(parsed, "json_type", type(parsed).__name__)
            rev.errors[name] = {"type": kind, "msg": getattr(parsed, "json_msg", str(parsed))}
        else:
            rev.sources[name] = parsed


def _revision(
    repo: Repo,
    name: str,
    commit: str | None,
    targets: Sequence[str],
    props: dict[str, Any],
) -> collect.Revision:
    """One revision's plots (``commit`` None: the workspace)."""
    rev = collect.Revision(name)
    names = _Names(repo.root, Path.cwd())
    pipes = index.load(repo) if commit is None else index.load_at(repo, commit, name)
    files = list(pipes.files)
    if commit is None:
        # dvc's index walks the workspace's dvc.yaml files in os.walk order
        # (a revision's in git's sorted tree order, as they load)
        from bale.metafiles.walk_order import WalkOrder

        walk = WalkOrder(repo.root)
        files.sort(key=lambda f: walk.key(f.path))
    if commit is None:
        outputs = _Outputs(repo, lambda: index.collect(repo, stages=False) + pipes.outputs())
        tree = _workspace_tree(repo, names, outputs)
    else:
        outputs = _Outputs(repo, lambda: index.collect_at(repo, commit, name, pipes))
        tree = _git_tree(repo, names, commit, outputs)
    rev.definitions = collect.definitions(files, names.shown, tree, targets, props)
    if not rev.definitions:
        return rev
    wanted = collect.needed_sources(rev.definitions)
    outs = collect.stage_plot_props(files, names.shown)
    rev.source_props = {n: outs.get(n, {}) | props for n in wanted}
    blobs: dict[str, bytes | _Unavailable | None] = {}
    if commit is None:
        for n in wanted:
            try:
                blobs[n] = (names.cwd / n).read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                # not on disk: a file of an output, from the cache
                blobs[n] = outputs.read(names.repo(n))
    else:
        prefix = scm.subdir(repo.root)

        def at(repo_rel: str) -> str:
            return repo_rel if prefix == "." else f"{prefix}/{repo_rel}"

        read = scm.read_paths_at(repo.root, [(commit, at(names.repo(n))) for n in wanted])
        for n in wanted:
            blobs[n] = read[(commit, at(names.repo(n)))]
            if blobs[n] is None:
                # not in git: a file of an output, from the cache
                blobs[n] = outputs.read(names.repo(n))
    _read(rev, names, wanted, blobs)
    return rev


def targets_of(targets: Sequence[str] | None) -> list[str]:
    """Targets as dvc takes them: plot ids or paths from the current
    directory (matched as regular expressions too)."""
    return [posixpath.normpath(Path(t).as_posix()) for t in targets or ()]


def show(
    repo: Repo,
    targets: Sequence[str] | None = None,
    revs: Sequence[str] | None = None,
    props: dict[str, Any] | None = None,
) -> tuple[list[collect.Revision], dict[str, BaseException]]:
    """The plots of ``revs`` (default: the workspace; ``"workspace"`` is
    always read first, as dvc orders them), with the revisions whose
    pipelines could not be loaded (named as given)."""
    wanted = list(revs) if revs is not None else [WORKSPACE]
    if WORKSPACE in wanted:
        wanted = [WORKSPACE, *(r for r in wanted if r != WORKSPACE)]
    found = []
    errors: dict[str, BaseException] = {}
    tgts = targets_of(targets)
    from bale.experiments import refs

    for name in wanted:
        commit = None if name == WORKSPACE else refs.commit_of(repo.root, name)
        try:
            found.append(_revision(repo, name, commit, tgts, props or {}))
        except MetafileError as e:
            errors[name] = e
    return found, errors


def _baseline(repo: Repo, rev: str) -> str | None:
    """The baseline commit of the experiment ``rev`` names, if it is one."""
    from bale.experiments import refs

    commit = refs.commit_of(repo.root, rev)
    return next((r.baseline for r in refs.list_refs(repo.root) if r.commit == commit), None)


def diff_revisions(repo: Repo, revs: Sequence[str], experiment: bool = False) -> list[str]:
    """dvc's ``plots diff`` revisions: the ones given; one is compared with
    the workspace, or with its baseline when ``experiment`` names one; none
    means the workspace, after HEAD when tracked files changed. None at
    all before the first commit."""
    scm.require_git(repo, "plots diff")
    if not scm.has_commits(repo.root):
        return []  # dvc shows nothing before the first commit
    chosen = list(revs)
    if experiment and len(chosen) == 1:
        baseline = _baseline(repo, chosen[0])
        if baseline:
            chosen.append(baseline[:7])
    if len(chosen) <= 1:
        if not chosen:
            out = scm.git(repo.root, "status", "--porcelain", "--untracked-files=no")
            if out.stdout.strip():
                chosen.append("HEAD")
        chosen.append(WORKSPACE)
    return chosen


def render(repo: Repo, found: list[collect.Revision], out: str | None) -> list[Rendered]:
    """dvc-render's renderers for ``found``; images are copied under ``out``."""
    return match_renderers(found, out=out, templates_dir=str(repo.dvc_dir / "plots"))


def templates(name: str | None = None) -> list[str] | dict[str, Any]:
    """dvc-render's built-in templates: their names, or one's content."""
    from dvc_render.vega_templates import TEMPLATES

    if name is None:
        return [t.DEFAULT_NAME for t in TEMPLATES]
    for t in TEMPLATES:
        if name == t.DEFAULT_NAME:
            return dict(t.DEFAULT_CONTENT)
    raise TargetError(f"Unexpected template: {name}.")


class NotAPlotError(TargetError):
    """``plots modify --unset`` on an output that is not a plot."""


def modify(
    repo: Repo, target: str, props: dict[str, Any] | None = None, unset: Sequence[str] = ()
) -> tuple[str, Path]:
    """dvc's ``plots modify``: sets (or with ``unset``, removes) display
    properties of the stage output ``target`` (a path from the current
    directory), which becomes a plots output if it was not one, and writes
    its stage back into its ``dvc.yaml``; returns that file."""
    import dataclasses

    from bale.index import abspath
    from bale.metafiles._fs import atomic_write
    from bale.pipeline.dvcyaml import dumps_stage, loads_dvcyaml

    props = props or {}
    if props.get("template"):
        from dvc_render.vega_templates import TemplateNotFoundError, get_template

        try:
            get_template(props["template"], str(repo.dvc_dir / "plots"))
        except TemplateNotFoundError as e:
            raise TargetError(str(e)) from None
    wanted = abspath(target)
    with repo.locked():
        pipes = index.load(repo)
        found = [(s, o) for s in pipes.stages for o in s.outs if Path(s.abspath(o.path)) == wanted]
        if not found:
            raise TargetError(f"Unable to find DVC file with output '{target}'")
        stage, out = found[0]
        if "@" in stage.name:
            raise TargetError(
                f"'{target}' is an output of the generated stage '{stage.name}': "
                "change its foreach/matrix definition in dvc.yaml instead"
            )
        if out.kind != "plots" and unset:
            raise NotAPlotError(
                f"'{out.path}' is not a known plot. Use `bale plots modify` to turn it into one."
            )
        plot = {k: v for k, v in out.flags if k in collect.PLOT_PROPS}
        others = [(k, v) for k, v in out.flags if k not in collect.PLOT_PROPS]
        missing = [p for p in unset if p not in plot]
        if missing:
            raise TargetError(f"display properties {missing} not found in plot '{out.path}'")
        for p in unset:
            plot.pop(p)
        plot.update(props)
        new_out = dataclasses.replace(out, kind="plots", flags=(*others, *plot.items()))
        stage.outs = [new_out if o is out else o for o in stage.outs]
        path = stage.dvcyaml
        name = revision._rel(repo.root, path)
        text = path.read_text(encoding="utf-8")
        new_text = dumps_stage(text, stage)
        # the file is checked the way every command will read it, before it is written
        loads_dvcyaml(new_text, path, name, parsing=repo.config.parsing(), memo=repo.memo)
        atomic_write(path, new_text.encode("utf-8"))
    return stage.name, path
