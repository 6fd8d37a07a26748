"""``dvc dag``'s graph, with nodes and edges in dvc's order.

dvc builds its graph with networkx from stages in the order it finds them
(``os.walk`` order of the metafiles, stages in file order) and edges in the
order its outputs trie yields them; every format it prints follows those
orders (and, for ``--dot``, the order networkx's in-place relabelling leaves
behind). :class:`DiGraph` keeps networkx's dict-of-dicts layout for the few
operations dvc uses, so that the orders come out the same without networkx.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from bale.pipeline.graph import Graph, Node


class DiGraph:
    """networkx's ``DiGraph`` as far as ``dvc dag`` uses it: nodes in
    insertion order, successors and predecessors in edge insertion order."""

    def __init__(self) -> None:
        self.succ: dict[str, dict[str, None]] = {}
        self.pred: dict[str, dict[str, None]] = {}

    def __len__(self) -> int:
        return len(self.succ)

    @property
    def nodes(self) -> list[str]:
        return list(self.succ)

    def edges(self) -> list[tuple[str, str]]:
        return [(u, v) for u, vs in self.succ.items() for v in vs]

    def add_node(self, n: str) -> None:
        if n not in self.succ:
            self.succ[n] = {}
            self.pred[n] = {}

    def add_edge(self, u: str, v: str) -> None:
        self.add_node(u)
        self.add_node(v)
        self.succ[u][v] = None
        self.pred[v][u] = None

    def remove_node(self, n: str) -> None:
        for v in self.succ[n]:
            del self.pred[v][n]
        del self.succ[n]
        for u in self.pred[n]:
            del self.succ[u][n]
        del self.pred[n]

    def keep(self, wanted: set[str]) -> DiGraph:
        """A copy without the nodes not ``wanted`` (``remove_nodes_from``)."""
        g = DiGraph()
        for n in self.succ:
            if n in wanted:
                g.add_node(n)
        for u, v in self.edges():
            if u in wanted and v in wanted:
                g.add_edge(u, v)
        return g

    def reached(self, start: str) -> set[str]:
        """``start`` and every node its edges lead to."""
        seen = {start}
        todo = [start]
        while todo:
            for v in self.succ[todo.pop()]:
                if v not in seen:
                    seen.add(v)
                    todo.append(v)
        return seen

    def pipelines(self) -> list[DiGraph]:
        """``[graph.subgraph(c).copy() for c in weakly_connected_components]``
        with networkx's orders: a component less than half the graph comes
        out in the iteration order of a set of its labels (so, like dvc's,
        it follows the string hash seed)."""
        out = []
        seen: set[str] = set()
        n = len(self)
        for v in self.succ:
            if v in seen:
                continue
            c = self._plain_bfs(n - len(seen), v)
            seen.update(c)
            # networkx's FilterAtlas: the shorter of show_nodes(c).nodes and the graph
            small = 2 * len(c) < n
            order = list(set(iter(c))) if small else [x for x in self.succ if x in c]
            g = DiGraph()
            for x in order:
                g.add_node(x)
            for u in order:
                for w in self.succ[u]:
                    g.add_edge(u, w)
            out.append(g)
        return out

    def _plain_bfs(self, n: int, source: str) -> set[str]:
        seen = {source}
        nextlevel = [source]
        while nextlevel:
            thislevel = nextlevel
            nextlevel = []
            for v in thislevel:
                for w in (*self.succ[v], *self.pred[v]):
                    if w not in seen:
                        seen.add(w)
                        nextlevel.append(w)
                if len(seen) == n:
                    return seen
        return seen


def _walk_key(root: Path, path: Path, listings: dict[Path, dict[str, int]]) -> tuple[int, ...]:
    """Where ``os.walk(root)`` (top-down) meets ``path``: files of a directory
    before its subdirectories, each in directory listing order."""
    key: list[int] = []
    parts = path.relative_to(root).parts
    d = root
    for i, name in enumerate(parts):
        listing = listings.get(d)
        if listing is None:
            try:
                with os.scandir(d) as it:
                    listing = {e.name: j for j, e in enumerate(it)}
            except OSError:
                listing = {}
            listings[d] = listing
        key += [0 if i == len(parts) - 1 else 1, listing.get(name, -1)]
        d = d / name
    return tuple(key)


def dvc_order(nodes: Iterable[Node], root: Path) -> list[Node]:
    """``nodes`` in the order dvc collects them: metafiles as ``os.walk``
    lists them, stages of one ``dvc.yaml`` in file order."""
    listings: dict[Path, dict[str, int]] = {}

    def key(node: Node) -> tuple[int, ...]:
        where = node.stage.dvcyaml if node.stage is not None else root / node.label
        return _walk_key(root, where, listings)

    return sorted(nodes, key=key)


class _Trie:
    """dvc's outputs trie: outputs by path, iterated depth first with
    children in the order they were first made."""

    def __init__(self, nodes: list[Node]) -> None:
        self.owner: dict[Path, Node] = {}
        self.made: dict[Path, int] = {}
        for node in nodes:
            for out in node.outs:
                self.owner[out] = node
                for p in (*reversed(out.parents), out):
                    self.made.setdefault(p, len(self.made))

    def _key(self, p: Path) -> tuple[int, ...]:
        return tuple(self.made[q] for q in (*reversed(p.parents), p))

    def values(self) -> list[Path]:
        return sorted(self.owner, key=self._key)

    def overlapping(self, dep: Path) -> list[Path]:
        """Outputs that hold ``dep``, shortest first, then those inside it
        (``prefixes`` then ``values(prefix=)``)."""
        found = [p for p in (*reversed(dep.parents), dep) if p in self.owner]
        found += sorted((o for o in self.owner if o == dep or dep in o.parents), key=self._key)
        return list(dict.fromkeys(found))


def rel(root: Path, p: Path) -> str:
    return p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)


def build(graph: Graph, *, outs: bool = False) -> DiGraph:
    """dvc's ``index.graph`` (``outs``: ``index.outs_graph``), relabelled as
    ``dvc dag`` relabels it: edges from a consumer to what it depends on."""
    nodes = dvc_order(graph.nodes, graph.root)
    trie = _Trie(nodes)
    g = DiGraph()
    if outs:
        for o in trie.values():
            g.add_node(rel(graph.root, o))
        for node in nodes:
            for dep in node.deps:
                found = trie.overlapping(dep)
                for out in node.outs:
                    for o in found:
                        g.add_edge(rel(graph.root, out), rel(graph.root, o))
        return g
    for node in nodes:
        g.add_node(node.label)
    for node in nodes:
        for dep in node.deps:
            for o in trie.overlapping(dep):
                g.add_edge(node.label, trie.owner[o].label)
    return g


def restrict(g: DiGraph, targets: list[str], *, full: bool) -> DiGraph:
    """What ``dvc dag TARGET`` draws: the targets and what they depend on,
    or with ``full`` everything connected to them."""
    if not targets:
        return g
    if not full:
        wanted: set[str] = set()
        for t in targets:
            wanted |= g.reached(t)
        g = g.keep(wanted)
    undirected = DiGraph()
    for n in g.nodes:
        undirected.add_node(n)
    for u, v in g.edges():
        undirected.add_edge(u, v)
        undirected.add_edge(v, u)
    connected: set[str] = set()
    for t in targets:
        connected |= undirected.reached(t)
    return g.keep(connected)


def to_ascii(g: DiGraph) -> str:
    from bale.pipeline.dagascii import draw

    return "\n".join(draw(p.nodes, p.edges()) for p in g.pipelines())


def _quote(label: str) -> str:
    # dvc quotes labels for pydot (a ':' would be read as a port)
    return label if label[0] == '"' or label[-1] == '"' else f'"{label}"'


def to_dot(g: DiGraph) -> str:
    """``write_dot(graph.reverse())`` after dvc's in-place relabelling, which
    moves edges around as networkx's ``relabel_nodes(copy=False)`` does."""
    h = DiGraph()
    for n in g.nodes:
        h.add_node(n)
    for u, v in g.edges():
        h.add_edge(u, v)
    for old in list(h.nodes):
        new = _quote(old)
        if new == old:
            continue
        h.add_node(new)
        moved = [(new, new if t == old else t) for t in h.succ[old]]
        moved += [(new if s == old else s, new) for s in h.pred[old]]
        h.remove_node(old)
        for u, v in moved:
            h.add_edge(u, v)
    r = DiGraph()
    for n in h.nodes:
        r.add_node(n)
    for u, v in h.edges():
        r.add_edge(v, u)
    lines = ["strict digraph {"]
    lines += [f"{n};" for n in r.nodes]
    lines += [f"{u} -> {v};" for u, v in r.edges()]
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(g: DiGraph, *, markdown: bool = False) -> str:
    text = "flowchart TD"
    count = 0
    for p in g.pipelines():
        ids: dict[str, str] = {}
        for n in sorted(p.nodes):
            count += 1
            ids[n] = f"node{count}"
            text += f'\n\t{ids[n]}["{n}"]'
        for a, b in sorted((b, a) for a, b in p.edges()):
            text += f"\n\t{ids[a]}-->{ids[b]}"
    return f"```mermaid\n{text}\n```" if markdown else text
