"""Azure Blob Storage remotes, as far as they can be checked without Azure.

No Azure Blob emulator runs here (Azurite needs npm), so no test moves a
byte through AzureStore: transfers and authentication flows are untested
(see :mod:`bale.remotes.azure`). What is checked: which credential the
options and the environment choose (the real azure-identity and SDK
classes, no token fetched), option and URL errors, an unreachable
endpoint, the CLI's acceptance of azure:// remotes, and how Azure's error
answers map to bale's errors, against :func:`_errors_only`: a loopback
stand-in that answers every request with an Azure error (XML body and
``x-ms-error-code``), never with data.
"""

# The fixtures imported from conftest modules are taken as parameters (F811).
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from bale.exceptions import CorruptObjectError
from bale.remotes import Remote
from bale.remotes.azure import AzureStore, resolve_azure
from bale.remotes.errors import (
    ObjectNotFound,
    RemoteAuthError,
    RemoteConfigError,
    RemoteNotFoundError,
    RemoteUnreachableError,
    TransientError,
)
from tests.integration.conftest import Run, md5_repo, run, write_tree  # noqa: F401
from tests.remotes.http_server import running

T = TypeVar("T")

KEY = "c2VjcmV0LWFjY291bnQta2V5"  # base64, as account keys are
SAS = "sv=2024-01-01&ss=b&sig=c2VjcmV0LXNpZw%3D"
SECRET_BITS = (KEY, "c2VjcmV0LXNpZw", "principal-secret")


