"""What an S3 remote's options and URL say, parsed and checked once.

Kept apart from the store so that the wire code reads without the option
handling, and so that a bad option fails before any connection is made.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

import yarl

from bale.redact import mask_url
from bale.remotes.errors import RemoteConfigError
from bale.remotes.sigv4 import quote_path

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
    # list with ListObjects (v1), for servers that lack ListObjectsV2 (dvc's
    # ``listobjects``, which makes s3fs do the same)
    list_v1: bool = False
    # headers of a request that creates an object (PutObject,
    # CreateMultipartUpload): encryption, ACL and grants
    create_headers: dict[str, str] = field(default_factory=dict, repr=False)
    # headers of every other request that reads or writes an object's bytes
    # (GET, HEAD, UploadPart): the SSE-C key, which S3 keeps no copy of
    object_headers: dict[str, str] = field(default_factory=dict, repr=False)


# dvc's grant options -> S3's headers (dvc-s3's _GRANTS)
GRANTS = {
    "grant_full_control": "x-amz-grant-full-control",
    "grant_read": "x-amz-grant-read",
    "grant_read_acp": "x-amz-grant-read-acp",
    "grant_write_acp": "x-amz-grant-write-acp",
}


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
    object_headers = _sse_customer(name, options)
    return Settings(
        create_headers={**_create_headers(name, options), **object_headers},
        object_headers=object_headers,
        part_size=int(number("part_size", 64 * MiB, MIN_PART)),
        part_jobs=int(number("part_jobs", 4, 1)),
        attempts=int(number("retries", 5, 1)),
        connect_timeout=number("connect_timeout", 60, 0.001),
        read_timeout=number("read_timeout", 60, 0.001),
        ssl=context,
        list_v1=options.get("listobjects", "false").strip().lower() not in (_FALSE | {""}),
    )


def check_combination(name: str, options: Mapping[str, str]) -> None:
    """Raises RemoteConfigError for options that exclude each other (as
    dvc-s3 does) or an SSE-C key that is not one."""
    _create_headers(name, options)
    _sse_customer(name, options)


def _create_headers(name: str, options: Mapping[str, str]) -> dict[str, str]:
    """Encryption and access headers for a new object, from dvc's options
    (dvc-s3 passes them to s3fs as ServerSideEncryption, SSEKMSKeyId, ACL
    and Grant*)."""
    headers: dict[str, str] = {}
    if options.get("sse"):
        headers["x-amz-server-side-encryption"] = options["sse"]
    if options.get("sse_kms_key_id"):
        if options.get("sse_customer_key"):
            raise RemoteConfigError(
                f"remote '{name}': sse_kms_key_id and sse_customer_key exclude each other"
            )
        headers["x-amz-server-side-encryption-aws-kms-key-id"] = options["sse_kms_key_id"]
    if options.get("acl"):
        headers["x-amz-acl"] = options["acl"]
    for option, header in GRANTS.items():
        if options.get(option):
            if options.get("acl"):
                raise RemoteConfigError(f"remote '{name}': acl and {option} exclude each other")
            headers[header] = options[option]
    return headers


def _sse_customer(name: str, options: Mapping[str, str]) -> dict[str, str]:
    """The SSE-C headers: the key (base64 in the config, as dvc takes it),
    its MD5 and the algorithm (AES256 unless set)."""
    encoded = options.get("sse_customer_key")
    if not encoded:
        if options.get("sse_customer_algorithm"):
            raise RemoteConfigError(
                f"remote '{name}': sse_customer_algorithm needs sse_customer_key"
            )
        return {}
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        # the key is never quoted: it is a secret
        raise RemoteConfigError(
            f"remote '{name}': sse_customer_key must be a 256-bit key in base64 "
            "(as 'openssl rand -base64 32' prints one)"
        )
    return {
        "x-amz-server-side-encryption-customer-algorithm": options.get(
            "sse_customer_algorithm", "AES256"
        ),
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
            hashlib.md5(key).digest()
        ).decode(),
    }
