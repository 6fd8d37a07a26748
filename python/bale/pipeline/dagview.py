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

from bale.metafiles.walk_order import Key, WalkOrder
from bale.pipeline.graph import Graph, Node, rel


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


def dvc_order(nodes: Iterable[Node], root: Path) -> list[Node]:
    """``nodes`` in the order dvc collects them: metafiles as ``os.walk``
    lists them, stages of one ``dvc.yaml`` in file order."""
    walk = WalkOrder(root)

    def key(node: Node) -> Key:
        return walk.key(node.stage.dvcyaml if node.stage is not None else root / node.label)

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


def shown(node: Node, root: Path, here: Path | None) -> str:
    """A node's label as dvc prints it from directory ``here`` (None: from
    the repository's root, bale's own label)."""
    if here is None:
        return node.label
    if node.stage is not None:
        return node.stage.addressing(here)
    return Path(os.path.relpath(root / node.label, here)).as_posix()


def build(graph: Graph, *, outs: bool = False, here: Path | None = None) -> DiGraph:
    """dvc's ``index.graph`` (``outs``: ``index.outs_graph``), relabelled as
    ``dvc dag`` relabels it, names from ``here`` (None: the root): edges
    from a consumer to what it depends on."""
    nodes = dvc_order(graph.nodes, graph.root)
    trie = _Trie(nodes)
    g = DiGraph()

    def out_label(p: Path) -> str:
        return rel(graph.root, p) if here is None else Path(os.path.relpath(p, here)).as_posix()

    if outs:
        for o in trie.values():
            g.add_node(out_label(o))
        for node in nodes:
            for dep in node.deps:
                found = trie.overlapping(dep)
                for out in node.outs:
                    for o in found:
                        g.add_edge(out_label(out), out_label(o))
        return g
    label = {id(n): shown(n, graph.root, here) for n in nodes}
    for node in nodes:
        g.add_node(label[id(node)])
    for node in nodes:
        for dep in node.deps:
            for o in trie.overlapping(dep):
                g.add_edge(label[id(node)], label[id(trie.owner[o])])
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


def _generated(label: str) -> bool:
    return not label.endswith(".dvc") and "@" in label


def collapse_generated(g: DiGraph) -> DiGraph:
    """``--collapse-foreach-matrix``: every ``group@item`` stage drawn as one
    ``group`` node. dvc gathers the new nodes and edges in sets, so (as for
    :meth:`DiGraph.pipelines`) their order follows the hash seed; the same
    sets are built here in the same order."""
    new_nodes: set[str] = set()
    gone: set[str] = set()
    for n in g.nodes:
        if _generated(n):
            gone.add(n)
            new_nodes.add(n.split("@")[0])
    new_edges: set[tuple[str, str]] = set()
    old_edges: set[tuple[str, str]] = set()
    for u, v in g.edges():
        nu = u.split("@")[0] if _generated(u) else u
        nv = v.split("@")[0] if _generated(v) else v
        if (nu, nv) != (u, v):
            old_edges.add((u, v))
            new_edges.add((nu, nv))
    h = g.keep(set(g.nodes))
    for u, v in old_edges:
        del h.succ[u][v]
        del h.pred[v][u]
    for n in new_nodes:
        h.add_node(n)
    for u, v in new_edges:
        h.add_edge(u, v)
    for n in gone:
        h.remove_node(n)
    return h


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


def _dfs_postorder(g: DiGraph, starts: Iterable[str], *, reverse: bool = False) -> list[str]:
    """networkx's ``dfs_postorder_nodes``: what a node leads to before the
    node, successors (``reverse``: predecessors) in edge order."""
    adj = g.pred if reverse else g.succ
    visited: set[str] = set()
    order: list[str] = []
    for start in starts:
        if start in visited:
            continue
        visited.add(start)
        stack = [(start, iter(adj[start]))]
        while stack:
            parent, children = stack[-1]
            for child in children:
                if child not in visited:
                    visited.add(child)
                    stack.append((child, iter(adj[child])))
                    break
            else:
                stack.pop()
                order.append(parent)
    return order


def _stage_key(node: Node, root: Path) -> str | tuple[str, str]:
    """What dvc hashes a stage by (``Stage.__hash__``)."""
    if node.stage is None:
        return node.label
    return (node.stage.dvcyaml.relative_to(root).as_posix(), node.stage.name)


def plan(
    graph: Graph, chosen: list[Node] | None, *, single: bool = False, downstream: bool = False
) -> list[Node]:
    """The nodes ``dvc repro`` goes through, in its order (``plan_repro``):
    ``chosen`` (None: every node, as ``-P``) after what they need, or before
    what needs them with ``downstream``; frozen stages cut from their deps."""
    if single and chosen is not None:
        return chosen
    by_label = {n.label: n for n in graph.nodes}
    g = build(graph)
    for n in graph.nodes:
        if n.stage is not None and n.stage.frozen:  # get_active_graph
            for dep in list(g.succ[n.label]):
                del g.succ[n.label][dep]
                del g.pred[dep][n.label]
    if chosen is None:
        return [by_label[x] for x in _dfs_postorder(g, g.nodes)]
    reached: list[str] = []
    for n in chosen:
        reached += _dfs_postorder(g, [n.label], reverse=downstream)
    # graph.subgraph(nodes): networkx's FilterAtlas order, as in pipelines();
    # here dvc's nodes are Stage objects, hashed as (dvc.yaml path, name) or
    # as the .dvc file's path: a set of those keys iterates as dvc's does
    keys = {n.label: _stage_key(n, graph.root) for n in graph.nodes}
    back = {k: label for label, k in keys.items()}
    wanted_keys = set(iter(keys[x] for x in reached))
    wanted = {back[k] for k in wanted_keys}
    small = 2 * len(wanted) < len(g)
    order = [back[k] for k in wanted_keys] if small else [x for x in g.nodes if x in wanted]
    sub = DiGraph()
    for x in order:
        sub.add_node(x)
    for u in order:
        for v in g.succ[u]:
            if v in wanted:
                sub.add_edge(u, v)
    return [by_label[x] for x in _dfs_postorder(sub, sub.nodes)]
