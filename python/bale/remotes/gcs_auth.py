"""Where a Google Cloud Storage remote's credentials come from: google-auth.

dvc-gs hands its options to gcsfs, which asks google-auth; bale asks
google-auth the same questions, so a repository that works with ``dvc push``
works with bale unchanged:

1. ``allow_anonymous_login = true``: no credentials (a public bucket), as
   dvc-gs passes ``token="anon"`` then, whatever else is set;
2. ``STORAGE_EMULATOR_HOST`` set and no ``endpointurl``: the emulator, which
   takes no credentials (google-cloud-storage does the same);
3. ``credentialpath``: a JSON key file, a service account key
   (``"type": "service_account"``) or stored user credentials
   (``"type": "authorized_user"``), the two kinds gcsfs reads from a path;
4. else application default credentials (``google.auth.default()``):
   ``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth application-default
   login``'s file, then the metadata server of GCE, GKE or Cloud Run.

Where gcsfs falls back to anonymous requests when nothing is found, bale
says so: no credentials at all is an error unless ``allow_anonymous_login``
(an anonymous request to a private bucket fails later, with a less useful
message; a typo in a key path must not read a public copy instead).

google-auth is imported only when a remote needs it (about 0.1 s). Its
token refreshes are blocking HTTP calls; they run in a thread, started
:data:`_REFRESH_BEFORE` seconds before the token expires, while requests
keep using the current token. A request waits only when there is no token
yet or the current one expires within :data:`_MUST_WAIT` seconds. The
credentials are resolved once per process for each remote configuration.

Nothing here puts a secret (a token, a key file's contents) in a message,
a log line or a ``repr``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import json
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bale.console import debug
from bale.exceptions import one_line
from bale.remotes.errors import RemoteAuthError, RemoteConfigError
from bale.remotes.support import option_setter

if TYPE_CHECKING:
    import google.auth.credentials

__all__ = ["GcsCredentials", "emulator_host", "resolve_gcs"]

# What bale does with objects: read, write and delete them.
SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
_TRUE = frozenset({"true", "yes", "1", "on"})
# A refresh starts this long before the token expires (gcsfs refreshes 100 s
# before; google-auth itself calls a token stale 3m45s before expiry).
_REFRESH_BEFORE = 300.0
# Requests wait for a refresh only once the token has less than this left.
_MUST_WAIT = 60.0
# The key file kinds gcsfs reads from a path, and how bale names them.
_KEY_KINDS = {"service_account": "service account key", "authorized_user": "user credentials"}


def emulator_host() -> str | None:
    """The emulator's origin from ``STORAGE_EMULATOR_HOST``, as gcsfs reads it
    (``http://`` added when it has no scheme); None when it is not set."""
    host = os.environ.get("STORAGE_EMULATOR_HOST", "")
    if host in ("", "default"):
        return None
    return host if host.startswith(("http://", "https://")) else f"http://{host}"


class GcsCredentials:
    """The headers a remote's requests carry, and where they come from
    (``source``, for messages). Shared by every store of one remote
    configuration in a process, whatever its event loop: refreshes run in
    threads."""

    def __init__(
        self,
        remote: str,
        source: str,
        credentials: google.auth.credentials.Credentials | None,
    ) -> None:
        self.remote = remote
        self.source = source
        self._credentials = credentials
        self._headers: dict[str, str] = {}
        self._fresh_until = 0.0  # monotonic: no refresh needed before
        self._expires = 0.0  # monotonic: the token is no good from then
        self._lock = threading.Lock()
        self._refresh: concurrent.futures.Future[None] | None = None

    def __repr__(self) -> str:
        return f"GcsCredentials(source={self.source!r})"

    @property
    def anonymous(self) -> bool:
        return self._credentials is None

    async def headers(self) -> dict[str, str]:
        """The headers for the next request (``Authorization``, and the quota
        project of user credentials that name one); empty when anonymous.

        Cheap while the token is fresh; see the module docstring for when a
        refresh starts and when a request waits for it.
        """
        if self._credentials is None:
            return self._headers
        now = time.monotonic()
        if now < self._fresh_until:
            return self._headers
        refresh = self._start_refresh()
        if now >= self._expires - _MUST_WAIT:
            try:
                await asyncio.wrap_future(refresh)
            except Exception as e:
                raise RemoteAuthError(
                    f"remote '{self.remote}': getting a Google access token from "
                    f"{self.source} failed: {describe(e)}"
                ) from None
        return self._headers

    def _start_refresh(self) -> concurrent.futures.Future[None]:
        with self._lock:
            if self._refresh is None or self._refresh.done():
                self._refresh = _REFRESHER.submit(self._refresh_now)
                self._refresh.add_done_callback(self._after_refresh)
            return self._refresh

    def _refresh_now(self) -> None:
        import google.auth.transport.requests

        # google-auth's methods are untyped
        creds: Any = self._credentials
        assert creds is not None
        request = google.auth.transport.requests.Request()
        creds.refresh(request)
        headers: dict[str, str] = {}
        creds.apply(headers)
        left = _seconds_left(creds.expiry)
        now = time.monotonic()
        # Readers see the new headers before the new deadlines.
        self._headers = headers
        self._expires = now + left
        self._fresh_until = now + max(0.0, left - _REFRESH_BEFORE)
        debug(f"remote '{self.remote}': Google access token from {self.source} refreshed")

    def _after_refresh(self, future: concurrent.futures.Future[None]) -> None:
        # A failed early refresh leaves the current token serving; the
        # failure that matters is raised when a request must wait.
        error = future.exception()
        if error is not None:
            debug(f"remote '{self.remote}': refreshing the Google token failed: {describe(error)}")


_REFRESHER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="gcs-refresh")


