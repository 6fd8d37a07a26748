"""Proxies from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``),
as botocore and dvc's HTTP file systems honour them.

Looked up once per session, for the one origin a store talks to: aiohttp's
own ``trust_env`` looks them up (and reads ``~/.netrc``) in a thread for
every request, which would cost small-object transfers a thread hop each,
and a ``.netrc`` entry for the host would replace a signed S3 request's
``Authorization`` header.
"""

from __future__ import annotations

from typing import Any

import yarl
from aiohttp.helpers import get_env_proxy_for_url

__all__ = ["proxy_for"]


def proxy_for(origin: str) -> dict[str, Any]:
    """``proxy`` and ``proxy_auth`` for an aiohttp session that talks to
    ``origin`` only; empty when no proxy applies (or ``NO_PROXY`` names it)."""
    try:
        proxy, auth = get_env_proxy_for_url(yarl.URL(origin))
    except LookupError:
        return {}
    return {"proxy": proxy, "proxy_auth": auth}
