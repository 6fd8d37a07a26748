"""What a person sees of ``plots show/diff``: the page drawn by a headless
Chromium with no network at all, so every script it runs must be in the page.

Each page is loaded once (``--dump-dom`` and ``--screenshot`` in one run,
after a virtual-time budget long enough for Vega): the DOM must hold, in each
plot's container, an ``<svg>`` with drawn marks (bale embeds plots as SVG),
one container per plot expected; images must point at files beside the page
that hold the plotted image; and the screenshot (kept in pytest's tmp_path)
must not be blank, the images' red pixels in it.

The tests skip, saying so, only when no Chromium can be found (Debian's
``chromium``: ``make sysdeps`` installs it; ``BALE_CHROMIUM`` names another).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

from tests.integration.conftest import GIT_ENV, Run, make_repo, write_tree


def _chromium() -> str | None:
    given = os.environ.get("BALE_CHROMIUM")
    if given:
        return given
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next((p for p in map(shutil.which, names) if p), None)


CHROMIUM = _chromium()

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium to draw the plots page (apt-get install chromium, or set BALE_CHROMIUM)",
)

#: The plots' red: a drawn image shows these pixels, and no Vega plot uses it.
RED = (255, 0, 0)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _predict(kind: int, line: bytes | bytearray, prev: bytes, i: int, bpp: int) -> int:
    """PNG's prediction of byte ``i`` of a row (Sub, Average, Paeth) from the
    bytes left of it, above it, and above-left."""
    a = line[i - bpp] if i >= bpp else 0
    c = prev[i - bpp] if i >= bpp else 0
    return {1: a, 3: (a + prev[i]) >> 1, 4: _paeth(a, prev[i], c)}[kind]


def _png(rows: list[bytes], width: int, kind: int = 0) -> bytes:
    """An 8-bit RGB PNG of ``rows``, each row encoded with filter ``kind``."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + body))
        return struct.pack(">I", len(body)) + tag + body + crc

    raw, prev = b"", bytes(width * 3)
    for row in rows:
        if kind == 2:
            coded = bytes((x - b) & 255 for x, b in zip(row, prev, strict=True))
        elif kind:
            coded = bytes((row[i] - _predict(kind, row, prev, i, 3)) & 255 for i in range(len(row)))
        else:
            coded = row
        raw += bytes([kind]) + coded
        prev = row
    ihdr = struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0)
    return b"".join(
        (b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", ihdr), chunk(b"IDAT", zlib.compress(raw)))
    ) + chunk(b"IEND", b"")


def _square(side: int, rgb: tuple[int, int, int]) -> bytes:
    return _png([bytes(rgb) * side] * side, side)


def _undo(kind: int, line: bytearray, prev: bytes, bpp: int) -> None:
    """Undoes Sub (1), Average (3) or Paeth (4) on ``line``, in place: the
    byte loop, written out (a call per byte would double its time)."""
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + a) & 255
            continue
        b = prev[i]
        if kind == 3:
            line[i] = (line[i] + ((a + b) >> 1)) & 255
            continue
        c = prev[i - bpp] if i >= bpp else 0
        pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
        line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255


