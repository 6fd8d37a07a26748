"""What an S3 remote's options and URL say, parsed and checked once.

Kept apart from the store so that the wire code reads without the option
handling, and so that a bad option fails before any connection is made.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import yarl

from bale.redact import mask_url
from bale.remotes.errors import RemoteConfigError
from bale.remotes.sigv4 import quote_path
from bale.remotes.support import refuse_options

MiB = 1024 * 1024
MIN_PART = 5 * MiB  # S3's smallest part, except the last

_FALSE = frozenset({"false", "no", "0", "off"})


@dataclass(frozen=True)
class Settings:
    """The remote options bale uses, parsed and checked once."""

    part_size: int
    part_jobs: int
    attempts: int
    connect_timeout: float
    read_timeout: float
    ssl: ssl.SSLContext | bool


def parse_url(name: str, url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → (``bucket``, ``some/prefix/``)."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if rest == url or not bucket:
        shown = mask_url(url)
        raise RemoteConfigError(f"remote '{name}': '{shown}' is not an s3://bucket/prefix URL")
    prefix = prefix.strip("/")
    return bucket, prefix + "/" if prefix else ""


def endpoint(options: Mapping[str, str], bucket: str, region: str) -> tuple[str, str]:
    """The origin (``scheme://host[:port]``) and the bucket's path under it."""
    scheme = "http" if options.get("use_ssl", "true").lower() in _FALSE else "https"
    endpoint = options.get("endpointurl")
    if endpoint:
        url = yarl.URL(endpoint if "://" in endpoint else f"{scheme}://{endpoint}")
        origin = str(url.origin())
        return origin, url.raw_path.rstrip("/") + "/" + quote_path(bucket)
    if "." in bucket:
        return f"{scheme}://s3.{region}.amazonaws.com", "/" + quote_path(bucket)
    return f"{scheme}://{bucket}.s3.{region}.amazonaws.com", "/"


def parse_settings(name: str, options: Mapping[str, str]) -> Settings:
    # resolve_remote has checked these against the config files already; a
    # store made directly (tests, the API) gets the same refusal
    refuse_options(name, "s3", options)

    def number(option: str, default: float, minimum: float) -> float:
        raw = options.get(option)
        try:
            value = float(raw) if raw is not None else default
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise RemoteConfigError(
                f"remote '{name}': {option} must be a number of at least {minimum:g}, not {raw!r}"
            )
        return value

    verify = options.get("ssl_verify", "true")
    context: ssl.SSLContext | bool
    if verify.lower() in _FALSE:
        context = False
    elif verify.lower() in {"true", "yes", "1", "on"}:
        context = True
    else:
        try:
            context = ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as e:
            raise RemoteConfigError(f"remote '{name}': ssl_verify {verify}: {e}") from None
    return Settings(
        part_size=int(number("part_size", 64 * MiB, MIN_PART)),
        part_jobs=int(number("part_jobs", 4, 1)),
        attempts=int(number("retries", 5, 1)),
        connect_timeout=number("connect_timeout", 60, 0.001),
        read_timeout=number("read_timeout", 60, 0.001),
        ssl=context,
    )
