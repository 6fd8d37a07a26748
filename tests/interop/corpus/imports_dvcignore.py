"""Imports and ``.dvcignore``: an ``import`` from another repository (frozen,
``repo: {url, rev_lock}``, as iterative/example-get-started's history has
``dvc import https://github.com/iterative/dataset-registry get-started/data.xml``),
an ``import-url`` of a plain file, and a ``.dvcignore`` that hides editor and
OS files inside a tracked directory (dvc.org's dvcignore guide, iterative/
dvc.org content/docs/user-guide/project-structure/dvcignore-files.md:
``.DS_Store``, ``*.tmp``, ``logs/``). The sources live beside the twins, on
one absolute path both of them name. History: the import, then the
import-url; the workspace adds ignored files and a changed source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.interop.corpus._repo import Fixture, _md5, stage_md5


def _registry(fx: Fixture) -> tuple[str, str]:
    """A small git repository holding ``get-started/data.xml``; (url, commit)."""
    src = Fixture(fx.root.parent.parent / "sources" / "dataset-registry", fx.env)
    src.init()
    src.write("get-started/data.xml", "<registry/>\n")
    src.commit("data")
    return str(src.root), src.git("rev-parse", "HEAD").strip()


def _import_file(fx: Fixture, rel: str, dep: dict[str, Any], frozen: bool) -> None:
    """An import's ``.dvc`` file as dvc writes it, the stage md5 included."""
    e = fx.hash_entry(rel)
    out = {"md5": e["md5"], "size": e["size"], "hash": "md5", "path": Path(rel).name}
    stage: dict[str, Any] = {"frozen": True} if frozen else {}
    stage.update(deps=[dep], outs=[out])
    lines = [f"md5: {stage_md5(stage)}"] + (["frozen: true"] if frozen else []) + ["deps:"]
    lines += [f"- {k}: {v}" if i == 0 else f"  {k}: {v}" for i, (k, v) in enumerate(_flat(dep))]
    lines += ["outs:"] + [
        f"- {k}: {v}" if i == 0 else f"  {k}: {v}" for i, (k, v) in enumerate(out.items())
    ]
    fx.write(rel + ".dvc", ("\n".join(lines) + "\n").replace(": \n", ":\n"))
    fx.ignore(rel)


def _flat(dep: dict[str, Any]) -> list[tuple[str, str]]:
    items = []
    for k, v in dep.items():
        if isinstance(v, dict):
            items.append((k, "\n" + "\n".join(f"    {a}: {b}" for a, b in v.items())))
        else:
            items.append((k, str(v)))
    return items


def build(fx: Fixture) -> list[str]:
    fx.init()
    url, rev = _registry(fx)
    fx.write("data/data.xml", "<registry/>\n")
    repo_dep = {"path": "get-started/data.xml", "repo": {"url": url, "rev_lock": rev}}
    _import_file(fx, "data/data.xml", repo_dep, frozen=True)
    fx.write(".dvcignore", fx.root.joinpath(".dvcignore").read_text() + ".DS_Store\n*.tmp\nlogs/\n")
    fx.write("images/cat.jpg", "cat\n")
    fx.write("images/dog.jpg", "dog\n")
    fx.track("images")
    fx.commit("import the registry's data, track images", tag="v1")
    source = fx.root.parent.parent / "sources" / "labels.csv"
    source.write_text("id,label\n1,cat\n", encoding="utf-8")
    fx.write("labels.csv", "id,label\n1,cat\n")
    data = source.read_bytes()
    url_dep = {"md5": _md5(data), "size": len(data), "hash": "md5", "path": str(source)}
    _import_file(fx, "labels.csv", url_dep, frozen=False)
    fx.commit("import-url labels", tag="v2")
    fx.write("images/.DS_Store", "junk\n")
    fx.write("images/scratch.tmp", "junk\n")
    fx.write("images/logs/run.log", "junk\n")
    fx.write("images/bird.jpg", "bird\n")
    source.write_text("id,label\n1,cat\n2,dog\n", encoding="utf-8")
    return ["v1", "v2"]
