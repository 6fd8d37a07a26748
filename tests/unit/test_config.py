"""DVC config levels, bale's own settings, and agreement with ``dvc config``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bale.config import Config
from bale.exceptions import ConfigError
from tests import dvcfork


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Isolated system/global config dirs and a repo with ``.dvc/``; cwd = repo root."""
    dirs = {"system": tmp_path / "sys", "global": tmp_path / "glob", "repo": tmp_path / "repo"}
    for d in dirs.values():
        d.mkdir()
    (dirs["repo"] / ".dvc").mkdir()
    monkeypatch.setenv("DVC_SYSTEM_CONFIG_DIR", str(dirs["system"]))
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(dirs["global"]))
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.chdir(dirs["repo"])
    return dirs


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def test_merge_order_and_origin(env: dict[str, Path]) -> None:
    dvc = env["repo"] / ".dvc"
    _write(env["system"] / "config", "[core]\n    remote = sys\n    autostage = true\n")
    _write(env["global"] / "config", "[core]\n    remote = glob\n[cache]\n    type = copy\n")
    _write(dvc / "config", '[core]\n    remote = repo\n[remote "Repo"]\n    url = /r\n')
    _write(dvc / "config.local", "[core]\n    REMOTE = Local\n")
    cfg = Config.load(dvc)
    assert cfg.get("core.remote") == "Local"  # stored as written; dvc lower-cases on use
    assert cfg.core_remote() == "local"
    assert cfg.origin("core.remote") == dvc / "config.local"
    assert cfg.get("core.remote", level="global") == "glob"
    assert cfg.origin("cache.type") == env["global"] / "config"
    assert cfg.core_autostage() is True
    assert cfg.cache_types() == ["copy"]
    assert cfg.get("remote.repo.url") == "/r"  # section names are lower-cased too
    assert cfg.get("core.no_scm") is None and cfg.core_no_scm() is False
    assert cfg.items("local") == [("core.remote", "Local")]
    assert ("core.remote", "sys") in cfg.items()


def test_defaults(env: dict[str, Path]) -> None:
    cfg = Config.load(env["repo"] / ".dvc")
    assert cfg.cache_dir(env["repo"]) == env["repo"] / ".dvc" / "cache"
    assert cfg.cache_types() == ["reflink", "copy"]
    assert cfg.cache_shared() is None
    assert cfg.checksum_jobs() is None
    assert cfg.hash_algorithm() == "md5"
    assert cfg.jobs() is None
    assert cfg.core_remote() is None
    assert Config.load(None).get("core.remote") is None


def test_relative_paths_resolve_against_their_file(env: dict[str, Path]) -> None:
    dvc = env["repo"] / ".dvc"
    _write(
        dvc / "config", "[cache]\n    dir = ../../shared\n['remote \"r\"']\n    url = ../../r1\n"
    )
    _write(env["global"] / "config", "[cache]\n    shared = group\n")
    cfg = Config.load(dvc)
    parent = env["repo"].parent
    assert cfg.resolved_path("cache.dir") == str(parent / "shared")
    assert cfg.get("cache.dir") == str(parent / "shared")
    assert cfg.get_raw("cache.dir") == "../../shared"
    assert cfg.cache_dir(env["repo"]) == parent / "shared"
    assert cfg.resolved_path("remote.r.url") == str(parent / "r1")
    assert cfg.cache_shared() == "group"


def test_set_relative_path_from_cwd(env: dict[str, Path]) -> None:
    dvc = env["repo"] / ".dvc"
    cfg = Config.load(dvc)
    cfg.set("cache.dir", "../shared-cache")
    cfg.set("remote.myremote.url", "../remote1")
    cfg.set("remote.s3r.url", "s3://bucket/path")
    cfg.set("remote.home.url", "~/store")
    assert (dvc / "config").read_text() == (
        "[cache]\n    dir = ../../shared-cache\n"
        "['remote \"myremote\"']\n    url = ../../remote1\n"
        "['remote \"s3r\"']\n    url = s3://bucket/path\n"
        "['remote \"home\"']\n    url = ~/store\n"
    )
    sub = env["repo"] / "sub"
    sub.mkdir()
    os.chdir(sub)
    cfg.set("cache.dir", "cache2")
    assert Config.load(dvc).get_raw("cache.dir") == "../sub/cache2"