@dataclass
class Screenshot:
    """A PNG's rows of pixels, for 8-bit RGB or RGBA without interlacing
    (what Chromium writes), read with zlib alone. Rows are undone with
    whole-row integer arithmetic where PNG allows it (Up, most of a
    screenshot), byte by byte elsewhere."""

    width: int
    height: int
    bpp: int
    rows: list[bytes]

    @classmethod
    def read(cls, data: bytes) -> Screenshot:
        assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
        pos, idat, width, height, bpp = 8, [], 0, 0, 3
        while pos < len(data):
            n, tag = struct.unpack(">I4s", data[pos : pos + 8])
            body = data[pos + 8 : pos + 8 + n]
            pos += 12 + n
            if tag == b"IHDR":
                width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
                assert depth == 8 and colour in (2, 6) and not interlace, (depth, colour)
                bpp = 3 if colour == 2 else 4
            elif tag == b"IDAT":
                idat.append(body)
        raw = zlib.decompress(b"".join(idat))
        stride = width * bpp
        low = int.from_bytes(b"\x7f" * stride, "big")
        high = int.from_bytes(b"\x80" * stride, "big")
        prev, rows = bytes(stride), []
        for y in range(height):
            start = y * (stride + 1)
            kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
            if kind == 2:  # Up: bytewise sums mod 256, no carry between bytes
                x, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
                line = bytearray(
                    (((x & low) + (b & low)) ^ ((x ^ b) & high)).to_bytes(stride, "big")
                )
            elif kind:
                _undo(kind, line, prev, bpp)
            prev = bytes(line)
            rows.append(prev)
        return cls(width, height, bpp, rows)

    def _mask(self, channel: int, test: Callable[[int], bool]) -> list[int]:
        """Per row, a bit per pixel: whether ``channel`` passes ``test``."""
        table = bytes(1 if test(v) else 0 for v in range(256))
        return [int.from_bytes(r[channel :: self.bpp].translate(table), "big") for r in self.rows]

    def count(self, rgb: tuple[int, int, int]) -> int:
        """How many pixels are exactly ``rgb``."""
        masks = [self._mask(ch, want.__eq__) for ch, want in enumerate(rgb)]
        return sum(bin(r & g & b).count("1") for r, g, b in zip(*masks, strict=True))

    def inked(self) -> float:
        """The share of pixels that are not the page's white."""
        masks = [self._mask(ch, lambda v: v < 235) for ch in range(3)]
        inked = sum(bin(r | g | b).count("1") for r, g, b in zip(*masks, strict=True))
        return inked / (self.width * self.height)


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_the_screenshot_reader_undoes_each_png_filter(kind: int) -> None:
    rows = [
        bytes((x * 7 + y * 13 + c * 50) % 256 for x in range(5) for c in range(3)) for y in range(4)
    ]
    shot = Screenshot.read(_png(rows, 5, kind))
    assert (shot.width, shot.height, shot.rows) == (5, 4, rows)
    assert shot.count((0, 50, 100)) == 1 and shot.count((1, 2, 3)) == 0


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    children: list[_Node] = field(default_factory=list)
    text: str = ""

    def walk(self) -> list[_Node]:
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Tree(HTMLParser):
    """The dumped DOM as nodes (Chromium closes every element it opens,
    but HTML's void elements)."""

    VOID: ClassVar = {
        "img",
        "br",
        "meta",
        "input",
        "link",
        "hr",
        "col",
        "area",
        "base",
        "source",
        "wbr",
    }

    def __init__(self) -> None:
        super().__init__()
        self.root = _Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(_Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].text += data


@dataclass
class _Plot:
    """What one plot's container shows."""

    marks: int  # drawn mark items (paths with a shape, texts, lines) in data layers
    title: str
    legend: list[str]
    images: list[str]  # the src of each <img>


@dataclass
class Drawn:
    plots: dict[str, _Plot]  # by container id
    path: Path  # the screenshot
    shot: Screenshot

    def vega(self) -> dict[str, _Plot]:
        return {k: p for k, p in self.plots.items() if not p.images}

    def drawn(self) -> set[str]:
        return {k for k, p in self.vega().items() if p.marks}


def _plot(div: _Node) -> _Plot:
    nodes = div.walk()
    marks = 0
    for g in nodes:
        cls = g.classes()
        if g.tag != "g" or "role-mark" not in cls or any("voronoi" in c for c in cls):
            continue
        for item in g.walk()[1:]:
            shaped = item.tag == "path" and any(ch.isdigit() for ch in item.attrs.get("d", ""))
            if shaped or item.tag in ("line", "text", "rect", "image"):
                marks += 1

    def texts(role: str) -> list[str]:
        return [
            t.text.strip()
            for g in nodes
            if g.tag == "g" and role in g.classes()
            for t in g.walk()
            if t.tag == "text"
        ]

    title = next(iter(texts("role-title-text")), "")
    images = [n.attrs.get("src", "") for n in nodes if n.tag == "img"]
    return _Plot(marks, title, texts("role-legend-label"), images)


