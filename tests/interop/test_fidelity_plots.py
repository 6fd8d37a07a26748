"""Differential tests of ``plots show/diff/templates/modify`` against dvc 3.67.1,
on a project with every kind of plot its ``dvc.yaml`` can name: CSV, TSV, JSON
and YAML data files, a named plot joining x from one file and y from another,
a stage's cached plots output (read from the cache at a revision), a directory
of plots, and an image; committed twice with different data, then edited.

``--json`` holds each tool's absolute output directory in image URLs, so the
two copies' roots are made the same word before comparing.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import Sh, copy_repo
from tests.interop.test_dvc_differential import Result, Step, run_bale, run_dvc

pytestmark = pytest.mark.interop

GEN = "open('out.csv', 'w').write('a,b\\n1,{}\\n2,{}\\n')\n"

FILES_V1 = {
    "loss.csv": "step,loss\n0,1.0\n1,0.5\n2,0.25\n",
    "acc.json": json.dumps([{"epoch": 0, "acc": 0.5}, {"epoch": 1, "acc": 0.7}]),
    "prec.yaml": "- {recall: 0.1, precision: 0.9}\n- {recall: 0.9, precision: 0.4}\n",
    "raw.tsv": "1\t10\n2\t20\n",
    "train.json": json.dumps({"train": [{"v": 1}, {"v": 2}]}),
    "test.json": json.dumps({"test": [{"v": 1.5}, {"v": 2.5}]}),
    "curves/c1.json": json.dumps({"c": [{"x": 1, "y": 2}]}),
    "curves/c2.csv": "x,y\n1,3\n",
    "img.png": "\x89PNG one",
    # a dvc.yaml in a subdirectory: its paths are relative to it
    "sub/s.csv": "x,y\n1,2\n2,3\n",
    "sub/dvc.yaml": "plots:\n  - s.csv:\n      x: x\n  - named:\n      y: {s.csv: y}\n",
    "gen.py": GEN.replace("{}", "2", 1).replace("{}", "4"),
    "dvc.yaml": (
        "stages:\n"
        "  make:\n"
        "    cmd: python gen.py\n"
        "    deps: [gen.py]\n"
        "    plots:\n"
        "      - out.csv:\n"
        "          x: a\n"
        "          y: b\n"
        "          title: Out\n"
        "plots:\n"
        "  - loss.csv\n"
        "  - acc.json:\n"
        "      x: epoch\n"
        "      y: acc\n"
        "  - prec.yaml:\n"
        "      x: recall\n"
        "      y: precision\n"
        "      template: scatter\n"
        "  - raw.tsv:\n"
        "      y_label: value\n"
        "  - both:\n"
        "      x: {train.json: v}\n"
        "      y: {test.json: v}\n"
        "      title: Both\n"
        "  - two:\n"
        "      y:\n"
        "        train.json: v\n"
        "        test.json: [v]\n"
        "  - curves\n"
        "  - img.png\n"
    ),
}
FILES_V2 = {
    "loss.csv": "step,loss\n0,0.9\n1,0.4\n2,0.2\n",
    "acc.json": json.dumps([{"epoch": 0, "acc": 0.6}, {"epoch": 1, "acc": 0.8}]),
    "test.json": json.dumps({"test": [{"v": 1.75}, {"v": 2.75}]}),
    "img.png": "\x89PNG two",
    "gen.py": GEN.replace("{}", "3", 1).replace("{}", "9"),
}
FILES_WS = {
    "prec.yaml": "- {recall: 0.2, precision: 0.8}\n- {recall: 0.8, precision: 0.5}\n",
    # files dvc reads oddly or not at all: CRLF lines, TOML, corrupt JSON and
    # YAML, a type it does not plot (an error before it is even opened)
    "odd/crlf.csv": "x,y\r\n1,2\r\n",
    "odd/p.toml": "[[vals]]\na = 1\n[[vals]]\na = 2\n",
    "odd/bad.json": '{"a": [{"x": 1}, ',
    "odd/bad.yaml": "a: [\n",
    "odd/dvc.yaml": "plots: [crlf.csv, p.toml, bad.json, bad.yaml, nothing.txt]\n",
}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture(scope="module")
def project(sh: Sh, dvc_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_repo(dvc_template, tmp_path_factory.mktemp("fidelity-plots") / "repo")
    for files, msg in ((FILES_V1, "v1"), (FILES_V2, "v2")):
        _write(root, files)
        sh.dvc("repro", "-q", cwd=root)
        sh.git("add", "-A", cwd=root)
        sh.git("commit", "-qm", msg, cwd=root)
    _write(root, FILES_WS)
    (root / "raw.tsv").unlink()  # a plot whose file is gone: an error in the JSON
    return root


def _both(
    sh: Sh, project: Path, tmp_path: Path, steps: list[Step]
) -> tuple[list[tuple[Result, Result]], Path, Path]:
    d = copy_repo(project, tmp_path / "dvc")
    b = copy_repo(project, tmp_path / "bale")
    return list(zip(run_dvc(sh, d, steps), run_bale(sh, b, steps), strict=True)), d, b


def _rooted(doc: Any, root: Path) -> Any:
    """``doc`` with ``root`` (in image URLs) written as ``ROOT``."""
    return json.loads(json.dumps(doc).replace(str(root), "ROOT"))


def test_plots_show_and_diff_json_equal_dvcs(sh: Sh, project: Path, tmp_path: Path) -> None:
    steps: list[Step] = [
        ("plots", "show", "--json"),
        ("plots", "diff", "HEAD~1", "--json"),
        ("plots", "diff", "--json"),  # the workspace is edited: HEAD and it
        ("plots", "diff", "HEAD~1", "HEAD", "--json"),
        ("plots", "show", "acc.json", "--json"),
        ("plots", "diff", "--targets", "both", "out.csv", "--json", "HEAD~1"),
        ("plots", "show", "--json", "-x", "b", "--title", "given"),
        ("plots", "diff", "HEAD~1", "--json", "--split"),  # data beside each spec
        ("plots", "show", "acc.json", "--show-vega"),  # the one spec, filled
        # from a subdirectory, paths are named from there
        ("@sub", "plots", "show", "--json"),
        ("@sub", "plots", "diff", "HEAD~1", "--json"),
        # an experiment by name: HEAD, as if run from HEAD~1
        "b=$(git rev-parse HEAD~1); git update-ref refs/exps/${b%${b#??}}/${b#??}/myexp HEAD",
        ("plots", "diff", "-e", "myexp", "--json"),
    ]
    results, d, b = _both(sh, project, tmp_path, steps)
    shown = results[0][0].json()["data"]
    # every kind of plot is in the project, and the stage's came from the cache
    assert {"loss.csv", "both", "two", "out.csv", "curves/c1.json", "img.png"} <= set(shown)
    assert results[1][0].json()["data"]["out.csv"][0]["revisions"] == ["workspace", "HEAD~1"]
    assert sorted(e["source"] for e in results[0][0].json()["errors"]) == [
        "odd/bad.json",
        "odd/bad.yaml",
        "odd/nothing.txt",
        "raw.tsv",
    ]
    assert "../acc.json" in results[-3][0].json()["data"]
    assert results[-1][0].json()["data"]["loss.csv"][0]["revisions"][0] == "myexp"
    for step, (dr, br) in zip(steps, results, strict=True):
        assert (dr.rc, br.rc) == (0, 0), (step, dr.err, br.err)
        if isinstance(step, str):
            continue
        assert _rooted(br.json(), b) == _rooted(dr.json(), d), step
        # and byte for byte: keys in dvc's order, floats and strings as it writes them
        assert br.out.replace(str(b), "ROOT") == dr.out.replace(str(d), "ROOT"), step
        assert [x for x in br.err.splitlines() if "failed to load" in x] == [
            x.replace("DVC", "bale") for x in dr.err.splitlines() if "failed to load" in x
        ], step
    # the images the JSON points at were written, the same bytes
    for name in ("workspace_img.png", "HEAD~1_img.png", "HEAD_img.png"):
        assert (b / "dvc_plots" / name).read_bytes() == (d / "dvc_plots" / name).read_bytes()


def _page_without_vega(html: str) -> str:
    """A plots page with its Vega scripts and embed options left out, and
    its white space collapsed: dvc's loads the scripts from a CDN, bale's
    carries them inline and draws SVG; the rest must be the same."""
    html = re.sub(r'<script src="https://cdn[^"]*"></script>', "", html)
    html = re.sub(
        r'<script type="text/javascript">/\* [\w.-]+ \*/\n.*?</script>', "", html, flags=re.S
    )
    html = re.sub(r"vegaEmbed\(('#[^']*'), spec, \{[^}]*\}\);", r"vegaEmbed(\1, spec);", html)
    return re.sub(r"\s+", " ", html)


def test_plots_show_writes_dvcs_page_offline(sh: Sh, project: Path, tmp_path: Path) -> None:
    steps: list[Step] = [("plots", "diff", "HEAD~1", "-o", "page")]
    ((dr, br),), d, b = _both(sh, project, tmp_path, steps)
    assert (dr.rc, br.rc) == (0, 0), (dr.err, br.err)
    assert br.out.replace(str(b), "ROOT") == dr.out.replace(str(d), "ROOT")
    page = (b / "page" / "index.html").read_text().replace(str(b), "ROOT")
    dvc_page = (d / "page" / "index.html").read_text().replace(str(d), "ROOT")
    assert "cdn.jsdelivr.net" in dvc_page  # what bale's page does differently
    assert "<script src" not in page and page.count("/* vega.min.js */") == 1
    assert _page_without_vega(page) == _page_without_vega(dvc_page)
    assert sorted(p.name for p in (b / "page" / "static").iterdir()) == sorted(
        p.name for p in (d / "page" / "static").iterdir()
    )


def test_plots_templates_as_dvc_lists_them(sh: Sh, dvc_repo: Path) -> None:
    steps: list[Step] = [
        ("plots", "templates"),
        ("plots", "templates", "confusion"),
        ("plots", "templates", "nope"),
    ]
    (dl, bl), (dc, bc), (dn, bn) = zip(
        run_dvc(sh, dvc_repo, steps), run_bale(sh, dvc_repo, steps), strict=True
    )
    assert bl.out == dl.out and "linear" in bl.out.split()
    assert bc.json() == dc.json()
    assert (bool(bn.rc), bn.err) == (bool(dn.rc), dn.err)


def test_plots_modify_writes_dvcyaml_as_dvc_does(sh: Sh, dvc_repo: Path, tmp_path: Path) -> None:
    _write(
        dvc_repo,
        {
            "dvc.yaml": (
                "stages:\n  make:\n    cmd: echo hi  # kept\n"
                "    outs:\n      - a.csv:\n          cache: false\n          desc: data\n"
                "      - z.txt\n"
                "    plots:\n      - b.csv:\n          x: a\n          title: B\n"
            )
        },
    )
    sh.git("add", "-A", cwd=dvc_repo)
    steps: list[Step] = [
        ("plots", "modify", "a.csv", "-x", "step", "--title", "A plot"),
        ("plots", "modify", "b.csv", "--unset", "title", "-y", "val", "--no-header"),
        ("plots", "modify", "z.txt"),
        ("plots", "modify", "z.txt", "--x-label", "X", "-t", "smooth"),
        ("plots", "modify", "z.txt", "--unset", "x_label", "template"),
        ("plots", "modify", "b.csv", "--unset", "nope"),
        ("plots", "modify", "nothere", "-x", "a"),
    ]
    d = copy_repo(dvc_repo, tmp_path / "d")
    b = copy_repo(dvc_repo, tmp_path / "b")
    results = list(zip(run_dvc(sh, d, steps), run_bale(sh, b, steps), strict=True))
    for step, (dr, br) in zip(steps, results, strict=True):
        # dvc exits 255 on an error its command does not catch; bale 1 on every error
        assert bool(dr.rc) == bool(br.rc), (step, dr.err, br.err)
        assert br.out == dr.out, step
        if dr.rc:
            assert br.err.splitlines() == [dr.err.splitlines()[0]], step
    assert (b / "dvc.yaml").read_text() == (d / "dvc.yaml").read_text()
    assert "z.txt\n" in (b / "dvc.yaml").read_text()  # an emptied plot is a bare path
    shutil.rmtree(d)
    shutil.rmtree(b)


def test_a_malformed_plot_is_one_error_line_naming_dvcyaml(sh: Sh, dvc_repo: Path) -> None:
    _write(dvc_repo, {"dvc.yaml": "plots:\n  - loss.csv:\n      x: {a.csv: [f, g]}\n"})
    p = sh.bale("plots", "show", cwd=dvc_repo, check=False)
    assert p.returncode == 1
    assert p.stderr.splitlines()[-1] == (
        "ERROR: dvc.yaml: line 3, column 11: plots[0].loss.csv.x.a.csv: "
        "'x' of a file must name its field(s)"
    )
    # with --json both tools report the revision in the document instead
    for tool in (sh.bale, sh.dvc):
        doc = json.loads(tool("plots", "show", "--json", cwd=dvc_repo).stdout)
        assert [e["rev"] for e in doc["errors"]] == ["workspace"]
        assert "data" not in doc


# Outputs dvc caches, read at past revisions from the cache (not git): a
# stage's plots directory, a stage output a top-level plot names, and a
# file added with `dvc add`.
GEN_CACHED = (
    "import os\n"
    "v = int(open('v.txt').read())\n"
    "os.makedirs('cdir', exist_ok=True)\n"
    "open('cdir/a.csv', 'w').write(f'x,y\\n1,{v}\\n2,{v + 1}\\n')\n"
    "open('cdir/b.json', 'w').write(f'[{{\"x\": 1, \"y\": {v * 2}}}]')\n"
    "open('top.csv', 'w').write(f'x,y\\n1,{v * 4}\\n')\n"
)
CACHED_DVCYAML = (
    "stages:\n"
    "  gen:\n"
    "    cmd: python gen.py\n"
    "    deps: [gen.py, v.txt]\n"
    "    outs: [top.csv]\n"
    "    plots:\n"
    "      - cdir:\n"
    "          x: x\n"
    "          y: y\n"
    "plots:\n"
    "  - top.csv:\n"
    "      x: x\n"
    "  - added.csv\n"
)


def test_cached_outputs_are_plotted_from_the_cache_at_a_revision(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    root = copy_repo(dvc_template, tmp_path / "cached" / "repo")
    _write(root, {"gen.py": GEN_CACHED, "dvc.yaml": CACHED_DVCYAML})
    for v in (1, 2):
        _write(root, {"v.txt": f"{v}\n", "added.csv": f"step,n\n0,{v}\n1,{v * 5}\n"})
        sh.dvc("repro", "-q", cwd=root)
        sh.dvc("add", "-q", "added.csv", cwd=root)
        sh.git("add", "-A", cwd=root)
        sh.git("commit", "-qm", f"v{v}", cwd=root)
    steps: list[Step] = [
        ("plots", "diff", "HEAD~1", "HEAD", "--json"),
        ("plots", "diff", "HEAD~1", "--json"),
        ("plots", "diff", "HEAD~1", "HEAD", "--targets", "cdir", "--json"),
        # the workspace's outputs deleted: read from the cache too
        "rm -rf cdir top.csv added.csv",
        ("plots", "show", "--json"),
    ]
    results, _d, _b = _both(sh, root, tmp_path / "with", steps)
    first = results[0][0].json()["data"]
    assert {"cdir/a.csv", "cdir/b.json", "top.csv", "added.csv"} <= set(first)
    assert first["top.csv"][0]["revisions"] == ["HEAD~1", "HEAD"]
    assert {"cdir/a.csv", "top.csv", "added.csv"} <= set(results[-1][0].json()["data"])
    # Without the cache, dvc names the files it could not read and leaves
    # out the directory it cannot list (in fresh copies: dvc keeps listings
    # of directories it has read in its site cache, and would use them).
    steps += ["rm -rf .dvc/cache", ("plots", "diff", "HEAD~1", "HEAD", "--json")]
    more, _d, _b = _both(sh, root, tmp_path / "without", steps[-2:])
    assert {e["source"] for e in more[-1][0].json()["errors"]} == {"top.csv", "added.csv"}
    for step, (dr, br) in zip(steps, results + more, strict=True):
        assert (dr.rc, br.rc) == (0, 0), (step, dr.err, br.err)
        if not isinstance(step, str):
            assert br.json() == dr.json(), step
