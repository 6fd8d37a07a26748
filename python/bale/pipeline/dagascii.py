"""Draws a pipeline as boxes joined by lines of ``*``, as ``dvc dag`` does.

Ported from dvc's ``dvc/dagascii.py`` (Copyright Iterative, Apache-2.0,
https://github.com/iterative/dvc), so that bale's drawing equals dvc's
character for character: the same Sugiyama layout from the ``grandalf``
package (dual-licensed GPLv2 or EPLv1; bale depends on it unmodified, as dvc
does), the same canvas, the same rounding.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence
from typing import Any

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout
from grandalf.routing import EdgeViewer, route_with_lines


class _VertexViewer:
    """A box's size, which grandalf's layout makes room for."""

    HEIGHT = 3  # top and bottom edges and the text

    def __init__(self, name: str) -> None:
        self.h = self.HEIGHT
        self.w = len(name) + 2  # left and right edges and the text
        self.xy: tuple[float, float] = (0.0, 0.0)


class _Canvas:
    def __init__(self, cols: int, lines: int) -> None:
        assert cols > 1
        assert lines > 1
        self.cols = cols
        self.lines = lines
        self.canvas = [[" "] * cols for _ in range(lines)]

    def draw(self) -> str:
        # dvc joins with os.linesep: "\n" on the systems bale runs on
        return "\n".join("".join(line) for line in self.canvas)

    def point(self, x: int, y: int, char: str) -> None:
        assert 0 <= x < self.cols
        assert 0 <= y < self.lines
        self.canvas[y][x] = char

    def line(self, x0: int, y0: int, x1: int, y1: int, char: str) -> None:
        if x0 > x1:
            x1, x0 = x0, x1
            y1, y0 = y0, y1
        dx = x1 - x0
        dy = y1 - y0
        if dx == 0 and dy == 0:
            self.point(x0, y0, char)
        elif abs(dx) >= abs(dy):
            for x in range(x0, x1 + 1):
                y = y0 if dx == 0 else y0 + round((x - x0) * dy / float(dx))
                self.point(x, y, char)
        elif y0 < y1:
            for y in range(y0, y1 + 1):
                x = x0 if dy == 0 else x0 + round((y - y0) * dx / float(dy))
                self.point(x, y, char)
        else:
            for y in range(y1, y0 + 1):
                x = x0 if dy == 0 else x1 + round((y - y1) * dx / float(dy))
                self.point(x, y, char)

    def text(self, x: int, y: int, text: str) -> None:
        for i, char in enumerate(text):
            self.point(x + i, y, char)

    def box(self, x0: int, y0: int, width: int, height: int) -> None:
        assert width > 1
        assert height > 1
        width -= 1
        height -= 1
        for x in range(x0, x0 + width):
            self.point(x, y0, "-")
            self.point(x, y0 + height, "-")
        for y in range(y0, y0 + height):
            self.point(x0, y, "|")
            self.point(x0 + width, y, "|")
        for x, y in ((x0, y0), (x0 + width, y0), (x0, y0 + height), (x0 + width, y0 + height)):
            self.point(x, y, "+")


def _layout(vertices: Sequence[Hashable], edges: Sequence[tuple[Hashable, Hashable]]) -> Any:
    by_name = {v: Vertex(f" {v} ") for v in vertices}
    # reversed, so that producers are drawn above their consumers
    gedges = [Edge(by_name[e], by_name[s]) for s, e in edges]
    gvertices = by_name.values()
    graph = Graph(gvertices, gedges)
    for vertex in gvertices:
        vertex.view = _VertexViewer(vertex.data)
    minw = min(v.view.w for v in gvertices)  # the narrowest box: the best layout
    for edge in gedges:
        edge.view = EdgeViewer()
    sug = SugiyamaLayout(graph.C[0])
    roots = [v for v in graph.C[0].sV if len(v.e_in()) == 0]
    sug.init_all(roots=roots, optimize=True)
    sug.yspace = _VertexViewer.HEIGHT
    sug.xspace = minw
    sug.route_edge = route_with_lines
    sug.draw()
    return sug


def draw(vertices: Sequence[Hashable], edges: Sequence[tuple[Hashable, Hashable]]) -> str:
    """One connected pipeline as text; ``edges`` go from a consumer to what
    it depends on, as in dvc's graph."""
    xs: list[float] = []
    ys: list[float] = []
    sug = _layout(vertices, edges)
    for vertex in sug.g.sV:
        xs.append(vertex.view.xy[0] - vertex.view.w / 2.0)
        xs.append(vertex.view.xy[0] + vertex.view.w / 2.0)
        ys.append(vertex.view.xy[1])
        ys.append(vertex.view.xy[1] + vertex.view.h)
    for edge in sug.g.sE:
        for x, y in edge.view._pts:
            xs.append(x)
            ys.append(y)
    minx, miny, maxx, maxy = min(xs), min(ys), max(xs), max(ys)
    canvas = _Canvas(math.ceil(math.ceil(maxx) - math.floor(minx)) + 1, round(maxy - miny))
    # edges first, so that boxes are drawn over them
    for edge in sug.g.sE:
        pts = edge.view._pts
        for start, end in itertools.pairwise(pts):
            canvas.line(
                round(start[0] - minx),
                round(start[1] - miny),
                round(end[0] - minx),
                round(end[1] - miny),
                "*",
            )
    for vertex in sug.g.sV:
        x = vertex.view.xy[0] - vertex.view.w / 2.0
        y = vertex.view.xy[1]
        canvas.box(round(x - minx), round(y - miny), vertex.view.w, vertex.view.h)
        canvas.text(round(x - minx) + 1, round(y - miny) + 1, vertex.data)
    return canvas.draw()
