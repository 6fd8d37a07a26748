"""Where an S3 remote's credentials come from: botocore's whole chain, each
provider reached through its real client code, with only the endpoint local
(instance metadata, container credentials and SSO served by small aiohttp
apps, STS by moto's server, credential_process by scripts), and the keys a
store signs with checked against real servers where they can be."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiohttp import web

from bale.remotes import aws
from bale.remotes.aws import resolve_aws
from bale.remotes.errors import RemoteAuthError, RemoteConfigError
from bale.remotes.s3 import S3Store
from tests.remotes.http_server import running
from tests.remotes.seaweed import start_seaweed

NO_FILES = {"AWS_SHARED_CREDENTIALS_FILE": "absent", "AWS_CONFIG_FILE": "absent"}


@pytest.fixture(autouse=True)
def clean_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No AWS setting of the machine's, no credentials resolved by an
    earlier test; HOME (where ``~/.aws`` is) is a temp folder."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "ECS_")) and name != "AWS_EC2_METADATA_DISABLED":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    aws._RESOLVED.clear()
    yield home
    aws._RESOLVED.clear()


def _expiry(seconds: float) -> str:
    when = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _keys(name: str, options: dict[str, str]) -> tuple[str, str]:
    got = resolve_aws(name, options)
    keys = got.keys()
    assert keys is not None
    return keys.access_key, got.source


def test_credentials_follow_dvc_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "credentials"
    creds.write_text(
        "[default]\naws_access_key_id = DEF\naws_secret_access_key = s1\n"
        "[team]\naws_access_key_id = TEAM\naws_secret_access_key = s2\naws_session_token = t\n"
    )
    config = tmp_path / "config"
    config.write_text("[profile team]\nregion = eu-west-3\n")
    files = {"credentialpath": str(creds), "configpath": str(config)}

    got = resolve_aws("r", {"access_key_id": "OPT", "secret_access_key": "s0", **files})
    assert (got.keys(), got.region) == (aws.Keys("OPT", "s0", None), "us-east-1")
    assert got.source.startswith("access_key_id in the remote's config")

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3")
    assert _keys("r", files) == ("ENV", "environment AWS_ACCESS_KEY_ID")
    got = resolve_aws("r", {**files, "profile": "team"})  # a named profile beats env
    assert got.keys() == aws.Keys("TEAM", "s2", "t")
    assert (got.source, got.region) == (f"profile 'team' in {creds}", "eu-west-3")
    assert "s2" not in repr(got) + repr(got.keys()) and "'t'" not in repr(got.keys())

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    assert _keys("r", files) == ("DEF", f"profile 'default' in {creds}")
    monkeypatch.setenv("AWS_PROFILE", "team")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    got = resolve_aws("r", files)
    assert (got.source, got.region) == (f"profile 'team' in {creds}", "ap-south-1")


def test_a_named_profile_that_does_not_exist_is_an_error_even_with_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dvc 3.67.1 + dvc-s3 (botocore): "The config profile (nope) could not be
    # found", whether or not keys are set too, for the option and AWS_PROFILE alike
    creds = tmp_path / "credentials"
    creds.write_text("[team]\naws_access_key_id = TEAM\naws_secret_access_key = s2\n")
    config = tmp_path / "config"
    config.write_text("[profile cfg]\nregion = eu-west-3\n")
    files = {"credentialpath": str(creds), "configpath": str(config)}
    keys = {"access_key_id": "OPT", "secret_access_key": "s0"}
    named = f"is in neither {creds} nor {config}"
    for options, env, source in [
        ({**files, "profile": "nope"}, {}, "the remote's option 'profile'"),
        ({**files, **keys, "profile": "nope", "region": "x"}, {}, "the remote's option 'profile'"),
        ({**files, **keys}, {"AWS_PROFILE": "nope"}, "AWS_PROFILE"),
        (
            files,
            {"AWS_ACCESS_KEY_ID": "E", "AWS_SECRET_ACCESS_KEY": "s", "AWS_PROFILE": "nope"},
            "AWS_PROFILE",
        ),
    ]:
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            with pytest.raises(RemoteConfigError) as e:
                resolve_aws("r", options)
        assert str(e.value) == f"remote 'r': AWS profile 'nope' (from {source}) {named}"
    # keys set beside an existing profile are used, as in dvc
    got = resolve_aws("r", {**files, **keys, "profile": "cfg"})
    assert (got.keys(), got.region) == (aws.Keys("OPT", "s0", None), "eu-west-3")
    # a named profile without keys: dvc fails with "Unable to locate credentials"
    with pytest.raises(RemoteAuthError, match=r"^remote 'r': no AWS credentials found .*'cfg'"):
        resolve_aws("r", {**files, "profile": "cfg"})


def test_no_credentials_is_an_error_unless_anonymous_access_is_allowed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for k, v in NO_FILES.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(RemoteAuthError) as e:
        resolve_aws("r", {"region": "eu-west-1"})
    assert str(e.value).startswith("remote 'r': no AWS credentials found (not in the remote's")
    assert "\n" not in str(e.value)
    monkeypatch.setattr("bale.console._verbose", True)
    got = resolve_aws("r", {"allow_anonymous_login": "true"})
    assert got.anonymous and got.keys() is None
    err = capsys.readouterr().err
    assert err == (
        "DEBUG: remote 'r': AWS credentials: no credentials: anonymous "
        "(allow_anonymous_login); region us-east-1\n"
    )


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_credential_process_and_its_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _script(
        tmp_path / "good",
        "import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'PROC', "
        "'SecretAccessKey': 'proc-secret'}))\n",
    )
    bad = _script(
        tmp_path / "bad",
        "import sys\nsys.stderr.write('token expired, run sso login\\n')\nsys.exit(3)\n",
    )
    config = tmp_path / "config"
    config.write_text(
        f"[profile p]\ncredential_process = {good}\n[profile broken]\ncredential_process = {bad}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert _keys("r", {"profile": "p"}) == ("PROC", "credential_process of profile 'p'")
    with pytest.raises(RemoteAuthError) as e:
        resolve_aws("r", {"profile": "broken"})
    message = str(e.value)
    assert message.startswith("remote 'r': cannot get AWS credentials: ")
    assert "token expired" in message and "\n" not in message


def _imds_app(calls: list[str], keys: dict[str, str]) -> web.Application:
    """EC2's instance metadata service, IMDSv2: a token first, then the role's credentials."""
    token = uuid.uuid4().hex

    async def put_token(request: web.Request) -> web.Response:
        calls.append("token")
        assert request.headers["X-aws-ec2-metadata-token-ttl-seconds"]
        return web.Response(text=token)

    def check(request: web.Request) -> None:
        if request.headers.get("X-aws-ec2-metadata-token") != token:
            raise web.HTTPUnauthorized()

    async def roles(request: web.Request) -> web.Response:
        check(request)
        return web.Response(text="data-role")

    async def role(request: web.Request) -> web.Response:
        check(request)
        calls.append(request.match_info["name"])
        body = {
            "Code": "Success",
            "Type": "AWS-HMAC",
            "AccessKeyId": keys["key"],
            "SecretAccessKey": keys["secret"],
            "Token": keys["token"],
            "Expiration": _expiry(6 * 3600),
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_put("/latest/api/token", put_token)
    app.router.add_get("/latest/meta-data/iam/security-credentials/", roles)
    app.router.add_get("/latest/meta-data/iam/security-credentials/{name}", role)
    return app


def test_instance_metadata_v2_resolved_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    keys = {"key": "ASIAIMDS", "secret": "imds-secret", "token": "imds-token"}
    with running(_imds_app(calls, keys)) as url:
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "false")
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url + "/")
        for k, v in NO_FILES.items():
            monkeypatch.setenv(k, v)
        first = resolve_aws("r", {"region": "eu-west-1"})
        again = resolve_aws("r", {"region": "eu-west-1"})
    assert first is again
    assert first.keys() == aws.Keys("ASIAIMDS", "imds-secret", "imds-token")
    assert first.source == "EC2 instance metadata"
    assert calls == ["token", "data-role"]


def test_container_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    async def creds(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        body = {
            "AccessKeyId": "ASIAECS",
            "SecretAccessKey": "ecs-secret",
            "Token": "ecs-token",
            "Expiration": _expiry(6 * 3600),
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/v2/credentials", creds)
    with running(app) as url:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url + "/v2/credentials")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-token")
        for k, v in NO_FILES.items():
            monkeypatch.setenv(k, v)
        got = resolve_aws("r", {})
    assert got.keys() == aws.Keys("ASIAECS", "ecs-secret", "ecs-token")
    assert got.source == "container credentials (ECS / EKS pod identity)"
    assert seen == ["pod-token"]


def test_sso_from_the_token_cache(clean_aws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.credentials

    start_url = "https://example.awsapps.com/start"
    cache = clean_aws / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    # botocore fixes ~/.aws/sso/cache when it is imported, before HOME moved
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    token = {"startUrl": start_url, "region": "us-east-1", "accessToken": "sso-access"}
    token["expiresAt"] = _expiry(3600)
    (cache / (hashlib.sha1(start_url.encode()).hexdigest() + ".json")).write_text(json.dumps(token))
    config = clean_aws / "config"
    config.write_text(
        f"[profile sso]\nsso_start_url = {start_url}\nsso_region = us-east-1\n"
        "sso_account_id = 123456789012\nsso_role_name = Data\nregion = eu-north-1\n"
    )
    asked: list[tuple[str, str, str]] = []

    async def role_credentials(request: web.Request) -> web.Response:
        q = request.query
        asked.append((q["role_name"], q["account_id"], request.headers["x-amz-sso_bearer_token"]))
        expiration = int((time.time() + 3600) * 1000)
        body = {
            "roleCredentials": {
                "accessKeyId": "ASIASSO",
                "secretAccessKey": "sso-secret",
                "sessionToken": "sso-token",
                "expiration": expiration,
            }
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/federation/credentials", role_credentials)
    with running(app) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", url)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        got = resolve_aws("r", {"profile": "sso"})
    assert got.keys() == aws.Keys("ASIASSO", "sso-secret", "sso-token")
    assert (got.source, got.region) == ("AWS SSO (profile 'sso')", "eu-north-1")
    assert asked == [("Data", "123456789012", "sso-access")]


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """moto's server on loopback: STS (AssumeRole, AssumeRoleWithWebIdentity) and S3."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _store_round_trip(name: str, options: dict[str, str], tmp_path: Path) -> bytes:
    """Puts a file through an S3Store and gets it back: every request signed
    with the resolved keys, session token included."""
    src = tmp_path / "src"
    src.write_bytes(b"signed with assumed keys")

    async def main() -> bytes:
        store = S3Store(name, "s3://creds/p", options, jobs=2)
        try:
            await store.put(src, "k")
            return await store.read_small("k", 1024) or b""
        finally:
            await store.close()

    return asyncio.run(main())


