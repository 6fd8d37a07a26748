"""The plots page as a file: Vega inline and nothing fetched, the vendored
scripts read once and shipped in the wheel, and plot data that cannot break
out of its ``<script>``. (Whether it draws: tests/integration/test_plots_browser.py.)"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from dvc_render import ImageRenderer, VegaRenderer

from bale.exceptions import BaleError
from bale.plots import page

ROOT = Path(__file__).resolve().parents[2]


def _vega(name: str, values: list[dict[str, object]]) -> VegaRenderer:
    points = [{**v, "rev": "workspace", "filename": name, "field": "y"} for v in values]
    return VegaRenderer(points, name, x="x", y="y")


def _specs(html: str) -> dict[str, object]:
    found = re.findall(r"var spec = (.*);\n\s*vegaEmbed\('#([^']*)', spec, (.*)\);", html)
    assert all(json.loads(opts) == page.EMBED_OPTIONS for _s, _i, opts in found)
    return {div: json.loads(spec) for spec, div, _o in found}


def test_the_page_carries_vega_inline_and_loads_nothing(tmp_path: Path) -> None:
    out = page.write([_vega("a.csv", [{"x": 1, "y": 2}])], tmp_path / "p" / "index.html")
    html = out.read_text()
    assert "<script src" not in html.replace(" ", "") and "cdn." not in html
    assert "sourceMappingURL" not in html  # a browser's devtools would fetch the map
    for version in ('version="5.30.0"', '"5.20.1"', '"6.26.0"'):  # vega, vega-lite, vega-embed
        assert version in html
    assert list(_specs(html)) == ["a_csv"]


def test_the_vendored_scripts_are_read_once(tmp_path: Path) -> None:
    page.inline_scripts()
    before = page.inline_scripts.cache_info()
    plots = [_vega(f"{i}.csv", [{"x": i, "y": i}]) for i in range(3)]
    for n in range(2):
        html = page.write(plots, tmp_path / f"{n}.html").read_text()
        assert html.count("/* vega.min.js */") == 1
    after = page.inline_scripts.cache_info()
    assert after.misses == before.misses


def test_data_cannot_end_its_script_element(tmp_path: Path) -> None:
    evil = "</script><script>alert(1)</script><!-- {plot_divs} {scripts}"
    out = page.write([_vega("a.csv", [{"x": evil, "y": 1}])], tmp_path / "index.html")
    html = out.read_text()
    assert "</script><script>alert" not in html and "<!--" not in html
    spec = _specs(html)["a_csv"]
    assert isinstance(spec, dict) and spec["data"]["values"][0]["x"] == evil
    # the placeholders' text in the data was not replaced
    assert html.count("/* vega.min.js */") == 1


def test_images_come_after_vega_plots_as_dvc_orders_them(tmp_path: Path) -> None:
    img = ImageRenderer([{"rev": "workspace", "src": str(tmp_path / "s" / "i.png")}], "i.png")
    out = page.write([img, _vega("a.csv", [{"x": 1, "y": 2}])], tmp_path / "index.html")
    html = out.read_text()
    assert html.index('id = "a_csv"') < html.index('id="i_png"')
    assert '<img src="s/i.png">' in html  # relative to the page, as dvc-render writes it


def test_a_page_of_images_alone_has_no_scripts(tmp_path: Path) -> None:
    img = ImageRenderer([{"rev": "workspace", "src": "data:image;base64,AA=="}], "i.png")
    assert "<script" not in page.write([img], tmp_path / "index.html").read_text()


def test_a_users_template_gets_the_scripts_where_it_asks(tmp_path: Path) -> None:
    tpl = tmp_path / "t.html"
    tpl.write_text("<html><head>{scripts}</head><body><h1>Mine</h1>{plot_divs}</body></html>")
    html = page.write([_vega("a.csv", [{"x": 1, "y": 2}])], tmp_path / "o.html", str(tpl))
    text = html.read_text()
    assert text.startswith("<html><head><script") and "<h1>Mine</h1>" in text
    assert list(_specs(text)) == ["a_csv"]
    with pytest.raises(BaleError, match=r"^--html-template: not a plots page template"):
        page.write([], tmp_path / "o.html", "<html></html>")


def test_the_vendored_files_ship_in_the_wheel() -> None:
    # maturin puts every file of python/bale in the wheel that .gitignore
    # does not name: a pattern that caught these would drop them silently.
    names = [*page.SCRIPTS, "LICENSE-vega", "LICENSE-vega-lite", "LICENSE-vega-embed"]
    paths = [page.VENDOR / n for n in names]
    assert all(p.is_file() for p in paths)
    assert all("Redistribution and use in source" in p.read_text() for p in paths[3:])
    rel = [str(p.relative_to(ROOT)) for p in paths]
    ignored = subprocess.run(
        ["git", "check-ignore", *rel], cwd=ROOT, capture_output=True, text=True
    )
    assert ignored.returncode == 1, ignored.stdout  # 1: none of them is ignored


def test_an_element_id_dvcs_page_would_break_on_is_made_safe() -> None:
    from bale.plots.page import _element_id

    assert _element_id("dvc_yaml__loss_csv") == "dvc_yaml__loss_csv"  # dvc's, as it is
    assert _element_id("it's\"x-y") == "it_s_x-y"
    assert _element_id("1_loss_csv") == "p1_loss_csv"
    assert _element_id("") == "p"
    assert _element_id("précision_csv") == "précision_csv"


def test_a_template_without_the_plots_placeholder_is_one_clear_error(tmp_path: Path) -> None:
    from bale.exceptions import BaleError
    from bale.plots.page import write

    template = tmp_path / "t.html"
    template.write_text("<html>nothing to fill</html>")
    with pytest.raises(BaleError, match=r"t\.html: not a plots page template: .*plot_divs"):
        write([], tmp_path / "out" / "index.html", str(template))
    assert not (tmp_path / "out").exists()


def test_a_script_cannot_end_its_element_early() -> None:
    js = b'var s = "</SCRIPT><b>"; /* </script */'
    assert page._script_safe(js) == b'var s = "<\\/SCRIPT><b>"; /* <\\/script */'
    # the three elements' own closing tags, and no other
    assert page.inline_scripts().lower().count(b"</script") == len(page.SCRIPTS)