def draw(page: Path, tmp_path: Path, height: int = 800) -> Drawn:
    """Loads ``page`` in headless Chromium with every network fetch failing
    (a proxy nobody listens on, and no name resolves), and reads back what
    it drew. Chromium is killed, with its children, if it takes over 60 s."""
    assert CHROMIUM is not None
    shot = tmp_path / f"{page.parent.name}.png"
    cmd = [
        CHROMIUM,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--hide-scrollbars",
        f"--window-size=1000,{height}",
        "--virtual-time-budget=10000",
        f"--screenshot={shot}",
        "--dump-dom",
        page.as_uri(),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        dom, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish drawing {page} in 60 s")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # any helper process it left behind
    assert proc.returncode == 0 and shot.is_file(), err[-2000:]
    tree = _Tree()
    tree.feed(dom)
    body = next(n for n in tree.root.walk() if n.tag == "body")
    # each plot's container is a <div id> of the body (dvc-render's page)
    plots = {d.attrs["id"]: _plot(d) for d in body.children if d.tag == "div" and "id" in d.attrs}
    return Drawn(plots, shot, Screenshot.read(shot.read_bytes()))


# -- the repositories --------------------------------------------------------

TRAIN = """\
import os, struct, zlib

lr = float(open("params.yaml").read().split(":")[1])
os.makedirs("metrics", exist_ok=True)
with open("metrics/history.csv", "w") as f:
    f.write("epoch,loss,acc\\n")
    for e in range(6):
        f.write(f"{e},{1 / (1 + lr * e):.4f},{1 - 1 / (2 + lr * e):.4f}\\n")

def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

rows = b"".join(b"\\0" + bytes((255, 0, 0)) * 24 for _ in range(24))
png = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 24, 24, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
open("metrics/sample.png", "wb").write(png)
"""

DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [lr]
    plots:
      - metrics/history.csv:
          x: epoch
          y: loss
          title: History
      - metrics/sample.png
plots:
  - loss.csv
  - acc.json:
      x: epoch
      y: acc
  - prec.yaml:
      x: recall
      y: precision
      template: scatter
  - raw.tsv:
      y_label: value
  - classes.json:
      x: actual
      y: predicted
      template: confusion
  - both:
      x: {train.json: v}
      y: {test.json: v}
      title: Both
  - two:
      y:
        train.json: v
        test.json: [v]
  - curves
  - img.png
"""


def _files(s: float) -> dict[str, bytes | str]:
    """The project's files; ``s`` scales the data, so each commit differs."""

    def rows(sep: str, header: str, values: list[float]) -> str:
        return header + "".join(f"{i}{sep}{v}\n" for i, v in enumerate(values))

    pairs = [("cat", "cat"), ("cat", "dog"), ("dog", "dog"), ("bird", "cat")]
    return {
        "loss.csv": rows(",", "step,loss\n", [round(s / (1 + i), 3) for i in range(8)]),
        "acc.json": json.dumps([{"epoch": i, "acc": 1 - s / (3 + i)} for i in range(5)]),
        "prec.yaml": "".join(
            f"- {{recall: {i / 4}, precision: {1 - s * i / 10}}}\n" for i in range(5)
        ),
        "raw.tsv": rows("\t", "n\tvalue\n", [s * i * i for i in range(4)]),
        "classes.json": json.dumps([{"actual": a, "predicted": p} for a, p in pairs]),
        "train.json": json.dumps({"train": [{"v": s * i} for i in range(4)]}),
        "test.json": json.dumps({"test": [{"v": s * i + 0.5} for i in range(4)]}),
        "curves/c1.json": json.dumps({"c": [{"x": i, "y": s + i} for i in range(3)]}),
        "curves/c2.csv": rows(",", "x,y\n", [s * 2 - i for i in range(3)]),
        "img.png": _square(24, RED),
        "train.py": TRAIN,
        "params.yaml": "lr: 0.1\n",
        "dvc.yaml": DVC_YAML,
    }


#: The page's containers: each Vega plot's, each image's.
VEGA = {
    "metrics_history_csv",
    "loss_csv",
    "acc_json",
    "prec_yaml",
    "raw_tsv",
    "classes_json",
    "both",
    "two",
    "curves_c1_json",
    "curves_c2_csv",
}
IMAGES = {"img_png", "metrics_sample_png"}
#: Tall enough for every plot to be in the screenshot, the images (last) too:
#: at 1000 pixels wide the page draws two Vega plots a row.
HEIGHT = 460 * len(VEGA) // 2 + 200 * len(IMAGES) + 200


@pytest.fixture
def project(tmp_path: Path, run: Run) -> Path:
    """Every kind of plot, committed twice with other data (v1, v2)."""
    root = make_repo(tmp_path)
    for scale, msg in ((1.0, "v1"), (2.0, "v2")):
        write_tree(root, _files(scale))
        run("bale", "repro")
        run("git", "add", "-A")
        run("git", "commit", "-qm", msg)
    return root


def _check_page(d: Drawn, vega: set[str], images: set[str]) -> None:
    assert set(d.plots) == vega | images
    assert d.drawn() == vega, {k: p for k, p in d.vega().items() if not p.marks}
    assert {k for k, p in d.plots.items() if p.images} == images
    assert d.shot.inked() > 0.005, f"the screenshot {d.path} is nearly blank"


@needs_chromium
def test_plots_show_draws_every_plot_offline(project: Path, run: Run, tmp_path: Path) -> None:
    run("bale", "plots", "show", "-o", "page")
    page = project / "page" / "index.html"
    d = draw(page, tmp_path, HEIGHT)
    _check_page(d, VEGA, IMAGES)
    assert d.plots["both"].title == "Both" and d.plots["metrics_history_csv"].title == "History"
    # one field of two files: a line each, the files named in the legend
    assert {"train.json", "test.json"} <= set(d.plots["two"].legend)
    # images are files beside the page, the plotted bytes, and drawn
    for name, src in (("img_png", "img.png"), ("metrics_sample_png", "metrics/sample.png")):
        (shown,) = d.plots[name].images
        assert (page.parent / shown).read_bytes() == (project / src).read_bytes()
    assert d.shot.count(RED) >= 2 * 24 * 24


@needs_chromium
def test_plots_diff_draws_each_revision(project: Path, run: Run, tmp_path: Path) -> None:
    write_tree(project, {"loss.csv": "step,loss\n0,5\n1,4\n2,1\n"})
    run("bale", "plots", "diff", "HEAD~1", "HEAD", "-o", "revs")
    d = draw(project / "revs" / "index.html", tmp_path, HEIGHT)
    _check_page(d, VEGA, IMAGES)
    # a line (or points) per revision; the confusion matrix draws one per revision instead
    for name in VEGA - {"metrics_history_csv", "two", "classes_json"}:
        assert d.plots[name].legend == ["HEAD~1", "HEAD"], name
    assert {"HEAD~1", "HEAD", "train.json", "test.json"} <= set(d.plots["two"].legend)
    assert len(d.plots["img_png"].images) == 2
    assert d.shot.count(RED) >= 4 * 24 * 24
    # against the workspace: one revision's data changed, the others' too
    run("bale", "plots", "diff", "HEAD", "--targets", "loss.csv", "-o", "ws")
    d = draw(project / "ws" / "index.html", tmp_path)
    # dvc shows a data file named as a target twice: as dvc.yaml's plot, and as itself
    _check_page(d, {"loss_csv", "dvc_yaml__loss_csv"}, set())
    assert d.plots["loss_csv"].legend == ["workspace", "HEAD"]


@needs_chromium
def test_plots_diff_of_an_experiment_draws_it_beside_its_baseline(
    project: Path, run: Run, tmp_path: Path
) -> None:
    run("bale", "exp", "run", "-S", "lr=0.9", "-n", "fast")
    run("bale", "plots", "diff", "-e", "fast", "--targets", "metrics/history.csv", "-o", "exp")
    d = draw(project / "exp" / "index.html", tmp_path)
    _check_page(d, {"metrics_history_csv"}, set())
    head = run("git", "rev-parse", "--short=7", "HEAD").stdout.strip()
    legend = d.plots["metrics_history_csv"].legend
    assert any("fast" in x for x in legend) and any(head in x for x in legend), legend


@needs_chromium
def test_a_broken_spec_or_a_cdn_page_draws_nothing(tmp_path: Path) -> None:
    """The checks can fail: a spec Vega-Lite rejects leaves its container
    without an <svg>, while the plot beside it draws; and dvc-render's own
    page, which loads Vega from a CDN, draws nothing here (no network)."""
    from dvc_render import VegaRenderer, render_html

    from bale.plots import page

    def plot(name: str) -> VegaRenderer:
        points = [{"x": i, "y": i * i, "rev": "r"} for i in range(4)]
        return VegaRenderer(points, name, x="x", y="y")

    ours = page.write([plot("good"), plot("bad")], tmp_path / "ours" / "index.html")
    html = ours.read_text()
    head, bad = html.split('<div id = "bad">')
    assert '"mark": "line"' in bad
    ours.write_text(head + '<div id = "bad">' + bad.replace('"mark": "line"', '"mark": "nope"', 1))
    d = draw(ours, tmp_path)
    assert set(d.plots) == {"good", "bad"}
    assert d.drawn() == {"good"}
    cdn = tmp_path / "cdn" / "index.html"
    cdn.parent.mkdir()
    render_html([plot("good")], cdn)
    d = draw(cdn, tmp_path)
    assert set(d.plots) == {"good"} and not d.drawn()
    assert d.shot.inked() < 0.001


def test_plots_show_open_opens_the_page_it_wrote(project: Path, run: Run, tmp_path: Path) -> None:
    """``--open`` hands the page's file URL to the user's browser (here a
    script, as $BROWSER names it, that writes down what it was given)."""
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    env = {**os.environ, **GIT_ENV, "BROWSER": f"{sys.executable} {browser} %s"}
    cmd = [sys.executable, "-m", "bale", "plots", "show", "loss.csv", "--open", "-o", "o"]
    p = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, check=True)
    url = (project / "o" / "index.html").as_uri()
    assert p.stdout.strip() == url and opened.read_text() == url
    assert "/* vega-embed.min.js */" in (project / "o" / "index.html").read_text()
