"""Where an S3 remote's credentials and region come from: botocore's chain.

dvc resolves them through s3fs and aiobotocore, that is through botocore, so
bale asks botocore too, and a repository that works with ``dvc push`` works
with bale unchanged, wherever it runs:

1. the remote's options ``access_key_id`` / ``secret_access_key`` /
   ``session_token`` (meant for ``.dvc/config.local``);
2. botocore's chain: the environment (``AWS_ACCESS_KEY_ID``, skipped when
   the remote names a ``profile``), assume-role (``role_arn`` with
   ``source_profile`` or ``credential_source``), web identity (EKS), SSO
   (the token cache ``aws sso login`` fills), the shared credentials and
   config files, ``credential_process``, ECS container credentials and EC2
   instance metadata (IMDSv2).

The profile is the option ``profile``, else ``AWS_PROFILE``, else
``default``; the files are the options ``credentialpath`` / ``configpath``,
else botocore's own (``AWS_SHARED_CREDENTIALS_FILE``, ``~/.aws/...``). A
profile named by either must exist, even when keys come from elsewhere: dvc
fails with "The config profile (x) could not be found" there, and a typo in a
profile name must not quietly sign with other keys.

No credentials at all is an error, as in dvc, unless the remote says
``allow_anonymous_login = true``: then requests go unsigned (``-v`` says
so). Anonymous access is never a silent fallback.

Credentials that expire (assumed roles, SSO, instance and container roles,
``credential_process`` with an ``Expiration``) are refreshed in a thread when
botocore says they should be, and a transfer keeps signing with the old ones
meanwhile; it waits only when they are about to expire. The chain is walked
once per process for each remote configuration.

Region: option ``region``, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else
the profile's ``region`` in the config file, else ``us-east-1``.

Nothing here puts a secret in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bale.console import debug
from bale.exceptions import one_line
from bale.remotes.errors import RemoteAuthError, RemoteConfigError
from bale.remotes.sigv4 import SigV4Signer
from bale.remotes.support import option_setter

if TYPE_CHECKING:
    import botocore.credentials
    import botocore.session

__all__ = ["AwsCredentials", "Keys", "resolve_aws"]

_DEFAULT_REGION = "us-east-1"
_TRUE = frozenset({"true", "yes", "1", "on"})
# Expiring credentials are looked at no more often than this (a request
# must not pay for a clock read and a datetime comparison each).
_CHECK_EVERY = 1.0
# A transfer waits for a refresh only when the credentials it signs with
# have less than this left; before that, the old ones serve meanwhile.
_MUST_WAIT = 60
# botocore's names for where credentials came from -> how bale says it
_METHODS = {
    "env": "environment AWS_ACCESS_KEY_ID",
    "assume-role": "an assumed role (role_arn of profile '{profile}')",
    "assume-role-with-web-identity": "web identity (AWS_WEB_IDENTITY_TOKEN_FILE / "
    "web_identity_token_file)",
    "sso": "AWS SSO (profile '{profile}')",
    "custom-process": "credential_process of profile '{profile}'",
    "container-role": "container credentials (ECS / EKS pod identity)",
    "iam-role": "EC2 instance metadata",
    "shared-credentials-file": "profile '{profile}' in {credentials_file}",
    "config-file": "profile '{profile}' in {config_file}",
}


@dataclass(frozen=True)
class Keys:
    """One set of AWS keys; the secret parts never show in a ``repr``."""

    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(repr=False)


class AwsCredentials:
    """What an S3 remote signs with, and where it came from (``source``, for
    messages). Shared by every store of one remote configuration in a
    process, whatever its event loop: refreshes run in threads."""

    def __init__(
        self,
        remote: str,
        source: str,
        region: str,
        keys: Keys | None,
        refreshable: botocore.credentials.RefreshableCredentials | None = None,
    ) -> None:
        self.remote = remote
        self.source = source
        self.region = region
        self._refreshable = refreshable
        self._signer = self._signer_for(keys)
        self._lock = threading.Lock()
        self._refresh: concurrent.futures.Future[None] | None = None
        self._next_check = 0.0

    def __repr__(self) -> str:
        return f"AwsCredentials(source={self.source!r}, region={self.region!r})"

    @property
    def anonymous(self) -> bool:
        return self._signer is None

    def keys(self) -> Keys | None:
        """The keys requests are signed with now; None when anonymous."""
        return self._signer.keys if self._signer is not None else None

    async def signer(self) -> _Signer | None:
        """The signer for the next request; None when anonymous.

        Cheap when nothing expires. When botocore says the credentials should
        be refreshed, a refresh starts in a thread and the current ones are
        returned, unless they are about to expire: then it waits.
        """
        creds = self._refreshable
        if creds is None:
            return self._signer
        now = time.monotonic()
        if now < self._next_check:
            return self._signer
        self._next_check = now + _CHECK_EVERY
        if not creds.refresh_needed():
            return self._signer
        refresh = self._start_refresh(creds)
        if creds.refresh_needed(_MUST_WAIT):
            try:
                await asyncio.wrap_future(refresh)
            except Exception as e:
                raise RemoteAuthError(
                    f"remote '{self.remote}': refreshing the AWS credentials from "
                    f"{self.source} failed: "
                    f"{_describe(e)}"
                ) from None
        return self._signer

    def _start_refresh(
        self, creds: botocore.credentials.RefreshableCredentials
    ) -> concurrent.futures.Future[None]:
        with self._lock:
            if self._refresh is None or self._refresh.done():
                self._refresh = _REFRESHER.submit(self._refresh_now, creds)
                self._refresh.add_done_callback(_log_failed_refresh)
            return self._refresh

    def _refresh_now(self, creds: botocore.credentials.RefreshableCredentials) -> None:
        # botocore refreshes inside get_frozen_credentials when it should
        frozen = creds.get_frozen_credentials()
        keys = Keys(frozen.access_key, frozen.secret_key, frozen.token or None)
        if self._signer is None or keys != self._signer.keys:
            self._signer = self._signer_for(keys)  # one assignment: atomic for readers
            debug(f"AWS credentials from {self.source} refreshed")

    def _signer_for(self, keys: Keys | None) -> _Signer | None:
        return _Signer(keys, self.region) if keys is not None else None


class _Signer(SigV4Signer):
    """A signer that remembers which keys it holds (to tell a refresh apart)."""

    __slots__ = ("keys",)

    def __init__(self, keys: Keys, region: str) -> None:
        super().__init__(keys.access_key, keys.secret_key, keys.session_token, region)
        self.keys = keys


_REFRESHER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="aws-refresh")


def _log_failed_refresh(future: concurrent.futures.Future[None]) -> None:
    # botocore keeps serving the old credentials after a failed advisory
    # refresh; a failure that matters is raised when a request must wait
    error = future.exception()
    if error is not None:
        debug(f"refreshing AWS credentials failed (the current ones still serve): {error}")


_RESOLVED: dict[tuple[object, ...], AwsCredentials] = {}
_RESOLVED_LOCK = threading.Lock()
# what the chain reads from the environment, for the per-process cache's key
_ENV_PREFIXES = ("AWS_", "ECS_")


def resolve_aws(name: str, options: Mapping[str, str]) -> AwsCredentials:
    """The remote ``name``'s credentials and region, from ``options``, the
    environment and the AWS files (blocking: may ask instance metadata, a
    container endpoint or STS). Resolved once per process for the same
    options and environment.

    Raises RemoteConfigError (a profile that does not exist, half a key
    pair) or RemoteAuthError (no credentials anywhere; a provider that
    failed), each naming the remote.
    """
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)))
    cache_key = (name, tuple(sorted(options.items())), env)
    with _RESOLVED_LOCK:
        found = _RESOLVED.get(cache_key)
        if found is None:
            try:
                found = _resolve(name, options)
            except (RemoteConfigError, RemoteAuthError) as e:
                raise type(e)(f"remote '{name}': {e}") from None
            _RESOLVED[cache_key] = found
    debug(f"remote '{name}': AWS credentials: {found.source}; region {found.region}")
    return found


def _resolve(name: str, options: Mapping[str, str]) -> AwsCredentials:
    key, secret = options.get("access_key_id"), options.get("secret_access_key")
    if bool(key) != bool(secret):
        missing = "secret_access_key" if key else "access_key_id"
        raise RemoteConfigError(
            f"access_key_id and secret_access_key go together; {missing} is missing"
        )
    env = os.environ
    named = options.get("profile") or env.get("AWS_PROFILE")
    region = options.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not named and region:
        # Keys in the options, or plain keys in the environment, are where
        # botocore would stop too; importing it to say so costs a tenth of
        # a second per process.
        if key and secret:
            return AwsCredentials(name, _EXPLICIT, region, Keys(key, secret, _token(options)))
        env_key, env_secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        if env_key and env_secret and not env.get("AWS_CREDENTIAL_EXPIRATION"):
            token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or None
            keys = Keys(env_key, env_secret, token)
            return AwsCredentials(name, _METHODS["env"], region, keys)
    return _from_botocore(name, options)


_EXPLICIT = "access_key_id in the remote's config (.dvc/config.local)"


def _token(options: Mapping[str, str]) -> str | None:
    return options.get("session_token") or None


def _from_botocore(name: str, options: Mapping[str, str]) -> AwsCredentials:
    import botocore.exceptions
    import botocore.session

    session = botocore.session.Session(profile=options.get("profile") or None)
    if options.get("credentialpath"):
        session.set_config_variable("credentials_file", options["credentialpath"])
    if options.get("configpath"):
        session.set_config_variable("config_file", options["configpath"])
    profile = session.get_config_variable("profile") or "default"
    files = {
        "profile": profile,
        "credentials_file": os.path.expanduser(session.get_config_variable("credentials_file")),
        "config_file": os.path.expanduser(session.get_config_variable("config_file")),
    }
    try:
        session.get_scoped_config()  # a named profile must exist, whatever gives the keys
        region = (
            options.get("region")
            or os.environ.get("AWS_REGION")
            or session.get_config_variable("region")
            or _DEFAULT_REGION
        )
        # STS (assume-role, web identity) is asked in the bucket's region
        session.set_config_variable("region", region)
        key = options.get("access_key_id")
        if key:
            keys = Keys(key, options["secret_access_key"], _token(options))
            return AwsCredentials(name, _EXPLICIT, region, keys)
        creds = session.get_credentials()
    except botocore.exceptions.ProfileNotFound:
        where = "the remote's option 'profile'" if options.get("profile") else "AWS_PROFILE"
        raise RemoteConfigError(
            f"AWS profile '{profile}' (from {where}) is in neither "
            f"{files['credentials_file']} nor {files['config_file']}"
        ) from None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise RemoteAuthError(f"cannot get AWS credentials: {_describe(e)}") from None
    if creds is None:
        if options.get("allow_anonymous_login", "").strip().lower() in _TRUE:
            anonymous = "no credentials: anonymous (allow_anonymous_login)"
            return AwsCredentials(name, anonymous, region, None)
        raise RemoteAuthError(
            "no AWS credentials found (not in the remote's options, the environment, "
            f"profile '{profile}' of {files['credentials_file']} or {files['config_file']}, "
            "SSO, container or instance metadata); set access_key_id and secret_access_key "
            f"with {option_setter(name)}, or allow_anonymous_login for a public bucket"
        )
    source = _METHODS.get(creds.method, creds.method).format(**files)
    import botocore.credentials

    if isinstance(creds, botocore.credentials.RefreshableCredentials):
        try:
            frozen = creds.get_frozen_credentials()
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise RemoteAuthError(
                f"cannot get AWS credentials from {source}: {_describe(e)}"
            ) from None
        keys = Keys(frozen.access_key, frozen.secret_key, frozen.token or None)
        return AwsCredentials(name, source, region, keys, creds)
    keys = Keys(creds.access_key, creds.secret_key, creds.token or None)
    return AwsCredentials(name, source, region, keys)


def _describe(e: BaseException) -> str:
    """A botocore error in one line. Its messages name profiles, roles and
    endpoints, never a secret (the keys are not in them)."""
    return one_line(str(e) or type(e).__name__)