def test_assume_role_and_web_identity_through_sts(
    moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client(
        "s3",
        endpoint_url=moto,
        aws_access_key_id="a",
        aws_secret_access_key="b",
        region_name="us-east-1",
    ).create_bucket(Bucket="creds")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto)
    creds = tmp_path / "credentials"
    creds.write_text("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = base-secret\n")
    config = tmp_path / "config"
    config.write_text(
        "[profile data]\nrole_arn = arn:aws:iam::123456789012:role/data\nsource_profile = base\n"
    )
    files = {"credentialpath": str(creds), "configpath": str(config)}
    got = resolve_aws("r", {**files, "profile": "data"})
    keys = got.keys()
    assert keys is not None and keys.access_key != "AKIABASE" and keys.session_token
    assert got.source == "an assumed role (role_arn of profile 'data')"
    options = {**files, "profile": "data", "endpointurl": moto}
    assert _store_round_trip("r", options, tmp_path) == b"signed with assumed keys"

    aws._RESOLVED.clear()
    token = tmp_path / "web-identity-token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/pod")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    for k, v in NO_FILES.items():
        monkeypatch.setenv(k, v)
    got = resolve_aws("r", {})
    keys = got.keys()
    assert keys is not None and keys.session_token
    assert got.source.startswith("web identity")


