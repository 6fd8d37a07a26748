"""The pipeline graph: stages and ``.dvc`` data sources, joined where a
dependency is (or is inside, or contains) another node's output.

Built once per command from every ``dvc.yaml`` and ``.dvc`` file; the checks
dvc makes when it builds its graph (one output per path, no output inside
another, no cycle) are made here, with one-line errors.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bale.exceptions import MetafileError
from bale.pipeline.stage import Stage


@dataclass(eq=False)
class Node:
    """A stage, or a ``.dvc`` file (``stage`` is None) with its outputs."""

    label: str  # dvc's addressing: `train`, `sub/dvc.yaml:train`, `data.dvc`
    stage: Stage | None
    outs: list[Path]  # absolute
    deps: list[Path]  # absolute
    upstream: list[Node] = field(default_factory=list)
    downstream: list[Node] = field(default_factory=list)


def _active_upstream(node: Node) -> list[Node]:
    """What a node needs reproduced first: nothing for a frozen stage (dvc's
    ``get_active_graph`` cuts its edges)."""
    return [] if node.stage is not None and node.stage.frozen else node.upstream


def _inside(child: Path, parent: Path) -> bool:
    return child != parent and child.is_relative_to(parent)


class Graph:
    """Nodes in discovery order, with edges from producers to consumers."""

    def __init__(self, nodes: list[Node], root: Path) -> None:
        self.nodes = nodes
        self.root = root
        self._link()

    def _link(self) -> None:
        owner: dict[Path, Node] = {}
        for node in self.nodes:
            for out in node.outs:
                other = owner.get(out)
                if other is not None:
                    raise MetafileError(
                        f"output '{rel(self.root, out)}' is produced by both "
                        f"'{other.label}' and '{node.label}'"
                    )
                owner[out] = node
        keys = sorted(owner, key=lambda p: p.parts)
        parts = [p.parts for p in keys]
        for out in keys:
            for parent in out.parents:
                if parent in owner:
                    raise MetafileError(
                        f"output '{rel(self.root, out)}' of '{owner[out].label}' is inside the "
                        f"output '{rel(self.root, parent)}' of '{owner[parent].label}'"
                    )
        for node in self.nodes:
            found: dict[int, Node] = {}
            for dep in node.deps:
                # the dep itself, an output it is inside, or outputs inside it
                for p in (dep, *dep.parents):
                    if p in owner:
                        found[id(owner[p])] = owner[p]
                i = bisect.bisect_left(parts, dep.parts)
                while i < len(keys) and keys[i].parts[: len(dep.parts)] == dep.parts:
                    found[id(owner[keys[i]])] = owner[keys[i]]
                    i += 1
            for up in found.values():
                if up is node:
                    # repro deletes outputs before running: a dep among them would go
                    raise MetafileError(
                        f"'{node.label}' has a dependency that is also its output, or "
                        "inside or around one"
                    )
                node.upstream.append(up)
                up.downstream.append(node)
        self._check_cycles()

    def _check_cycles(self) -> None:
        state: dict[int, int] = {}  # 1 visiting, 2 done
        for start in self.nodes:
            if state.get(id(start)):
                continue
            stack: list[tuple[Node, int]] = [(start, 0)]
            path: list[Node] = []
            while stack:
                node, i = stack.pop()
                if i == 0:
                    state[id(node)] = 1
                    path.append(node)
                if i < len(node.upstream):
                    stack.append((node, i + 1))
                    nxt = node.upstream[i]
                    s = state.get(id(nxt))
                    if s == 1:
                        cycle = [*path[path.index(nxt) :], nxt]
                        names = " -> ".join(n.label for n in reversed(cycle))
                        raise MetafileError(f"pipeline has a cycle: {names}")
                    if not s:
                        stack.append((nxt, 0))
                else:
                    state[id(node)] = 2
                    path.pop()

    def upstream_closure(self, targets: Iterable[Node]) -> list[Node]:
        """``targets`` and everything they need, producers before consumers
        (dvc's post-order walk), each once."""
        seen: set[int] = set()
        order: list[Node] = []
        for t in targets:
            stack: list[tuple[Node, int]] = [(t, 0)]
            while stack:
                node, i = stack.pop()
                if i == 0:
                    if id(node) in seen:
                        continue
                    seen.add(id(node))
                ups = _active_upstream(node)
                if i < len(ups):
                    stack.append((node, i + 1))
                    if id(ups[i]) not in seen:
                        stack.append((ups[i], 0))
                else:
                    order.append(node)
        return order

    def find(self, label: str) -> list[Node]:
        """Nodes named ``label``: a stage name (`train`), a generated group
        (`build` for `build@a`, `build@b`), or `file:name`."""
        exact = [n for n in self.nodes if n.label == label]
        if exact:
            return exact
        return [n for n in self.nodes if n.stage is not None and n.stage.answers_to(label)]

    def owner_of(self, path: Path) -> Node | None:
        """The node whose output is ``path`` or holds it."""
        for node in self.nodes:
            for out in node.outs:
                if path == out or _inside(path, out):
                    return node
        return None


def stage_node(stage: Stage, root: Path) -> Node:
    deps = [stage.abspath(d) for d in stage.deps]
    deps += [stage.abspath(p.path) for p in stage.params]
    return Node(label=stage.addressing(root), stage=stage, outs=stage.out_paths(root), deps=deps)


def source_node(dvcfile: Path, outs: Sequence[Path], root: Path) -> Node:
    return Node(label=dvcfile.relative_to(root).as_posix(), stage=None, outs=list(outs), deps=[])


def rel(root: Path, p: Path) -> str:
    """``p`` relative to ``root`` (posix), or as it is when outside it."""
    return p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)