def test_refuses_unknown_keys_and_bad_values(env: dict[str, Path]) -> None:
    dvc = env["repo"] / ".dvc"
    cfg = Config.load(dvc)
    with pytest.raises(ConfigError, match=r"^\.dvc/config: unknown key 'core\.foo'$"):
        cfg.set("core.foo", "1")
    with pytest.raises(ConfigError, match="unknown section 'mysection'"):
        cfg.set("mysection.x", "1")
    with pytest.raises(ConfigError, match=r"cache\.type.*Unsupported cache type"):
        cfg.set("cache.type", "foo")
    with pytest.raises(ConfigError, match="has no 'url'"):
        cfg.set("remote.r.jobs", "4")
    cfg.set("remote.r.url", "s3://b/p")
    cfg.set("remote.r.region", "eu-west-1")  # an s3 key on an s3 remote
    with pytest.raises(ConfigError, match=r"unknown key 'remote\.r\.shared'"):
        cfg.set("remote.r.shared", "group")  # a local-remote key on an s3 remote
    with pytest.raises(ConfigError, match="expected true or false"):
        cfg.set("core.autostage", "yes")
    with pytest.raises(ConfigError, match="Unsupported URL type"):
        cfg.set("remote.z.url", "foo://x/y")
    assert (dvc / "config").read_text() == (
        "['remote \"r\"']\n    url = s3://b/p\n    region = eu-west-1\n"
    )


def test_reading_errors(env: dict[str, Path]) -> None:
    dvc = env["repo"] / ".dvc"
    _write(dvc / "config", "[core]\n    foo = 1\n")
    with pytest.raises(ConfigError, match=r"^\.dvc/config: unknown key 'core\.foo'$"):
        Config.load(dvc)
    # `dvc config` itself reads without validation so the key can be removed again
    cfg = Config.load(dvc, validate=False)
    cfg.unset("core.foo")
    Config.load(dvc)
    _write(dvc / "config", "[core]\n    remote = x\nnot a line\n")
    with pytest.raises(ConfigError, match=r"^\.dvc/config: line 3: Invalid line"):
        Config.load(dvc)
    _write(dvc / "config", "[cache]\n    type = foo\n")
    with pytest.raises(ConfigError, match=r"^\.dvc/config: bad value for 'cache\.type'"):
        Config.load(dvc)
    _write(dvc / "config", "[cache]\n    type = reflink,copy\n")  # configobj list
    assert Config.load(dvc).cache_types() == ["reflink", "copy"]
    _write(dvc / "config", '[remote "x"]\n    url = /a\n    bogus_opt = 1\n')
    with pytest.raises(ConfigError, match=r"unknown key 'remote\.x\.bogus_opt'"):
        Config.load(dvc)


def test_bale_keys_routed_to_bale_conf(env: dict[str, Path]) -> None:
    dvc = env["repo"] / ".dvc"
    cfg = Config.load(dvc)
    cfg.set("core.hash", "blake3")
    cfg.set("core.jobs", "8", level="local")
    cfg.set("core.remote", "r")
    assert (dvc / "bale.conf").read_text() == "[core]\n    hash = blake3\n"
    assert (dvc / "bale.conf.local").read_text() == "[core]\n    jobs = 8\n"
    assert (dvc / "config").read_text() == "[core]\n    remote = r\n"
    cfg = Config.load(dvc)
    assert cfg.hash_algorithm() == "blake3"
    assert cfg.jobs() == 8
    assert cfg.origin("core.hash") == dvc / "bale.conf"
    assert cfg.origin("core.jobs") == dvc / "bale.conf.local"
    with pytest.raises(ConfigError, match="md5, blake3"):
        cfg.set("core.hash", "sha1")
    with pytest.raises(ConfigError, match="bale setting"):
        cfg.set("core.hash", "md5", level="global")
    cfg.unset("core.hash")
    assert Config.load(dvc).hash_algorithm() == "md5"
    with pytest.raises(ConfigError, match="doesn't exist"):
        cfg.unset("core.hash")
    _write(dvc / "bale.conf", "[core]\n    colour = red\n")
    with pytest.raises(ConfigError, match=r"bale\.conf: unknown key 'core\.colour'"):
        Config.load(dvc)


def test_bale_remote_options_live_in_bale_conf(env: dict[str, Path]) -> None:
    dvc = env["repo"] / ".dvc"
    cfg = Config.load(dvc)
    cfg.set("remote.s3r.url", "s3://bucket/prefix")
    cfg.set("remote.s3r.part_size", "8388608")
    cfg.set("remote.s3r.retries", "3", level="local")
    assert (dvc / "config").read_text() == "['remote \"s3r\"']\n    url = s3://bucket/prefix\n"
    assert "part_size = 8388608" in (dvc / "bale.conf").read_text()
    assert "retries = 3" in (dvc / "bale.conf.local").read_text()
    items = dict(Config.load(dvc).items())
    assert items["remote.s3r.part_size"] == "8388608" and items["remote.s3r.retries"] == "3"
    with pytest.raises(ConfigError, match="at least"):
        cfg.set("remote.s3r.part_size", "1024")
    cfg.unset("remote.s3r.part_size")
    assert "s3r" not in (dvc / "bale.conf").read_text()


