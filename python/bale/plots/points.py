"""A plot's datapoints as JSON text, and the documents that carry them.

``plots diff`` over ten revisions of twenty files is two million
datapoints. dvc builds a dict for each and has ``json.dumps`` write them;
bale's engine writes their JSON straight from the data files
(:class:`bale._core.PlotTable`), the very text ``json.dumps`` would write.
:class:`RawPoints` carries that text through dvc-render, which fills its
templates with the datapoints list without looking into it, and
:func:`dump` writes a document holding it: the document's own JSON with
each datapoints list's text put in its place.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from bale._core import PlotTable, render_points

#: ``(key, kind, text, table)`` as :func:`bale._core.render_points` takes a
#: field to set; keys and texts are JSON.
SetSpec = tuple[str, str, str | None, PlotTable | None]
#: ``(table, sets, removes)``: one y source's datapoints to write.
Job = tuple[PlotTable, list[SetSpec], list[str]]


class RawPoints(list[dict[str, None]]):
    """A renderer's datapoints, written: ``texts`` holds the JSON of the
    items (``{...}, {...}``, no brackets) in parts. As a list it holds one
    dict per part with the keys its datapoints have, which is all
    dvc-render asks of them (``field in row``)."""

    def __init__(self, texts: list[bytes], keys: Iterable[list[str]]) -> None:
        super().__init__({json.loads(k): None for k in ks} for ks in keys)
        self.texts = texts

    @classmethod
    def render(cls, jobs: list[Job]) -> RawPoints:
        """The datapoints of ``jobs`` (see :func:`bale._core.render_points`),
        in order; parts without any left out."""
        return cls.render_many([jobs])[0]

    @classmethod
    def render_many(cls, lists: list[list[Job]]) -> list[RawPoints]:
        """:meth:`render` of each list of jobs, all rendered in one call."""
        done = iter(render_points([job for jobs in lists for job in jobs]))
        out = []
        for jobs in lists:
            parts = [part for part in itertools.islice(done, len(jobs)) if part[0]]
            out.append(cls([text for text, _ in parts], [keys for _, keys in parts]))
        return out


# The stand-in for a datapoints list in a document's JSON: NUL is written
# \u0000 there, and the token is this process's own, so no string of the
# document's can be taken for it.
_TOKEN = f"\0bale-points-{os.urandom(8).hex()}-"
_MARKER = re.compile(re.escape(json.dumps(_TOKEN)[:-1]) + r'(\d+)"')


def dump(
    doc: Any, default: Callable[[Any], Any] | None = None, html_safe: bool = False
) -> Iterator[bytes]:
    """``json.dumps(doc, default=default)``, encoded, in parts, with every
    :class:`RawPoints` in ``doc`` written as the list it stands for. With
    ``html_safe``, ``<`` is written ``\\u003c`` (text of the data cannot end
    the ``<script>`` it is put in)."""
    found: list[RawPoints] = []

    def swap(value: Any) -> Any:
        if isinstance(value, RawPoints):
            found.append(value)
            return f"{_TOKEN}{len(found) - 1}"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(doc), default=default)
    if html_safe:
        text = text.replace("<", "\\u003c")
    pos = 0
    for m in _MARKER.finditer(text):
        yield text[pos : m.start()].encode()
        yield b"["
        for i, part in enumerate(found[int(m[1])].texts):
            if i:
                yield b", "
            yield part.replace(b"<", b"\\u003c") if html_safe and b"<" in part else part
        yield b"]"
        pos = m.end()
    yield text[pos:].encode()
