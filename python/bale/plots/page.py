"""The HTML page of ``plots show/diff``: dvc-render's page (its template,
its order of plots, its image blocks), made to work offline.

dvc's page loads Vega, Vega-Lite and vega-embed from a CDN, so it draws
nothing without a network, and draws with whatever the CDN serves that day.
bale's page carries them inline (``vendor/``, where ``README.md`` says where
each file came from): the page is one file that draws anywhere, at the cost
of ~800 kB. The plots themselves, the specs dvc-render fills, are dvc's.

The other difference: each plot is drawn as SVG (vega-embed's default is a
canvas), so it stays sharp when zoomed or printed, its text can be selected,
and what was drawn can be checked in the page's DOM.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bale.plots.points import dump

if TYPE_CHECKING:
    from dvc_render.base import Renderer

VENDOR = Path(__file__).parent / "vendor"

#: The vendored scripts, in the order they must load (vega-lite and
#: vega-embed find ``vega`` as a global).
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")

#: The options every plot is embedded with.
EMBED_OPTIONS = {"renderer": "svg"}

_VEGA_DIV = """
    <div id = "{id}">
        <script type = "text/javascript">
            var spec = {spec};
            vegaEmbed('#{id}', spec, {options});
        </script>
    </div>
    """


@functools.cache
def inline_scripts() -> bytes:
    """The ``<script>`` elements that define ``vegaEmbed`` (UTF-8); read
    from the package once per process, however many plots and pages use
    them, and never decoded (800 kB)."""
    parts = []
    for name in SCRIPTS:
        data = (VENDOR / name).read_bytes()
        # the source map is not shipped: a browser's devtools would fetch it
        data = re.sub(rb"\n//# sourceMappingURL=\S+\s*$", b"\n", data)
        head = f'<script type="text/javascript">/* {name} */\n'.encode()
        parts.append(head + _script_safe(data) + b"</script>")
    return b"\n".join(parts)


def _script_safe(data: bytes) -> bytes:
    """JavaScript that cannot end the ``<script>`` element it is put in
    (``<\\/script`` is ``</script`` to JavaScript, in a string, a regular
    expression or a comment alike)."""
    return re.sub(rb"</(?=script)", rb"<\\/", data, flags=re.IGNORECASE)


def _element_id(div_id: str) -> str:
    """dvc-render's id, made safe where dvc's page breaks: dvc-render keeps
    quotes (``it's.csv`` ends the script's string), other non-ASCII-word
    punctuation and a leading digit (``'#1_loss'`` is no CSS selector, so
    ``vegaEmbed`` draws nothing); those become ``_``, and a leading digit
    or ``-`` gets a ``p`` before it. Ids dvc's page can use stay as they are."""
    safe = re.sub(r"[^\w-]", "_", div_id)
    return f"p{safe}" if not safe or not (safe[0].isalpha() or safe[0] == "_") else safe


def _vega_div(renderer: Renderer) -> Iterator[bytes]:
    # A plot without datapoints is an empty spec, that draws nothing: its
    # div is still written, as dvc-render writes it. The spec is JSON that
    # no text in a plot's data (a ``</script>`` or ``<!--`` in a CSV field)
    # can turn into HTML: ``<`` is written ``\u003c``, the same string to
    # JavaScript.
    spec = renderer.get_filled_template()
    div_id = _element_id(renderer.remove_special_chars(renderer.name))
    marker = "\0spec\0"
    html = _VEGA_DIV.format(id=div_id, spec=marker, options=json.dumps(EMBED_OPTIONS))
    before, after = html.split(marker)
    yield before.encode()
    yield from dump(spec, html_safe=True)
    yield after.encode()


def _order(renderer: Renderer) -> tuple[bool, str | None, int | None, str | None]:
    """dvc-render's order of plots on the page: Vega plots first, as given;
    then images by directory, numbered ones (``3.png``) by number."""
    if renderer.TYPE != "image":
        return (False, None, None, None)
    base = os.path.basename(renderer.name)
    stem = os.path.splitext(base)[0]
    return (True, os.path.dirname(renderer.name), int(stem) if stem.isdigit() else None, base)


def write(
    renderers: Sequence[Renderer], output_file: Path, html_template: str | None = None
) -> Path:
    """Writes the page of ``renderers`` to ``output_file``: dvc-render's
    page template, or ``html_template`` (a file, or the HTML itself) whose
    ``{plot_divs}`` takes the plots and ``{scripts}`` (if it has one) the
    inline Vega scripts."""
    from dvc_render.html import HTML, MissingPlaceholderError

    from bale.exceptions import BaleError

    page: str | None = None
    if html_template and Path(html_template).is_file():
        try:
            page = Path(html_template).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise BaleError(f"{html_template}: cannot read the HTML template: {e}") from None
    elif html_template:
        page = html_template
    # HTML checks the template's placeholders, as dvc-render does
    try:
        document = HTML(page)
    except MissingPlaceholderError as e:
        where = html_template if page is not None and page != html_template else "--html-template"
        raise BaleError(f"{where}: not a plots page template: {e}") from None
    divs: list[Iterable[bytes]] = []
    scripts = b""
    for r in sorted(renderers, key=_order):
        if r.TYPE == "vega":
            scripts = inline_scripts()
            divs.append(_vega_div(r))
        else:
            divs.append([r.generate_html(html_path=output_file).encode()])
    # One pass over the template, so that a placeholder's text inside the
    # scripts or the data is left as it is (dvc-render replaces one after
    # the other, each in what the previous one inserted).
    output_file.parent.mkdir(parents=True, exist_ok=True)
    pieces = re.split(r"\{(scripts|plot_divs|refresh_tag)\}", document.template)
    with open(output_file, "wb") as fd:
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                fd.write(piece.encode())
            elif piece == "scripts":
                fd.write(scripts)
            elif piece == "plot_divs":
                for n, div in enumerate(divs):
                    if n:
                        fd.write(b"\n")
                    fd.writelines(div)
    return output_file
