"""Where an S3 remote's credentials and region come from.

The precedence is DVC's (which is botocore's), so a repository that works
with ``dvc push`` works with bale unchanged:

1. the remote's options ``access_key_id`` / ``secret_access_key`` /
   ``session_token`` (meant for ``.dvc/config.local``);
2. the environment ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
   ``AWS_SESSION_TOKEN``, unless the remote names a ``profile`` (botocore lets
   an explicitly chosen profile override the environment);
3. the profile (option ``profile``, else ``AWS_PROFILE``, else ``default``) in
   the shared credentials file (option ``credentialpath``, else
   ``AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/credentials``), then in the
   config file (option ``configpath``, else ``AWS_CONFIG_FILE``, else
   ``~/.aws/config``);
4. none: requests go unsigned, which public buckets accept.

A profile that is named (option ``profile`` or ``AWS_PROFILE``) must exist in
one of the two files even when keys come from elsewhere, and must then yield
keys when nothing before it did: dvc (botocore) fails with "The config profile
(x) could not be found" and "Unable to locate credentials" there, and a typo
in a profile name must not quietly send requests with other keys or none.

Region: option ``region``, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else
the profile's ``region`` in the config file, else ``us-east-1``.

Each result says where it came from, for error messages; the secret never
appears in a message or a ``repr``.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bale.remotes.errors import RemoteConfigError

__all__ = ["ANONYMOUS", "AwsSettings", "Credentials", "resolve_aws"]

ANONYMOUS = "no credentials (anonymous)"
_DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    """One set of AWS keys and a human description of where they were found."""

    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(repr=False)
    source: str


@dataclass(frozen=True)
class AwsSettings:
    """What an S3 remote signs with: ``credentials`` is None for anonymous access."""

    credentials: Credentials | None
    region: str

    @property
    def source(self) -> str:
        return self.credentials.source if self.credentials else ANONYMOUS


def resolve_aws(
    name: str, options: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> AwsSettings:
    """The remote ``name``'s credentials and region, from ``options`` and the environment."""
    env = os.environ if environ is None else environ
    explicit_profile = options.get("profile")
    if explicit_profile:
        files = _ProfileFiles(name, explicit_profile, "the remote's option 'profile'", options, env)
    else:
        files = _ProfileFiles(name, env.get("AWS_PROFILE") or None, "AWS_PROFILE", options, env)
    files.check_exists()
    credentials = (
        _from_options(name, options)
        or (None if explicit_profile else _from_env(env))
        or files.credentials()
    )
    if credentials is None and files.named is not None:
        raise RemoteConfigError(
            f"remote '{name}': AWS profile '{files.profile}' (from {files.named}) has no "
            f"aws_access_key_id and aws_secret_access_key in {files.credentials_path} "
            f"or {files.config_path}"
        )
    region = (
        options.get("region")
        or env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or files.region()
        or _DEFAULT_REGION
    )
    return AwsSettings(credentials=credentials, region=region)


def _from_options(name: str, options: Mapping[str, str]) -> Credentials | None:
    key, secret = options.get("access_key_id"), options.get("secret_access_key")
    if not key and not secret:
        return None
    if not key or not secret:
        missing = "secret_access_key" if key else "access_key_id"
        raise RemoteConfigError(
            f"remote '{name}': access_key_id and secret_access_key go together; "
            f"{missing} is missing"
        )
    return Credentials(
        key,
        secret,
        options.get("session_token") or None,
        "access_key_id in the remote's config (.dvc/config.local)",
    )


def _from_env(env: Mapping[str, str]) -> Credentials | None:
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    return Credentials(
        key, secret, env.get("AWS_SESSION_TOKEN") or None, "environment AWS_ACCESS_KEY_ID"
    )


class _ProfileFiles:
    """One profile's sections in the shared credentials and config files, read once."""

    def __init__(
        self,
        name: str,
        profile: str | None,
        named_by: str,
        options: Mapping[str, str],
        env: Mapping[str, str],
    ) -> None:
        self._name = name
        # where the profile's name came from; None when it is the default one
        self.named = named_by if profile is not None else None
        self.profile = profile or "default"
        self.credentials_path = _path(
            options.get("credentialpath"), env.get("AWS_SHARED_CREDENTIALS_FILE"), "credentials"
        )
        self.config_path = _path(options.get("configpath"), env.get("AWS_CONFIG_FILE"), "config")
        # The config file names non-default profiles "profile x"; the credentials file never does.
        config_section = "default" if self.profile == "default" else f"profile {self.profile}"
        self._creds = _section(name, self.credentials_path, self.profile)
        self._config = _section(name, self.config_path, config_section)

    def check_exists(self) -> None:
        """A profile asked for by name must exist (as in botocore), whatever
        the keys are taken from."""
        if self.named is not None and self._creds is None and self._config is None:
            raise RemoteConfigError(
                f"remote '{self._name}': AWS profile '{self.profile}' (from {self.named}) "
                f"is in neither {self.credentials_path} nor {self.config_path}"
            )

    def credentials(self) -> Credentials | None:
        """The profile's keys, from the credentials file, else the config file."""
        for path, section in (
            (self.credentials_path, self._creds),
            (self.config_path, self._config),
        ):
            if section is None:
                continue
            key, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
            if key and secret:
                token = section.get("aws_session_token") or None
                return Credentials(key, secret, token, f"profile '{self.profile}' in {path}")
        return None

    def region(self) -> str | None:
        return self._config.get("region") if self._config is not None else None


def _path(option: str | None, env_value: str | None, default_name: str) -> Path:
    return Path(option or env_value or Path("~/.aws") / default_name).expanduser()


def _section(name: str, path: Path, section: str) -> dict[str, str] | None:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as e:
        # The parser's message quotes the offending line, which may hold a secret.
        line = getattr(e, "lineno", None)
        where = f" (line {line})" if line else ""
        raise RemoteConfigError(f"remote '{name}': cannot parse {path}{where}") from None
    if not parser.has_section(section):
        return None
    return dict(parser.items(section))