def _seconds_left(expiry: datetime.datetime | None) -> float:
    """Seconds until ``expiry`` (google-auth's naive UTC time); a token
    without one never expires."""
    if expiry is None:
        return float("inf")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return (expiry.replace(tzinfo=None) - now).total_seconds()


def describe(e: BaseException) -> str:
    """A google-auth error in one line, without the response body it may carry."""
    args = getattr(e, "args", ())
    text = args[0] if args and isinstance(args[0], str) else str(e)
    return one_line(text or type(e).__name__)[:300]


_RESOLVED: dict[tuple[object, ...], GcsCredentials] = {}
_RESOLVED_LOCK = threading.Lock()
# what application default credentials read from the environment
_ENV = (
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLOUDSDK_CONFIG",
    "GCE_METADATA_HOST",
    "GCE_METADATA_IP",
    "NO_GCE_CHECK",
)


def resolve_gcs(name: str, options: Mapping[str, str]) -> GcsCredentials:
    """The remote ``name``'s credentials, from ``options`` and the
    environment (blocking: may read files and ask the metadata server).
    Resolved once per process for the same options and environment.

    Raises RemoteConfigError (a key file that is missing or not one) or
    RemoteAuthError (no credentials anywhere), each naming the remote.
    """
    env = tuple((k, os.environ.get(k)) for k in _ENV)
    cache_key = (name, tuple(sorted(options.items())), env)
    with _RESOLVED_LOCK:
        found = _RESOLVED.get(cache_key)
        if found is None:
            found = _resolve(name, options)
            _RESOLVED[cache_key] = found
    debug(f"remote '{name}': Google credentials: {found.source}")
    return found


def _resolve(name: str, options: Mapping[str, str]) -> GcsCredentials:
    if options.get("allow_anonymous_login", "").strip().lower() in _TRUE:
        return GcsCredentials(name, "no credentials: anonymous (allow_anonymous_login)", None)
    if not options.get("endpointurl") and emulator_host() is not None:
        return GcsCredentials(name, "no credentials: the emulator (STORAGE_EMULATOR_HOST)", None)
    path = options.get("credentialpath")
    if path:
        return _from_file(name, os.path.expanduser(path))
    return _default(name)


def _from_file(name: str, path: str) -> GcsCredentials:
    where = f"remote '{name}': credentialpath {path}"
    try:
        with open(path, encoding="utf-8") as f:
            info: Any = json.load(f)
    except FileNotFoundError:
        raise RemoteConfigError(f"{where}: no such file") from None
    except OSError as e:
        raise RemoteConfigError(f"{where}: cannot read it ({e.strerror})") from None
    except ValueError:
        # never quoted: the file may be a key that merely lost a brace
        raise RemoteConfigError(f"{where}: not a JSON key file") from None
    kind = info.get("type") if isinstance(info, dict) else None
    if kind not in _KEY_KINDS:
        raise RemoteConfigError(
            f"{where}: not a service account key or user credentials file "
            f"(its type is {kind!r}; create a key with 'gcloud iam service-accounts keys create')"
        )
    try:
        if kind == "service_account":
            from google.oauth2 import service_account

            loader: Any = service_account.Credentials.from_service_account_info
        else:
            import google.oauth2.credentials

            loader = google.oauth2.credentials.Credentials.from_authorized_user_info
        creds: google.auth.credentials.Credentials = loader(info, scopes=[SCOPE])
    except (ValueError, KeyError, TypeError) as e:
        # google-auth's messages name missing fields, never their values
        raise RemoteConfigError(
            f"{where}: not a usable {_KEY_KINDS[kind]} ({describe(e)})"
        ) from None
    email = info.get("client_email") if kind == "service_account" else None
    source = f"{_KEY_KINDS[kind]} {path}" + (f" ({email})" if email else "")
    return GcsCredentials(name, source, creds)


def _default(name: str) -> GcsCredentials:
    import google.auth
    import google.auth.exceptions

    try:
        creds, _project = google.auth.default(scopes=[SCOPE])
    except google.auth.exceptions.DefaultCredentialsError as e:
        if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
            # a broken file named by the environment: say which, as for credentialpath
            raise RemoteConfigError(
                f"remote '{name}': GOOGLE_APPLICATION_CREDENTIALS: {describe(e)}"
            ) from None
        raise RemoteAuthError(
            f"remote '{name}': no Google credentials found (no credentialpath, "
            "GOOGLE_APPLICATION_CREDENTIALS, 'gcloud auth application-default login' "
            "credentials or metadata server); set credentialpath with "
            f"{option_setter(name)}, or allow_anonymous_login for a public bucket"
        ) from None
    return GcsCredentials(name, _describe_default(creds), creds)


def _describe_default(creds: google.auth.credentials.Credentials) -> str:
    """Which of the application default credentials were found."""
    module = type(creds).__module__
    if module.startswith("google.auth.compute_engine"):
        return "the metadata server (application default credentials)"
    explicit = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if explicit:
        return f"GOOGLE_APPLICATION_CREDENTIALS ({explicit})"
    return "gcloud application default credentials"
