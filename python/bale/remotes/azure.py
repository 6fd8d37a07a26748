"""Azure Blob Storage remotes (``azure://container/prefix``) on azure-storage-blob.

Built on Microsoft's maintained clients: ``azure.storage.blob.aio`` for the
Blob REST API and ``azure.identity.aio`` for Entra ID (Azure AD) tokens,
imported on first use (they take half a second to import). Options and
their order are dvc-azure's (through adlfs):

1. ``connection_string`` (its ``BlobEndpoint`` may point anywhere);
2. else ``account_name`` (``https://<account>.blob.core.windows.net``) with
   a service principal (``tenant_id``, ``client_id`` and ``client_secret``,
   all three: adlfs makes its credential first, so it wins over a key, as
   dvc's own list of login methods says), else with ``account_key``, else
   with ``sas_token``, else anonymously
   when ``allow_anonymous_login`` is set, else with ``DefaultAzureCredential``
   (environment, workload identity, managed identity, Azure CLI, ...) less
   what the ``exclude_*_credential`` options exclude.

An option not set is read as dvc-azure reads it (knack's Azure CLI config):
``AZURE_STORAGE_CONNECTION_STRING``, ``AZURE_STORAGE_ACCOUNT``,
``AZURE_STORAGE_KEY``, ``AZURE_STORAGE_SAS_TOKEN`` (and
``AZURE_STORAGE_CONTAINER_NAME`` for a bare ``azure://``), else the
``[storage]`` section of ``$AZURE_CONFIG_DIR/config`` (``~/.azure/config``).
``connection_timeout`` and ``read_timeout`` (seconds, 60 unless set) go to
the HTTP transport, ``timeout`` to every operation (the server's limit).
``verify`` is dvc's common remote option (hash downloads again), not a TLS
setting: bale hashes every download whatever it says, and certificates are
always checked. bale's ``part_size``, ``part_jobs`` and ``retries`` apply
as on S3 and GCS.

Requests, and why:

- Existence: one listing of a parent prefix when several wanted keys share
  it, else ``get_blob_properties`` (a HEAD) per key (:mod:`bale.remotes.listing`).
- Listing: ``list_blobs(name_starts_with=...)``, a page at a time.
- Downloads: ``download_blob`` (with ``offset``/``length`` for a range) in
  ``part_size`` requests, ``part_jobs`` of them in flight (the SDK's
  ``max_concurrency``), written into the Sink at their offsets.
- Uploads up to ``part_size``: one ``upload_blob`` (Put Blob). Larger ones:
  ``stage_block`` per ``part_size`` block, ``part_jobs`` in flight, each
  retried on its own, then one ``commit_block_list``.
- Deletion: ``delete_blob`` per key, ``jobs`` in flight.

Block blobs are atomic: a Put Blob, or a block list's commit, makes the
whole blob at once, and staged blocks are invisible until committed (Azure
drops uncommitted blocks after a week). A cache object's bytes are hashed
before they go: a small one is read (and hashed) whole before its Put Blob,
a large one is hashed beside its blocks and the commit waits for the hash,
so a rotten object never completes.

The SDK's own retry policy is turned off (``retry_total=0``): bale retries
transient failures (connection errors, 408, 429, 5xx) with
:func:`~bale.remotes.store.retrying`, ``retries`` times, as for every store,
so retries are never multiplied.

**Untested against a real service.** No Azure Blob emulator runs here
(Azurite needs npm), so bale's tests check credential selection (with the
real azure-identity and SDK classes, no token is fetched), option and URL
errors, an unreachable endpoint, and the mapping of Azure's error answers
(from a loopback stand-in that only answers errors). Nothing that needs the
service has run: no transfer (upload, block commit, ranged download,
listing, exists, delete), and no authentication flow (shared key signing,
SAS, service principal, DefaultAzureCredential's token fetches).
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import configparser
import contextlib
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from bale.exceptions import BaleError, one_line
from bale.remotes.errors import (
    ObjectNotFound,
    RemoteAuthError,
    RemoteConfigError,
    RemoteError,
    RemoteNotFoundError,
    TransientError,
    Unreachable,
)
from bale.remotes.listing import PagedStore
from bale.remotes.store import (
    Expect,
    Progress,
    Sink,
    UploadSource,
    bounded,
    check_object,
    part_ranges,
    retrying,
    sink_for,
)
from bale.remotes.support import option_setter, refuse_options

if TYPE_CHECKING:
    from azure.storage.blob.aio import BlobClient, BlobServiceClient, ContainerClient

__all__ = ["AzureAuth", "AzureStore", "parse_url", "resolve_azure"]

T = TypeVar("T")

MiB = 1024 * 1024
#: Blobs larger than this go up in blocks of this size; downloads come in
#: requests of this size. The remote's ``part_size`` replaces it.
PART_SIZE = 16 * MiB
_MIN_PART = 64 * 1024
_MAX_BLOCKS = 50_000  # Azure's limit of blocks per blob
_LIST_PAGE = 5000  # Azure's largest page
_TRANSIENT_STATUS = frozenset({408, 429})
_TIMEOUT = 60
_SAS_SIG = re.compile(r"(sig|AccountKey|SharedAccessSignature)=[^&;\s]+", re.IGNORECASE)
_DEFAULT_CHAIN = (
    "DefaultAzureCredential: environment, workload identity, managed identity, "
    "shared token cache, Visual Studio Code, Azure CLI, Azure Developer CLI, Azure PowerShell"
)
_EXCLUDES = (
    "exclude_environment_credential",
    "exclude_visual_studio_code_credential",
    "exclude_shared_token_cache_credential",
    "exclude_managed_identity_credential",
)
_FALSE = frozenset({"false", "no", "0", "off", ""})


def parse_url(name: str, url: str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``azure://container/some/prefix`` → (``container``, ``some/prefix/``).

    A bare ``azure://`` names the Azure CLI's default container, as for dvc.
    """
    rest = url[8:] if url[:8].lower() == "azure://" else None
    container, _, prefix = (rest or "").partition("/")
    if rest is not None and not container:
        container = _az_setting(env, "container_name") or ""
    if not container:
        raise RemoteConfigError(f"remote '{name}': '{url}' is not an azure://container/prefix URL")
    prefix = prefix.strip("/")
    return container, prefix + "/" if prefix else ""