def test_expiring_credentials_are_refreshed_during_a_transfer(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """credential_process hands out a new key pair each time, each near its
    expiry; a push of many objects refreshes them in the background and
    signs with the new ones, against a server that knows every pair."""
    pairs = {f"ROTATE{i}": f"secret-{i}" for i in range(40)}
    server = start_seaweed(tmp_path_factory, identities=pairs)
    try:
        counter = tmp_path / "count"
        counter.write_text("0")
        # expires in 14 minutes: inside botocore's advisory window (15), so
        # every check refreshes; outside the must-wait one
        script = _script(
            tmp_path / "rotate",
            "import json, pathlib, datetime\n"
            f"p = pathlib.Path({str(counter)!r})\n"
            "n = int(p.read_text())\n"
            "p.write_text(str(n + 1))\n"
            "exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=14)\n"
            "print(json.dumps({'Version': 1, 'AccessKeyId': f'ROTATE{n}', "
            "'SecretAccessKey': f'secret-{n}', "
            "'Expiration': exp.strftime('%Y-%m-%dT%H:%M:%SZ')}))\n",
        )
        config = tmp_path / "config"
        config.write_text(f"[profile rot]\ncredential_process = {script}\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        monkeypatch.setattr(aws, "_CHECK_EVERY", 0.2)
        src = tmp_path / "obj"
        src.write_bytes(b"x" * 1000)
        options = {"profile": "rot", "endpointurl": server.endpoint, "region": server.region}

        async def main() -> tuple[str, set[str]]:
            store = S3Store("rot", "s3://test/rot", options, jobs=4)
            try:
                first = store._aws.keys()
                assert first is not None
                deadline = time.monotonic() + 1.5
                n = 0
                while time.monotonic() < deadline:
                    await store.put(src, f"o/{n}")
                    n += 1
                    await asyncio.sleep(0.02)
                found = await store.exists([f"o/{i}" for i in range(n)])
                assert len(found) == n
                keys = store._aws.keys()
                assert keys is not None
                return first.access_key, {first.access_key, keys.access_key}
            finally:
                await store.close()

        first, used = asyncio.run(main())
        assert first in pairs
        assert len(used) == 2  # signed with a later pair by the end
        assert int(counter.read_text()) >= 4
    finally:
        server.stop()


def test_a_refresh_that_fails_when_the_keys_must_be_replaced_is_an_auth_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys 2 s away from botocore's mandatory window (10 minutes before they
    expire) and a provider that fails from its second call: the keys serve
    until then, and a request that has to wait for new ones fails naming the
    remote and the provider's reason."""
    counter = tmp_path / "count"
    counter.write_text("0")
    script = _script(
        tmp_path / "once",
        "import json, pathlib, sys, datetime\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "if p.read_text() != '0':\n"
        "    sys.stderr.write('the identity provider is down\\n'); sys.exit(1)\n"
        "p.write_text('1')\n"
        "exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=602)\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': 'ONCE', 'SecretAccessKey': 'once-secret',"
        " 'Expiration': exp.strftime('%Y-%m-%dT%H:%M:%SZ')}))\n",
    )
    config = tmp_path / "config"
    config.write_text(f"[profile once]\ncredential_process = {script}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setattr(aws, "_CHECK_EVERY", 0.0)
    got = resolve_aws("r", {"profile": "once", "region": "us-east-1"})

    async def sign() -> Any:
        return await got.signer()

    signer = asyncio.run(sign())  # advisory window: a failed refresh keeps the keys
    assert signer is not None and signer.keys.access_key == "ONCE"
    time.sleep(2.5)
    # as if the keys had less than a minute left: the request waits, and fails
    monkeypatch.setattr(aws, "_MUST_WAIT", 600)
    with pytest.raises(RemoteAuthError) as e:
        asyncio.run(sign())
    message = str(e.value)
    assert message.startswith(
        "remote 'r': refreshing the AWS credentials from credential_process of profile 'once' "
        "failed: "
    )
    assert "the identity provider is down" in message and "once-secret" not in message
