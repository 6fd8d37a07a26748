"""``import-url``, ``get-url``, ``ls-url`` and ``update`` from ``gs://``
(fake-gcs-server), ``ssh://`` (OpenSSH) and ``webdav://`` (WsgiDAV), each
checked against dvc 3.67.1 with its plugin on the same server: twin
repositories, one written by each tool, must hold the same ``.dvc`` files,
and each tool must take the other's as unchanged, then update it alike.

What dvc cannot do there is said where it matters: dvc-webdav fails to
download a single file (it roots its client at the file's own URL), so a
WebDAV file's record is compared with ``--no-download``.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from tests.integration.conftest import read_tree, write_tree
from tests.interop.conftest import Sh, copy_repo, dvc_template, sh  # noqa: F401
from tests.remotes.gcs_server import GcsServer, gcs_server  # noqa: F401
from tests.remotes.sshd import SSHServer, sshd  # noqa: F401
from tests.remotes.webdav_server import serving_webdav

pytestmark = pytest.mark.interop

UP_TO_DATE = "Data and pipelines are up to date."
# dvc-webdav records "d/s/y" as "/y" and "d/sub/t/w" as "b/t/w" (WebDAVUrl._record)
TREE = {
    "f.txt": "hello\n",
    "d/x": "x\n",
    "d/s/y": "y\n",
    "d/s/z": "z" * 3000,
    "d/sub/t/w": "w\n",
    "d/a b/\u00e9 \u65e5.txt": "names to quote\n",
}
#: what ``d`` holds, as read_tree reads it
D = {k[2:]: v.encode() for k, v in TREE.items() if k.startswith("d/")}


class Source(ABC):
    """Where the data is: a URL for each path, and a way to write there."""

    def __init__(self, tools: Sh) -> None:
        self.tools = tools

    @abstractmethod
    def url(self, rel: str) -> str: ...

    @abstractmethod
    def write(self, rel: str, data: str) -> None: ...

    def fill(self) -> None:
        for rel, data in TREE.items():
            self.write(rel, data)


class GcsSource(Source):
    def __init__(self, tools: Sh, server: GcsServer) -> None:
        super().__init__(Sh(dict(tools.env, STORAGE_EMULATOR_HOST=server.endpoint)))
        self.server = server
        self.bucket = server.new_bucket()

    def url(self, rel: str) -> str:
        return f"gs://{self.bucket}/p/{rel}".rstrip("/")

    def write(self, rel: str, data: str) -> None:
        name = quote(f"p/{rel}", safe="")
        path = f"/upload/storage/v1/b/{self.bucket}/o?uploadType=media&name={name}"
        self.server.call("POST", path, data.encode())


class FolderSource(Source):
    """A folder on this machine, served by an SSH or WebDAV server."""

    def __init__(self, tools: Sh, root: Path, base: str) -> None:
        super().__init__(tools)
        self.root = root
        self.base = base

    def url(self, rel: str) -> str:
        return f"{self.base}/{rel}".rstrip("/")

    def write(self, rel: str, data: str) -> None:
        write_tree(self.root, {rel: data})


@pytest.fixture(params=["gs", "ssh", "webdav"])
def source(request: pytest.FixtureRequest, sh: Sh, tmp_path: Path) -> Iterator[Source]:  # noqa: F811
    """A source of each kind holding :data:`TREE` under ``p/``."""
    root = tmp_path / "served" / "p"
    root.mkdir(parents=True)
    made: Source
    if request.param == "gs":
        made = GcsSource(sh, request.getfixturevalue("gcs_server"))
        made.fill()
        yield made
    elif request.param == "ssh":
        server: SSHServer = request.getfixturevalue("sshd")
        # the server's known_hosts and key: bale checks host keys, dvc-ssh does not
        env = dict(sh.env, HOME=str(server.home))
        env.pop("SSH_AUTH_SOCK", None)
        made = FolderSource(Sh(env), root, server.url(root))
        made.fill()
        yield made
    else:
        with serving_webdav(tmp_path / "served") as dav:
            made = FolderSource(sh, root, f"{dav.url}/p")
            made.fill()
            yield made


@pytest.fixture
def twins(dvc_template: Path, tmp_path: Path) -> tuple[Path, Path]:  # noqa: F811
    """Two copies of a ``git init && dvc init`` repository: dvc's and bale's."""
    return copy_repo(dvc_template, tmp_path / "dvc"), copy_repo(dvc_template, tmp_path / "bale")


def _dep(root: Path, dvcfile: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((root / dvcfile).read_text())
    return dict(data["deps"][0])


def _same(twins: tuple[Path, Path], *names: str) -> None:
    for name in names:
        assert (twins[1] / name).read_text() == (twins[0] / name).read_text(), name


def _is_webdav(source: Source) -> bool:
    return isinstance(source, FolderSource) and source.base.startswith("webdav")


def _skipped(said: str, dvcfile: str) -> None:
    assert said.strip() == f"'{dvcfile}' didn't change, skipping", said


def test_bale_records_a_file_and_a_directory_as_dvc_does_and_each_reads_the_others(
    source: Source, twins: tuple[Path, Path]
) -> None:
    tools = source.tools
    dvc_wrote, bale_wrote = twins
    # dvc-webdav cannot download a single file: both record it only
    flags = ["--no-download"] if _is_webdav(source) else []
    for args in ([*flags, source.url("f.txt")], [source.url("d")]):
        tools.dvc("import-url", *args, cwd=dvc_wrote)
        tools.bale("import-url", *args, cwd=bale_wrote)
    _same(twins, "f.txt.dvc", "d.dvc", ".gitignore")
    assert read_tree(bale_wrote / "d") == read_tree(dvc_wrote / "d")
    if not flags:
        assert (bale_wrote / "f.txt").read_text() == "hello\n"
    # Each tool recomputes the other's record and finds it unchanged (dvc's
    # status of a file recorded without its data: "deleted", in both).
    status = tools.dvc("status", cwd=dvc_wrote).stdout
    assert tools.dvc("status", cwd=bale_wrote).stdout == status
    assert (status.strip() == UP_TO_DATE) != bool(flags)
    _skipped(tools.dvc("update", "d.dvc", cwd=bale_wrote).stdout, "d.dvc")
    _skipped(tools.bale("update", "d.dvc", cwd=dvc_wrote).stderr, "d.dvc")
    if not flags:
        _skipped(tools.dvc("update", "f.txt.dvc", cwd=bale_wrote).stdout, "f.txt.dvc")
        _skipped(tools.bale("update", "f.txt.dvc", cwd=dvc_wrote).stderr, "f.txt.dvc")
    assert tools.bale("status", cwd=dvc_wrote).stdout == status


def test_a_downloaded_file_is_recorded_as_dvc_records_it_without_its_data(
    source: Source, twins: tuple[Path, Path]
) -> None:
    tools = source.tools
    tools.dvc("import-url", "--no-download", source.url("f.txt"), cwd=twins[0])
    tools.bale("import-url", source.url("f.txt"), cwd=twins[1])
    assert _dep(twins[1], "f.txt.dvc") == _dep(twins[0], "f.txt.dvc")
    tools.bale("import-url", "--no-download", source.url("f.txt"), "g.txt", cwd=twins[1])
    assert _dep(twins[1], "g.txt.dvc") == _dep(twins[0], "f.txt.dvc")
    assert not (twins[1] / "g.txt").exists()


def test_each_tool_updates_the_others_import_after_the_source_changed(
    source: Source, twins: tuple[Path, Path]
) -> None:
    tools = source.tools
    dvc_wrote, bale_wrote = twins
    tools.dvc("import-url", source.url("d"), cwd=dvc_wrote)
    tools.bale("import-url", source.url("d"), cwd=bale_wrote)
    before = _dep(bale_wrote, "d.dvc")
    source.write("d/x", "x changed\n")
    source.write("d/new", "new\n")
    tools.dvc("update", "d.dvc", cwd=bale_wrote)
    said = tools.bale("update", "d.dvc", cwd=dvc_wrote).stderr
    assert f"Importing '{source.url('d')}' -> 'd'" in said
    assert _dep(dvc_wrote, "d.dvc") != before
    _same(twins, "d.dvc")
    for root in twins:
        assert (root / "d" / "x").read_text() == "x changed\n"
        assert (root / "d" / "new").read_text() == "new\n"
    _skipped(tools.bale("update", "d.dvc", cwd=dvc_wrote).stderr, "d.dvc")


def test_get_url_copies_what_dvc_copies(source: Source, tmp_path: Path) -> None:
    tools = source.tools
    for tool in ("dvc", "bale"):
        (tmp_path / tool).mkdir()
        getattr(tools, tool)("get-url", source.url("d"), cwd=tmp_path / tool)
        getattr(tools, tool)("get-url", source.url("f.txt"), "sub/g.txt", cwd=tmp_path / tool)
    assert read_tree(tmp_path / "bale") == read_tree(tmp_path / "dvc")
    assert read_tree(tmp_path / "bale" / "d") == D


def test_ls_url_lists_what_dvc_lists(source: Source, tmp_path: Path) -> None:
    tools = source.tools
    variants = [["-R", "--size"], ["--size"], ["-R", "-L", "2"]]
    dav = _is_webdav(source)
    # dvc-webdav names the URL itself by its client's root ("" or "/"), an
    # artefact of rooting the client at the URL; bale names it by its path
    if not dav:
        variants += [["-L", "0"], ["-T", "--size"], ["-T", "-L", "1"]]
    for args in variants:
        url = source.url("")
        said = tools.bale("ls-url", *args, url, cwd=tmp_path).stdout
        assert said == tools.dvc("ls-url", *args, url, cwd=tmp_path).stdout, args
    said = tools.bale("ls-url", source.url("f.txt"), cwd=tmp_path).stdout
    if dav:
        assert said == "/p/f.txt\n"
    else:
        assert said == tools.dvc("ls-url", source.url("f.txt"), cwd=tmp_path).stdout


def test_a_missing_url_is_a_one_line_error_naming_it(
    source: Source, twins: tuple[Path, Path], tmp_path: Path
) -> None:
    tools = source.tools
    url = source.url("nope")
    for argv in (["import-url", url], ["get-url", url], ["ls-url", url]):
        p = tools.bale(*argv, cwd=twins[1], check=False)
        assert p.returncode != 0
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and url in lines[0], p.stderr
    assert not (twins[1] / "nope.dvc").exists()


def test_an_unchanged_source_is_not_downloaded_again(
    source: Source, twins: tuple[Path, Path]
) -> None:
    tools = source.tools
    repo = twins[1]
    tools.bale("import-url", source.url("d"), cwd=repo)
    text = (repo / "d.dvc").read_text()
    _skipped(tools.bale("update", "d.dvc", cwd=repo).stderr, "d.dvc")
    assert (repo / "d.dvc").read_text() == text
    # A deleted output is brought back from the cache, the record kept.
    shutil.rmtree(repo / "d")
    tools.bale("update", "d.dvc", cwd=repo)
    assert read_tree(repo / "d") == D
    assert (repo / "d.dvc").read_text() == text
    assert _dep(repo, "d.dvc")["nfiles"] == 5


def test_a_webdav_directory_dvc_would_record_with_a_file_lost_is_refused(
    sh: Sh,  # noqa: F811
    twins: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    # dvc-webdav records "a/f" and "b/f" both as "/f": one manifest entry,
    # nfiles 1 for two files. bale will not write such a record.
    write_tree(tmp_path / "served", {"c/a/f": "1\n", "c/b/f": "2\n"})
    with serving_webdav(tmp_path / "served") as dav:
        url = f"{dav.url}/c"
        sh.dvc("import-url", url, cwd=twins[0])
        assert _dep(twins[0], "c.dvc")["nfiles"] == 1
        p = sh.bale("import-url", url, cwd=twins[1], check=False)
        assert p.returncode != 0
        assert p.stderr.strip().splitlines() == [
            f"ERROR: {url}: dvc-webdav would record two of its files under one name (it "
            "drops the first two characters of each subdirectory's path), so bale cannot "
            "record it as dvc does; download it with get-url and add it instead"
        ]
        sh.bale("get-url", url, cwd=twins[1])  # reading it is fine
    assert read_tree(twins[1] / "c") == {"a/f": b"1\n", "b/f": b"2\n"}


def test_a_webdav_file_without_an_etag_is_refused_as_dvc_cannot_record_it(
    sh: Sh,  # noqa: F811
    twins: tuple[Path, Path],
) -> None:
    from aiohttp import web

    from tests.remotes.http_server import running

    async def propfind(request: web.Request) -> web.Response:
        body = (
            '<?xml version="1.0"?><multistatus xmlns="DAV:"><response>'
            f"<href>{request.path}</href><propstat><prop><resourcetype/>"
            "<getcontentlength>6</getcontentlength></prop></propstat></response></multistatus>"
        )
        return web.Response(status=207, text=body, content_type="application/xml")

    async def get(request: web.Request) -> web.Response:
        return web.Response(body=b"hello\n")

    app = web.Application()
    app.router.add_route("PROPFIND", "/{tail:.*}", propfind)
    app.router.add_get("/{tail:.*}", get)
    with running(app) as http:
        url = http.replace("http://", "webdav://") + "/f.txt"
        dvc = sh.dvc("import-url", "--no-download", url, cwd=twins[0], check=False)
        assert dvc.returncode != 0 and not (twins[0] / "f.txt.dvc").exists()
        p = sh.bale("import-url", url, cwd=twins[1], check=False)
        # nothing is recorded by get-url: it reads the file
        sh.bale("get-url", url, "got.txt", cwd=twins[1])
    assert p.returncode != 0
    assert "no ETag (getetag), so a change could not be told" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (twins[1] / "f.txt.dvc").exists() and not (twins[1] / "f.txt").exists()
    assert (twins[1] / "got.txt").read_bytes() == b"hello\n"


def test_an_ssh_directory_holding_a_symbolic_link_is_refused_not_misrecorded(
    sh: Sh,  # noqa: F811
    twins: tuple[Path, Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    server: SSHServer = request.getfixturevalue("sshd")
    tools = Sh(dict(sh.env, HOME=str(server.home)))
    root = tmp_path / "served"
    write_tree(root, {"d/a": "1\n", "target": "t\n"})
    (root / "d" / "link").symlink_to(root / "target")
    url = server.url(root / "d")
    p = tools.bale("import-url", url, cwd=twins[1], check=False)
    assert p.returncode != 0
    assert p.stderr.strip().splitlines() == [
        f"ERROR: {url}: link is a symbolic link or special file; bale imports regular files only"
    ]
    # ls-url lists it, as dvc does (a file of the link's own size)
    said = tools.bale("ls-url", "-R", url, cwd=twins[1]).stdout
    assert said == tools.dvc("ls-url", "-R", url, cwd=twins[1]).stdout


def test_a_remote_url_is_recorded_as_dvc_records_it(
    source: Source, twins: tuple[Path, Path]
) -> None:
    """``remote://r/d``: the source under a configured remote's URL, with
    the remote's options (the SSH key is found in HOME here)."""
    tools = source.tools
    for root in twins:
        tools.dvc("remote", "add", "r", source.url(""), cwd=root)
    tools.dvc("import-url", "remote://r/d", cwd=twins[0])
    tools.bale("import-url", "remote://r/d", cwd=twins[1])
    _same(twins, "d.dvc")
    assert read_tree(twins[1] / "d") == D
    _skipped(tools.dvc("update", "d.dvc", cwd=twins[1]).stdout, "d.dvc")