def _az_setting(env: Mapping[str, str] | None, option: str) -> str | None:
    """``storage.<option>`` of the Azure CLI's config, as knack reads it:
    ``AZURE_STORAGE_<OPTION>``, else ``[storage]`` in ``$AZURE_CONFIG_DIR/config``."""
    env = os.environ if env is None else env
    value = env.get(f"AZURE_STORAGE_{option.upper()}")
    if value:
        return value
    config_dir = env.get("AZURE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".azure")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(os.path.join(config_dir, "config"), encoding="utf-8")
        return parser.get("storage", option, fallback=None) or None
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None


def _true(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSE


@dataclass(frozen=True)
class AzureAuth:
    """How a remote reaches its account: decided once, without the network;
    the SDK objects are made by :meth:`client` in the loop that uses them.
    Secrets stay out of the repr."""

    #: What the credentials are, for messages ("account key", ...).
    source: str
    #: ``https://<account>.blob.core.windows.net``; None with a connection string.
    account_url: str | None
    connection_string: str | None = field(default=None, repr=False)
    #: "key", "sas", "principal", "anonymous" or "default"
    method: str = "default"
    secret: str | None = field(default=None, repr=False)
    principal: tuple[str, str, str] | None = field(default=None, repr=False)
    excludes: dict[str, bool] = field(default_factory=dict)

    def credential(self) -> Any:
        """The credential for the client: a string (key, SAS), an azure-identity
        credential (close it after use), or None."""
        if self.method in ("key", "sas"):
            return self.secret
        if self.method == "principal":
            from azure.identity.aio import ClientSecretCredential

            assert self.principal is not None
            tenant, client, secret = self.principal
            return ClientSecretCredential(tenant, client, secret)
        if self.method == "default":
            import logging

            from azure.identity.aio import DefaultAzureCredential

            # each credential of the chain that is not set up logs a warning
            logging.getLogger("azure.identity.aio").setLevel(logging.ERROR)
            return DefaultAzureCredential(**self.excludes)
        return None

    def client(self, credential: Any, **kwargs: Any) -> BlobServiceClient:
        from azure.storage.blob.aio import BlobServiceClient

        if self.connection_string is not None:
            return BlobServiceClient.from_connection_string(self.connection_string, **kwargs)
        assert self.account_url is not None
        return BlobServiceClient(self.account_url, credential=credential, **kwargs)


def resolve_azure(
    name: str, options: Mapping[str, str], env: Mapping[str, str] | None = None
) -> AzureAuth:
    """The credentials ``options`` (and the environment) choose, in dvc-azure's order."""

    def get(option: str, az: str | None = None) -> str | None:
        value = options.get(option)
        if value:
            return value
        return _az_setting(env, az) if az is not None else None

    connection_string = get("connection_string", "connection_string")
    if connection_string:
        if "=" not in connection_string:
            raise RemoteConfigError(
                f"remote '{name}': connection_string is not an Azure connection string"
            )
        return AzureAuth("connection string", None, connection_string, method="connection")
    account = get("account_name", "account")
    if not account:
        raise RemoteConfigError(
            f"remote '{name}': Azure needs account_name or connection_string "
            f"(set account_name with {option_setter(name)}, or AZURE_STORAGE_ACCOUNT)"
        )
    if not re.fullmatch(r"[a-z0-9]{3,24}", account):
        raise RemoteConfigError(
            f"remote '{name}': account_name '{account}' is not an Azure storage account name "
            "(3 to 24 lowercase letters and digits)"
        )
    url = f"https://{account}.blob.core.windows.net"
    tenant, client, secret = (options.get(o) for o in ("tenant_id", "client_id", "client_secret"))
    if tenant and client and secret:
        source = f"service principal {client} of tenant {tenant}"
        return AzureAuth(source, url, method="principal", principal=(tenant, client, secret))
    key = get("account_key", "key")
    if key:
        return AzureAuth("account key", url, method="key", secret=key)
    sas = get("sas_token", "sas_token")
    if sas:
        return AzureAuth("SAS token", url, method="sas", secret=sas.lstrip("?"))
    if _true(options.get("allow_anonymous_login")):
        return AzureAuth("anonymous access", url, method="anonymous")
    excludes = {o: _true(options.get(o)) for o in _EXCLUDES}
    return AzureAuth(_DEFAULT_CHAIN, url, method="default", excludes=excludes)


def _number(name: str, options: Mapping[str, str], option: str, default: int, least: int) -> int:
    raw = options.get(option)
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        value = least - 1
    if value < least:
        raise RemoteConfigError(
            f"remote '{name}': {option} must be a whole number of at least {least}, not {raw!r}"
        )
    return value


class _SinkStream:
    """A Sink as the seekable file the SDK's ``readinto`` writes (from its
    parallel chunks, under its lock: seek, then write)."""

    def __init__(self, sink: Sink, progress: Progress | None) -> None:
        self._sink = sink
        self._progress = progress
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = pos if whence == 0 else self._pos + pos
        return self._pos

    def write(self, data: bytes) -> int:
        self._sink.write(bytes(data), self._pos)
        self._pos += len(data)
        if self._progress is not None:
            self._progress(len(data))
        return len(data)


class AzureStore(PagedStore):
    """The blobs under ``azure://container/prefix``; see the module docstring.

    The SDK client is made on first use, inside the event loop that uses it.
    """

    def __init__(self, name: str, url: str, options: Mapping[str, str], *, jobs: int = 16) -> None:
        self.name = name
        self._jobs = max(1, jobs)
        refuse_options(name, "azure", options)
        self._container_name, self._prefix = parse_url(name, url)
        self._auth = resolve_azure(name, options)
        self._part_size = _number(name, options, "part_size", PART_SIZE, _MIN_PART)
        self._part_jobs = _number(name, options, "part_jobs", 4, 1)
        self._attempts = _number(name, options, "retries", 5, 1)
        self._client_kwargs: dict[str, Any] = {
            "retry_total": 0,  # bale retries (see the module docstring)
            "max_single_get_size": self._part_size,
            "max_chunk_get_size": self._part_size,
            "max_single_put_size": self._part_size,
            "max_block_size": self._part_size,
        }
        for option in ("connection_timeout", "read_timeout"):
            # the SDK waits 300 s by default; bale's other stores give up after 60
            self._client_kwargs[option] = _number(name, options, option, _TIMEOUT, 1)
        self._timeout: int | None = None
        if options.get("timeout"):
            self._timeout = _number(name, options, "timeout", 0, 1)
        self._shown = self._auth.account_url or "the connection string's endpoint"
        self._credential: Any = None
        self._service: BlobServiceClient | None = None
        self._container: ContainerClient | None = None

    def __repr__(self) -> str:
        return f"AzureStore({self.name!r}, azure://{self._container_name}/{self._prefix})"

    # -- the Store protocol -------------------------------------------------

    async def get(
        self,
        key: str,
        dest: Path | Sink,
        progress: Progress | None = None,
        byte_range: tuple[int, int] | None = None,
    ) -> int:
        out = sink_for(dest)
        offset, length = (
            (None, None) if byte_range is None else (byte_range[0], byte_range[1] - byte_range[0])
        )

        async def once() -> int:
            blob = self._blob(key)
            downloader = await blob.download_blob(
                offset,
                length,
                max_concurrency=self._part_jobs,
                decompress=False,
                timeout=self._timeout,
            )
            return await downloader.readinto(cast("IO[bytes]", _SinkStream(out, progress)))

        try:
            if length == 0:
                size = 0
            else:
                size = await self._retry(once, key)
        except BaseException:
            out.discard()
            raise
        out.close()
        return size

    async def read_small(self, key: str, limit: int) -> bytes | None:
        async def once() -> bytes | None:
            from azure.core.exceptions import HttpResponseError

            try:
                downloader = await self._blob(key).download_blob(
                    0, limit, decompress=False, timeout=self._timeout
                )
            except HttpResponseError as e:
                if e.status_code == 416:  # a range of an empty blob
                    return b""
                raise
            total = (downloader.properties.content_range or "").rpartition("/")[2]
            if not total.isdigit() or int(total) > limit:
                return None
            return await downloader.readall()

        return await self._retry(once, key)

    async def put(
        self,
        src: Path,
        key: str,
        progress: Progress | None = None,
        consume: bool = False,
        expect: Expect = None,
    ) -> None:
        size = os.stat(src).st_size
        if size > self._part_size:
            await self._put_blocks(src, key, size, progress, expect)
            return
        # Read (and hashed) whole before anything is sent.
        data = await asyncio.to_thread(UploadSource.whole, src, expect)

        async def once() -> None:
            await self._blob(key).upload_blob(
                data, length=size, overwrite=True, timeout=self._timeout
            )

        await self._retry(once, key)
        if progress is not None:
            progress(size)

    async def delete(self, keys: Iterable[str]) -> None:
        await bounded(sorted(set(keys)), self._delete_one, self._jobs)

    async def close(self) -> None:
        service, credential = self._service, self._credential
        self._service = self._container = self._credential = None
        if service is not None:
            await service.close()
        if credential is not None and hasattr(credential, "close"):
            await credential.close()

    # -- the client -----------------------------------------------------------

    def _containers(self) -> ContainerClient:
        if self._container is None:
            self._credential = self._auth.credential()
            self._service = self._auth.client(self._credential, **self._client_kwargs)
            self._container = self._service.get_container_client(self._container_name)
            if self._auth.account_url is None:  # a connection string's endpoint, no secret
                self._shown = f"{self._service.scheme}://{self._service.primary_hostname}"
        return self._container

    def _blob(self, key: str) -> BlobClient:
        return self._containers().get_blob_client(self._prefix + key)

    # -- beyond the Store protocol: what import-url records of an Azure source --

    async def blob_meta(self, key: str) -> tuple[int, str] | None:
        """``(size, etag)`` of the blob ``key``, None if there is none."""

        async def once() -> tuple[int, str] | None:
            try:
                props = await self._blob(key).get_blob_properties(timeout=self._timeout)
            except Exception as e:
                if _blob_missing(e):
                    return None
                raise
            return int(props.size or 0), str(props.etag or "")

        return await self._retry(once, key)

    # -- exists and list ------------------------------------------------------

    def _page_limit(self) -> int:
        return _LIST_PAGE

    async def _exists_one(self, key: str) -> set[str]:
        async def once() -> bool:
            try:
                await self._blob(key).get_blob_properties(timeout=self._timeout)
            except Exception as e:
                if _blob_missing(e):
                    return False
                raise
            return True

        return {key} if await self._retry(once, key) else set()

    async def _list_page(
        self, prefix: str, token: str | None, size: int
    ) -> tuple[builtins.list[tuple[str, int, str]], str | None]:
        """One page of (full name, size, etag) under ``prefix``, and the next page's token."""

        async def once() -> tuple[builtins.list[tuple[str, int, str]], str | None]:
            paged = self._containers().list_blobs(
                name_starts_with=prefix, results_per_page=size, timeout=self._timeout
            )
            pages = paged.by_page(continuation_token=token)
            objects: builtins.list[tuple[str, int, str]] = []
            async for page in pages:
                async for blob in page:
                    objects.append((blob.name, int(blob.size or 0), blob.etag or ""))
                break
            return objects, getattr(pages, "continuation_token", None) or None

        return await self._retry(once, None)

    # -- put --------------------------------------------------------------------

    async def _put_blocks(
        self, src: Path, key: str, size: int, progress: Progress | None, expect: Expect
    ) -> None:
        """Stages ``part_size`` blocks in parallel, each retried on its own,
        then commits the list once the whole file hashed to its name."""
        from azure.storage.blob import BlobBlock

        part = max(self._part_size, -(-size // _MAX_BLOCKS))
        parts = part_ranges(size, part)
        # ids of one length, unique to this upload (a retried put stages anew)
        nonce = os.urandom(6).hex()
        ids = [base64.b64encode(f"{nonce}-{i:08d}".encode()).decode() for i in range(len(parts))]
        checked = asyncio.ensure_future(asyncio.to_thread(check_object, src, expect))
        fd = await asyncio.to_thread(os.open, src, os.O_RDONLY)
        try:

            async def stage(i: int) -> None:
                offset, length = parts[i]
                data = await asyncio.to_thread(os.pread, fd, length, offset)
                if len(data) != length:
                    raise RemoteError(f"{src} shrank while it was being uploaded")

                async def once() -> None:
                    await self._blob(key).stage_block(
                        ids[i], data, length=length, timeout=self._timeout
                    )

                await self._retry(once, key)
                if progress is not None:
                    progress(length)

            await bounded(range(len(parts)), stage, self._part_jobs)
            await checked  # the commit makes the blob
            blocks = [BlobBlock(block_id=i) for i in ids]

            async def commit() -> None:
                await self._blob(key).commit_block_list(blocks, timeout=self._timeout)

            await self._retry(commit, key)
        except BaseException:
            checked.cancel()
            with contextlib.suppress(BaseException):
                await checked
            raise
        finally:
            os.close(fd)

    # -- delete ---------------------------------------------------------------

    async def _delete_one(self, key: str) -> None:
        async def once() -> None:
            try:
                await self._blob(key).delete_blob(timeout=self._timeout)
            except Exception as e:
                if not _blob_missing(e):  # gone already is fine; a missing container is not
                    raise

        await self._retry(once, key)

    # -- errors -----------------------------------------------------------------

    async def _retry(self, what: Callable[[], Awaitable[T]], key: str | None) -> T:
        async def mapped() -> T:
            try:
                return await what()
            except BaleError:
                raise
            except Exception as e:
                raise self._error(e, key) from e

        return await retrying(mapped, attempts=self._attempts)

    def _error(self, e: Exception, key: str | None) -> Exception:
        """The bale error for an SDK error (anything else as it is)."""
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        where = f"remote '{self.name}'"
        if isinstance(e, ResourceNotFoundError) or (
            isinstance(e, HttpResponseError) and e.status_code == 404
        ):
            code = getattr(e, "error_code", None) or ""
            if key is None or code == "ContainerNotFound":
                return RemoteNotFoundError(
                    f"{where}: container '{self._container_name}' does not exist at {self._shown}"
                )
            return ObjectNotFound(f"{where}: no object {key}")
        if isinstance(e, ClientAuthenticationError) or (
            isinstance(e, HttpResponseError) and e.status_code in (401, 403)
        ):
            status = getattr(e, "status_code", None)
            detail = _message(e)
            return RemoteAuthError(
                f"{where}: Azure refused the credentials ({self._auth.source})"
                + (f": HTTP {status}" if status else "")
                + (f": {detail}" if detail else "")
            )
        if isinstance(e, ServiceRequestError):
            return Unreachable(f"{where}: cannot reach {self._shown}: {_message(e)}")
        if isinstance(e, ServiceResponseError):
            return TransientError(f"{where}: {self._shown} failed to answer: {_message(e)}")
        if isinstance(e, HttpResponseError):
            status = e.status_code or 0
            what = f" {key}" if key is not None else ""
            detail = f"HTTP {status}{': ' + _message(e) if _message(e) else ''}"
            if status >= 500 or status in _TRANSIENT_STATUS:
                return TransientError(f"{where}: Azure{what} failed: {detail}")
            return RemoteError(f"{where}: Azure{what} failed: {detail}")
        if isinstance(e, AzureError):
            return RemoteError(f"{where}: Azure failed: {_message(e)}")
        if isinstance(e, asyncio.TimeoutError):
            return Unreachable(f"{where}: {self._shown} did not answer in time")
        return e


def _blob_missing(e: Exception) -> bool:
    """Whether ``e`` is Azure's 404 for a blob (not for its container)."""
    from azure.core.exceptions import HttpResponseError

    return (
        isinstance(e, HttpResponseError)
        and e.status_code == 404
        and getattr(e, "error_code", None) != "ContainerNotFound"
    )


def _message(e: BaseException) -> str:
    """An SDK error's message on one line: its error code and first line,
    without signatures or keys."""
    code = getattr(e, "error_code", None)
    code = getattr(code, "value", code)  # the SDK's StorageErrorCode enum
    message = str(getattr(e, "message", None) or e).strip()
    first = message.splitlines()[0] if message else ""
    text = f"{code}: {first}" if code and str(code) not in first else first or str(code or "")
    return _SAS_SIG.sub(r"\1=***", one_line(text))[:300]