@pytest.fixture(autouse=True)
def _no_azure_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AZURE_* variable or Azure CLI config of the machine leaks in."""
    for name in list(os.environ):
        if name.startswith("AZURE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-config"))


def _connection_string(endpoint: str) -> str:
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={KEY};BlobEndpoint={endpoint}/devstoreaccount1;"
    )


def _no_secret(text: str) -> None:
    for bit in SECRET_BITS:
        assert bit not in text


async def _with_client(options: dict[str, str], env: dict[str, str]) -> tuple[Any, Any, str]:
    """(credential, the client's credential, the source) the options choose."""
    auth = resolve_azure("az", options, env=env)
    credential = auth.credential()
    client = auth.client(credential)
    try:
        return credential, client.credential, auth.source
    finally:
        await client.close()
        if hasattr(credential, "close"):
            await credential.close()


# -- credentials ----------------------------------------------------------------


def test_each_option_set_chooses_dvc_azures_credential() -> None:
    from azure.identity.aio import ClientSecretCredential, DefaultAzureCredential
    from azure.storage.blob._shared.authentication import SharedKeyCredentialPolicy

    def chosen(options: dict[str, str], env: dict[str, str] | None = None) -> tuple[Any, Any, str]:
        return asyncio.run(_with_client(options, env or {}))

    cs = _connection_string("https://example.invalid")
    _, policy, source = chosen({"connection_string": cs, "account_name": "other", "sas_token": SAS})
    assert isinstance(policy, SharedKeyCredentialPolicy) and source == "connection string"
    _, policy, source = chosen({"account_name": "acct", "account_key": KEY, "sas_token": SAS})
    assert isinstance(policy, SharedKeyCredentialPolicy) and source == "account key"
    credential, _, source = chosen({"account_name": "acct", "sas_token": SAS})
    assert credential == SAS and source == "SAS token"
    # a service principal wins over a key, as in adlfs
    principal = {"tenant_id": "t", "client_id": "c", "client_secret": "principal-secret"}
    credential, _, source = chosen({"account_name": "acct", "account_key": KEY, **principal})
    assert isinstance(credential, ClientSecretCredential)
    assert source == "service principal c of tenant t"
    # a partial service principal is not one: the default chain
    credential, _, _ = chosen({"account_name": "acct", "tenant_id": "t", "client_id": "c"})
    assert isinstance(credential, DefaultAzureCredential)
    credential, policy, source = chosen({"account_name": "acct", "allow_anonymous_login": "true"})
    assert credential is None and policy is None and source == "anonymous access"
    credential, _, source = chosen({"account_name": "acct"})
    assert isinstance(credential, DefaultAzureCredential)
    assert source.startswith("DefaultAzureCredential")
    names = [type(c).__name__ for c in credential.credentials]
    assert "EnvironmentCredential" in names and "ManagedIdentityCredential" in names
    excluded = {
        "exclude_environment_credential": "true",
        "exclude_managed_identity_credential": "true",
        "exclude_shared_token_cache_credential": "true",
        "exclude_visual_studio_code_credential": "true",
    }
    credential, _, _ = chosen({"account_name": "acct", **excluded})
    names = [type(c).__name__ for c in credential.credentials]
    for gone in ("Environment", "ManagedIdentity", "SharedTokenCache", "VisualStudioCode"):
        assert f"{gone}Credential" not in names
    assert "AzureCliCredential" in names


def test_unset_options_come_from_the_environment_and_the_azure_cli_config(
    tmp_path: Path,
) -> None:
    cs = _connection_string("https://example.invalid")
    auth = resolve_azure("az", {}, env={"AZURE_STORAGE_CONNECTION_STRING": cs})
    assert auth.source == "connection string"
    env = {"AZURE_STORAGE_ACCOUNT": "envacct", "AZURE_STORAGE_KEY": KEY}
    auth = resolve_azure("az", {}, env=env)
    assert (auth.source, auth.account_url) == (
        "account key",
        "https://envacct.blob.core.windows.net",
    )
    auth = resolve_azure("az", {"account_name": "optacct"}, env=env)  # the option wins
    assert auth.account_url == "https://optacct.blob.core.windows.net"
    auth = resolve_azure(
        "az", {}, env={"AZURE_STORAGE_ACCOUNT": "a1b", "AZURE_STORAGE_SAS_TOKEN": SAS}
    )
    assert auth.source == "SAS token"
    config = tmp_path / "cli"
    config.mkdir()
    (config / "config").write_text(f"[storage]\naccount = cliacct\nkey = {KEY}\n")
    auth = resolve_azure("az", {}, env={"AZURE_CONFIG_DIR": str(config)})
    assert (auth.source, auth.account_url) == (
        "account key",
        "https://cliacct.blob.core.windows.net",
    )


def test_secrets_stay_out_of_reprs() -> None:
    principal = {"tenant_id": "t", "client_id": "c", "client_secret": "principal-secret"}
    for options in (
        {"connection_string": _connection_string("https://example.invalid")},
        {"account_name": "acct", "account_key": KEY},
        {"account_name": "acct", "sas_token": SAS},
        {"account_name": "acct", **principal},
    ):
        _no_secret(repr(resolve_azure("az", options, env={})))
        _no_secret(repr(AzureStore("az", "azure://c/p", options)))


# -- option and URL errors ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("azure://c/p", {}, "remote 'az': Azure needs account_name or connection_string"),
        ("azure://c/p", {"sas_token": SAS}, "remote 'az': Azure needs account_name"),
        ("azure://", {"account_name": "acct"}, "remote 'az': 'azure://' is not an azure://"),
        (
            "azure://c/p",
            {"account_name": "Bad_Name", "account_key": KEY},
            "remote 'az': account_name 'Bad_Name' is not an Azure storage account name",
        ),
        (
            "azure://c/p",
            {"connection_string": KEY},
            "remote 'az': connection_string is not an Azure connection string",
        ),
        (
            "azure://c/p",
            {"account_name": "acct", "part_size": "1"},
            "remote 'az': part_size must be a whole number of at least 65536",
        ),
        (
            "azure://c/p",
            {"account_name": "acct", "version_aware": "true"},
            "remote 'az': option 'version_aware' is not supported by bale yet",
        ),
    ],
)
def test_bad_urls_and_options_are_one_line_errors_naming_the_remote(
    url: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(RemoteConfigError) as caught:
        AzureStore("az", url, options)
    text = str(caught.value)
    assert text.startswith(message) and "\n" not in text
    _no_secret(text)


def test_a_bare_url_names_the_azure_cli_default_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONTAINER_NAME", "dflt")
    store = AzureStore("az", "azure://", {"account_name": "acct"})
    assert repr(store) == "AzureStore('az', azure://dflt/)"


def test_importing_the_store_does_not_import_the_sdk() -> None:
    import subprocess
    import sys

    code = "import sys, bale.remotes.azure; print(any(m.startswith('azure.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the network, as far as it goes without Azure ---------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _on(store: AzureStore, what: Callable[[AzureStore], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await what(store)
        finally:
            await store.close()

    return asyncio.run(main())


def test_an_unreachable_endpoint_is_a_quick_clear_error(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    store = AzureStore("az", "azure://c/p", {"connection_string": _connection_string(endpoint)})
    start = time.monotonic()
    with pytest.raises(RemoteUnreachableError) as caught:
        _on(store, lambda s: s.exists(["files/md5/ab/cd"]))
    assert time.monotonic() - start < 10
    text = str(caught.value)
    assert (
        text.startswith(f"remote 'az': cannot reach {endpoint}/devstoreaccount1")
        and "\n" not in text
    )
    _no_secret(text)


def _errors_only(seen: list[tuple[str, str]]) -> web.Application:
    """A STAND-IN, NOT AZURE: answers every request with the error Azure
    would give, chosen by a word in the path (``missing``, ``forbidden``,
    ``busy``, ``nocontainer``, ``empty``), as Azure words it: the
    ``x-ms-error-code`` header and the XML error body. It never stores or
    serves data; it checks only how AzureStore maps these answers."""

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append((request.method, request.path))
        path = request.path
        if "nocontainer" in path:
            status, code, message = (
                404,
                "ContainerNotFound",
                "The specified container does not exist.",
            )
        elif "forbidden" in path:
            status, code = 403, "AuthenticationFailed"
            message = "Server failed to authenticate the request."
        elif "busy" in path:
            status, code, message = 503, "ServerBusy", "The server is busy."
        elif "empty" in path:
            status, code = 416, "InvalidRange"
            message = "The range specified is invalid for the current size of the resource."
        else:
            status, code, message = 404, "BlobNotFound", "The specified blob does not exist."
        body = (
            '<?xml version="1.0" encoding="utf-8"?><Error>'
            f"<Code>{code}</Code><Message>{message}\nRequestId:0\nTime:now</Message></Error>"
        )
        headers = {"x-ms-error-code": code, "x-ms-request-id": "0"}
        if request.method == "HEAD":  # HEAD answers carry the code in the header only
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status, headers=headers, text=body, content_type="application/xml"
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def test_azure_error_answers_map_to_bales_errors(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    with running(_errors_only(seen)) as url:
        options = {"connection_string": _connection_string(url), "retries": "3"}

        def store(container: str = "c") -> AzureStore:
            return AzureStore("az", f"azure://{container}/p", options)

        assert _on(store(), lambda s: s.exists(["missing"])) == set()
        with pytest.raises(ObjectNotFound, match=r"^remote 'az': no object missing$"):
            _on(store(), lambda s: s.get("missing", tmp_path / "got"))
        assert not (tmp_path / "got").exists()
        with pytest.raises(ObjectNotFound):
            _on(store(), lambda s: s.read_small("missing", 100))
        assert _on(store(), lambda s: s.read_small("empty", 100)) == b""
        _on(store(), lambda s: s.delete(["missing"]))  # gone already: fine
        with pytest.raises(RemoteNotFoundError, match="container 'nocontainer' does not exist"):
            _on(store("nocontainer"), lambda s: s.exists(["a"]))
        with pytest.raises(RemoteNotFoundError):
            _on(store("nocontainer"), lambda s: s.delete(["a"]))

        async def listed(s: AzureStore) -> list[tuple[str, int]]:
            return [entry async for entry in s.list("")]

        with pytest.raises(RemoteNotFoundError):
            _on(store("nocontainer"), listed)
        with pytest.raises(RemoteAuthError) as caught:
            _on(store(), lambda s: s.get("forbidden", tmp_path / "got"))
        text = str(caught.value)
        assert text.startswith(
            "remote 'az': Azure refused the credentials (connection string): HTTP 403: "
            "AuthenticationFailed"
        )
        assert "\n" not in text
        _no_secret(text)

        # 5xx: retried by bale alone (the SDK's retries are off): `retries` requests
        seen.clear()
        with pytest.raises(TransientError, match=r"HTTP 503: ServerBusy"):
            _on(store(), lambda s: s.get("busy", tmp_path / "got"))
        assert len(seen) == 3

        # a rotten cache object is refused before a byte is sent
        seen.clear()
        src = tmp_path / "obj"
        src.write_bytes(b"bit rot\n")
        with pytest.raises(CorruptObjectError):
            _on(store(), lambda s: s.put(src, "k", expect=("md5", "0" * 32)))
        assert seen == []


# -- the CLI ------------------------------------------------------------------------


def test_azure_remotes_and_their_options_are_accepted_and_refused_as_support_says(
    md5_repo: Path, run: Run
) -> None:
    repo = md5_repo
    assert run("bale", "remote", "add", "-d", "az", "azure://container/p").stderr == ""
    for option, value in [
        ("account_name", "acct"),
        ("allow_anonymous_login", "true"),
        ("exclude_environment_credential", "true"),
        ("timeout", "30"),
    ]:
        assert run("bale", "remote", "modify", "az", option, value).stderr == ""
    err = run("bale", "remote", "modify", "az", "version_aware", "true", ok=False).stderr
    assert err == "ERROR: remote 'az': option 'version_aware' is not supported by bale yet\n"
    config = (repo / ".dvc" / "config").read_text()
    assert "url = azure://container/p" in config and "version_aware" not in config
    # a push reaches for the endpoint, and fails clearly when it is not there
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    run(
        "bale",
        "remote",
        "modify",
        "--local",
        "az",
        "connection_string",
        _connection_string(endpoint),
    )
    write_tree(repo, {"f": "hi\n"})
    run("bale", "add", "-q", "f")
    err = run("bale", "push", ok=False).stderr
    assert err.startswith("ERROR: ") and f"remote 'az': cannot reach {endpoint}" in err
    _no_secret(err)
    assert isinstance(
        Remote("az", "azure://c/p", "azure", options={"account_name": "acct"}).open_store(4),
        AzureStore,
    )


def test_verify_is_dvcs_download_check_never_a_tls_switch() -> None:
    """dvc's ``verify`` (common to every remote) asks for downloads to be
    hashed again, which bale always does; it must not turn off certificate
    checks."""
    store = AzureStore(
        "az", "azure://c/p", {"account_name": "acct", "account_key": KEY, "verify": "false"}
    )
    assert "connection_verify" not in store._client_kwargs
