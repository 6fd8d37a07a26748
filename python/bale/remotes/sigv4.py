"""AWS Signature Version 4, header form, for S3 requests.

Only what bale's S3 store sends is supported, which keeps signing cheap (a few
microseconds; most of it two HMACs and one SHA-256 of a short string):

- The caller gives the path and the query string already in canonical form:
  the path percent-encoded once (S3 does not double-encode), the query sorted
  and encoded with :func:`quote_query`. The same strings go on the wire, so
  nothing is re-encoded here and the signature covers exactly what is sent.
- Every header in the dict given to :meth:`SigV4Signer.sign` is signed; the
  caller puts in it only what must be signed (``host``, ``range``,
  ``content-md5``, ...), with lower-case names. Headers the HTTP client adds
  later (``content-length``, ``user-agent``) stay unsigned, as AWS allows.
- Bodies are not hashed: a streamed upload sends :data:`UNSIGNED_PAYLOAD`
  (hashing would read every file twice in Python; S3 and SeaweedFS accept it
  over http and https; over https TLS protects the body, and the caller
  verifies every downloaded object's hash anyway). Requests without a body
  send :data:`EMPTY_SHA256`, a constant.

The derived signing key is cached per day (the region and service are fixed
per signer), as is the date prefix per second.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote

__all__ = ["EMPTY_SHA256", "UNSIGNED_PAYLOAD", "SigV4Signer", "quote_path", "quote_query"]

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_ALGORITHM = "AWS4-HMAC-SHA256"


def quote_path(path: str) -> str:
    """``path`` percent-encoded for S3's SigV4: all but unreserved characters and ``/``."""
    return quote(path, safe="/~")


def quote_query(params: dict[str, str]) -> str:
    """The canonical query string: names and values encoded, sorted by name then value."""
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class SigV4Signer:
    """Signs requests with one set of credentials for one region and service.

    The secret is kept only as the derived key's seed and never appears in
    ``repr``.
    """

    __slots__ = (
        "_access_key",
        "_amz_date",
        "_key",
        "_key_day",
        "_region",
        "_second",
        "_secret",
        "_service",
        "_token",
    )

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        session_token: str | None,
        region: str,
        service: str = "s3",
    ) -> None:
        self._access_key = access_key
        self._secret = secret_key
        self._token = session_token
        self._region = region
        self._service = service
        self._key_day = ""
        self._key = b""
        self._second = -1
        self._amz_date = ""

    def __repr__(self) -> str:
        return f"SigV4Signer(access_key={self._access_key!r}, region={self._region!r})"

    def signing_key(self, day: str) -> bytes:
        """The key derived for ``day`` (``YYYYMMDD``); recomputed only when the day changes."""
        if day != self._key_day:
            key = _hmac(f"AWS4{self._secret}".encode(), day)
            key = _hmac(key, self._region)
            key = _hmac(key, self._service)
            self._key = _hmac(key, "aws4_request")
            self._key_day = day
        return self._key

    def _now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
            self._second = second
        return self._amz_date

    def sign(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        payload_hash: str = EMPTY_SHA256,
        amz_date: str | None = None,
    ) -> None:
        """Adds the ``x-amz-*`` and ``authorization`` headers to ``headers``.

        ``path`` and ``query`` are in canonical form (see the module
        docstring); ``headers`` has lower-case names and must hold ``host``.
        ``amz_date`` (``YYYYMMDDTHHMMSSZ``) is for tests; the clock otherwise.
        """
        amz_date = amz_date or self._now()
        headers["x-amz-date"] = amz_date
        headers["x-amz-content-sha256"] = payload_hash
        if self._token is not None:
            headers["x-amz-security-token"] = self._token
        names = sorted(headers)
        canonical_headers = "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names)
        signed = ";".join(names)
        canonical = f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed}\n{payload_hash}"
        day = amz_date[:8]
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"{_ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
        signature = hmac.new(self.signing_key(day), to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"{_ALGORITHM} Credential={self._access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