def test_set_keeps_other_content_and_unset(env: dict[str, Path]) -> None:
    dvc = env["repo"] / ".dvc"
    _write(dvc / "config", '[core]\n    autostage = true\n[remote "a"]\n    url = ../x/../y\n')
    cfg = Config.load(dvc)
    cfg.set("core.remote", "a")
    # same layout dvc writes: quoted named sections last, relative paths normalized
    assert (dvc / "config").read_text() == (
        "[core]\n    autostage = true\n    remote = a\n['remote \"a\"']\n    url = ../y\n"
    )
    cfg.unset("core.autostage")
    cfg.unset("core.remote")
    assert (dvc / "config").read_text() == "['remote \"a\"']\n    url = ../y\n"
    with pytest.raises(ConfigError, match="doesn't exist"):
        cfg.unset("core.remote")
    assert not list(dvc.glob(".*tmp"))


# -- oracle: dvc itself -----------------------------------------------------


def _dvc(repo: Path, *args: str) -> str:
    proc = dvcfork.run(args, repo)  # forked from a process that has imported dvc
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def dvc_repo(env: dict[str, Path]) -> Path:
    if shutil.which("dvc") is None or shutil.which("git") is None:
        pytest.skip("dvc and git are needed")
    repo = env["repo"]
    shutil.rmtree(repo / ".dvc")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True)
    return repo


@pytest.mark.interop
def test_dvc_accepts_what_we_write(dvc_repo: Path) -> None:
    dvc = dvc_repo / ".dvc"
    cfg = Config.load(dvc)
    cfg.set("core.remote", "myremote")
    cfg.set("cache.type", "hardlink,symlink")
    cfg.set("cache.dir", "../shared-cache")
    cfg.set("remote.myremote.url", "../remote1")
    cfg.set("remote.myremote.jobs", "8")
    cfg.set("remote.s3r.url", "s3://mybucket/dvcstore")
    cfg.set("remote.s3r.endpointurl", "http://127.0.0.1:9000")
    cfg.set("core.autostage", "true", level="local")
    cfg.set("core.hash", "blake3")  # must not leak into dvc's files
    cfg.set("remote.s3r.part_size", "8388608")  # nor bale's remote options
    listed = _dvc(dvc_repo, "config", "-l").splitlines()
    ours = [
        f"{k}={v}"
        for k, v in Config.load(dvc).items()
        if k not in ("core.hash", "remote.s3r.part_size")
    ]
    assert listed == ours
    assert "cache.dir=" + str(dvc_repo.parent / "shared-cache") in listed
    assert "remote.myremote.url=" + str(dvc_repo.parent / "remote1") in listed
    # byte-identical with what dvc itself writes for the same settings
    ours_text = (dvc / "config").read_text()
    (dvc / "config").write_text("")
    _dvc(dvc_repo, "remote", "add", "-d", "myremote", "../remote1")
    _dvc(dvc_repo, "config", "cache.type", "hardlink,symlink")
    _dvc(dvc_repo, "config", "cache.dir", "../shared-cache")
    _dvc(dvc_repo, "remote", "modify", "myremote", "jobs", "8")
    _dvc(dvc_repo, "remote", "add", "s3r", "s3://mybucket/dvcstore")
    _dvc(dvc_repo, "remote", "modify", "s3r", "endpointurl", "http://127.0.0.1:9000")
    dvc_text = (dvc / "config").read_text()
    assert dvc_text == ours_text
    assert "hash" not in ours_text
    assert (dvc / "bale.conf").read_text().startswith("[core]\n    hash = blake3\n")


@pytest.mark.interop
def test_we_read_what_dvc_writes(dvc_repo: Path) -> None:
    dvc = dvc_repo / ".dvc"
    _dvc(dvc_repo, "remote", "add", "-d", "MyRemote", "../remote1")
    _dvc(dvc_repo, "remote", "modify", "myremote", "jobs", "8")
    _dvc(dvc_repo, "remote", "add", "h", "https://example.com/store")
    _dvc(dvc_repo, "remote", "modify", "h", "auth", "basic")
    _dvc(dvc_repo, "config", "cache.shared", "group")
    _dvc(dvc_repo, "config", "core.checksum_jobs", "3")
    _dvc(dvc_repo, "config", "--local", "cache.type", "reflink,copy")
    _dvc(dvc_repo, "config", "--global", "core.check_update", "false")
    cfg = Config.load(dvc)
    assert cfg.core_remote() == "myremote"
    assert cfg.get("remote.myremote.jobs") == "8"
    assert cfg.resolved_path("remote.myremote.url") == str(dvc_repo.parent / "remote1")
    assert cfg.get("remote.h.auth") == "basic"
    assert cfg.cache_shared() == "group"
    assert cfg.checksum_jobs() == 3
    assert cfg.cache_types() == ["reflink", "copy"]
    assert cfg.origin("cache.type") == dvc / "config.local"
    listed = _dvc(dvc_repo, "config", "-l").splitlines()
    assert listed == [f"{k}={v}" for k, v in cfg.items()]
    with_origin = _dvc(dvc_repo, "config", "-l", "--show-origin").splitlines()
    ours = []
    for level in ("system", "global", "repo", "local"):
        for k, v in cfg.items(level):
            origin = cfg.origin(k, level)
            assert origin is not None
            shown = os.path.relpath(origin, dvc_repo) if level in ("repo", "local") else origin
            ours.append(f"{shown}\t{k}={v}")
    assert with_origin == ours


