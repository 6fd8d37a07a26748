"""The layering of ``python/bale``: no import cycle between its modules.

Every import counts, wherever it is written (a function-level import that
dodges a cycle is still a cycle), except those under ``if TYPE_CHECKING:``.
A package ``__init__`` is its facade: importing ``bale.x.y`` is an edge to
``bale.x.y`` only, not to ``bale.x``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PYTHON = Path(__file__).resolve().parents[2] / "python"


def _modules() -> dict[str, tuple[Path, bool]]:
    mods: dict[str, tuple[Path, bool]] = {}
    # The extension (``bale._core``, known by its stub) imports nothing of bale.
    for p in [*(PYTHON / "bale").rglob("*.py"), *(PYTHON / "bale").rglob("*.pyi")]:
        if p.suffix == ".pyi" and p.with_suffix(".py").exists():
            continue
        parts = list(p.relative_to(PYTHON).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    return mods


def _imported(name: str, path: Path, is_pkg: bool, mods: dict[str, tuple[Path, bool]]) -> set[str]:
    found: set[str] = set()
    package = name.split(".") if is_pkg else name.split(".")[:-1]

    def visit(node: ast.AST) -> None:
        for ch in ast.iter_child_nodes(node):
            if isinstance(ch, ast.If) and "TYPE_CHECKING" in ast.unparse(ch.test):
                for e in ch.orelse:
                    visit(e)
                continue
            if isinstance(ch, ast.Import):
                found.update(a.name for a in ch.names)
            elif isinstance(ch, ast.ImportFrom):
                base = package[: len(package) - ch.level + 1] if ch.level else []
                m = ".".join([*base, *([ch.module] if ch.module else [])])
                found.update(f"{m}.{a.name}" if f"{m}.{a.name}" in mods else m for a in ch.names)
            visit(ch)

    if path.suffix != ".pyi":
        visit(ast.parse(path.read_text()))
    edges = set()
    for m in found:
        while m and m not in mods:
            m = m.rpartition(".")[0]
        if m and m != name:
            edges.add(m)
    return edges


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_in_bale() -> None:
    mods = _modules()
    graph = {n: _imported(n, p, pkg, mods) & mods.keys() for n, (p, pkg) in mods.items()}
    assert _cycles(graph) == []


def test_the_cycle_check_can_see_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


RUST = Path(__file__).resolve().parents[2] / "rust"


def _rust_graph(src: Path) -> dict[str, set[str]]:
    """A crate's modules (one per file; ``lib.rs`` is the crate's facade and
    left out) and the sibling modules each names as ``crate::m``."""
    mods = {p.stem: p for p in src.glob("*.rs") if p.stem not in ("lib", "main")}
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        text = path.read_text()
        # Only the module's own code: its `#[cfg(test)] mod tests` may use anything.
        text = text.split("#[cfg(test)]")[0]
        graph[name] = {m for m in mods if m != name and f"crate::{m}" in text}
        # `use crate::{a, b::C}`
        for group in text.split("crate::{")[1:]:
            body = group.split("}")[0]
            graph[name] |= {
                m for m in mods if m != name and (f"{m}::" in body or f" {m}," in f" {body},")
            }
    return graph


def test_no_use_cycle_between_modules_of_a_crate() -> None:
    found = {
        src.parent.name: _cycles(_rust_graph(src))
        for src in sorted(RUST.glob("*/src"))
        if _cycles(_rust_graph(src))
    }
    assert found == {}