def test_a_key_set_at_two_levels_keeps_each_levels_origin(env: dict[str, Path]) -> None:
    dvc = env["repo"] / ".dvc"
    _write(env["system"] / "config", "[cache]\n    type = copy\n")
    _write(dvc / "config.local", "[cache]\n    type = hardlink\n")
    cfg = Config.load(dvc)
    assert cfg.get("cache.type") == "hardlink"
    assert cfg.origin("cache.type") == dvc / "config.local"
    assert cfg.origin("cache.type", "system") == env["system"] / "config"
    assert cfg.get("cache.type", level="system") == "copy"
    # Listing every level shows both entries, as `dvc config -l` does.
    assert [kv for kv in cfg.items() if kv[0] == "cache.type"] == [
        ("cache.type", "copy"),
        ("cache.type", "hardlink"),
    ]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ann:pw@example.com/dvc", "https://ann:***@example.com/dvc"),
        ("https://ann:p@ss:w0rd@host:8080/a@b", "https://ann:***@host:8080/a@b"),
        ("s3://KEY:SECRET@bucket/p", "s3://KEY:***@bucket/p"),
        ("https://ann@example.com/dvc", "https://ann@example.com/dvc"),  # no password
        ("https://example.com/a:b@c", "https://example.com/a:b@c"),  # in the path
        ("/srv/dvc:store@x", "/srv/dvc:store@x"),  # a local path
    ],
)
def test_mask_url_hides_only_the_password(url: str, shown: str) -> None:
    from bale.redact import has_url_password, mask_url

    assert mask_url(url) == shown
    assert has_url_password(url) == (shown != url)


def test_a_config_with_a_secret_is_not_copied_into_the_parse_memo(
    env: dict[str, Path],
) -> None:
    from bale.metafiles.memo import FILE_NAME, ParseMemo

    (env["repo"] / ".dvc" / "tmp").mkdir()
    memo = ParseMemo(env["repo"] / ".dvc" / "tmp" / "bale" / FILE_NAME)
    for text in (
        "['remote \"h\"']\n    url = https://ann:s3cret@example.com/x\n",
        "['remote \"s\"']\n    url = s3://b/p\n    secret_access_key = s3cret\n",
        "[studio]\n    token = s3cret\n",
        "['remote \"plain\"']\n    url = https://example.com/x\n",  # kept: no secret
    ):
        _write(env["repo"] / ".dvc" / "config", text)
        Config.load(env["repo"] / ".dvc", memo=memo)
    memo.save()
    saved = (env["repo"] / ".dvc" / "tmp" / "bale" / "parsed.json").read_text()
    assert "s3cret" not in saved and "https://example.com/x" in saved


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (
            ["remote", "modify", "r", "password", "hunter2"],
            ["remote", "modify", "r", "password", "***"],
        ),
        (
            ["config", "remote.r.secret_access_key", "AKS"],
            ["config", "remote.r.secret_access_key", "***"],
        ),
        (["import-url", "https://u:tok@h/f", "-v"], ["import-url", "https://u:***@h/f", "-v"]),
        (["get", "x", "--config=https://a:b@c/d"], ["get", "x", "--config=https://a:***@c/d"]),
        (
            ["import-url", "gs://b/f", "--fs-config", "token=abc"],
            ["import-url", "gs://b/f", "--fs-config", "token=***"],
        ),
        (["add", "data", "model.pkl"], ["add", "data", "model.pkl"]),
        (
            ["remote", "modify", "r", "url", "s3://b/p"],
            ["remote", "modify", "r", "url", "s3://b/p"],
        ),
    ],
)
def test_mask_argv_hides_secrets_on_a_command_line(argv: list[str], shown: list[str]) -> None:
    from bale.redact import mask_argv

    assert mask_argv(argv) == shown
