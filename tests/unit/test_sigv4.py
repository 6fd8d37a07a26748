"""bale's SigV4 signer agrees with botocore and with AWS's published example."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from bale.remotes.sigv4 import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    SigV4Signer,
    quote_path,
    quote_query,
)

AMZ_DATE = "20240102T030405Z"
MOMENT = datetime.datetime(2024, 1, 2, 3, 4, 5)


def _botocore(
    method: str,
    url: str,
    headers: dict[str, str],
    token: str | None,
    body: bytes = b"",
    unsigned: bool = False,
) -> tuple[str, str]:
    """botocore's Authorization header for the request, and the payload hash it used."""
    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    if unsigned:
        request.context["payload_signing_enabled"] = False
    auth = S3SigV4Auth(Credentials("AKID", "SECRET/key+", token), "s3", "eu-west-1")
    with mock.patch("botocore.auth.get_current_datetime", return_value=MOMENT):
        auth.add_auth(request)
    return request.headers["Authorization"], request.headers["X-Amz-Content-SHA256"]


def _ours(
    method: str,
    host: str,
    path: str,
    query: str,
    headers: dict[str, str],
    token: str | None,
    payload_hash: str,
) -> dict[str, str]:
    signed = {"host": host, **{k.lower(): v for k, v in headers.items()}}
    signer = SigV4Signer("AKID", "SECRET/key+", token, "eu-west-1")
    signer.sign(method, path, query, signed, payload_hash, amz_date=AMZ_DATE)
    return signed


def _agree(
    method: str,
    key: str,
    params: dict[str, str],
    headers: dict[str, str],
    token: str | None = None,
    body: bytes = b"",
    scheme: str = "http",
) -> None:
    host = "127.0.0.1:8333" if scheme == "http" else "s3.eu-west-1.amazonaws.com"
    path = "/bucket/" + quote_path(key)
    query = quote_query(params)
    url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
    theirs, payload_hash = _botocore(method, url, headers, token, body, unsigned=scheme == "https")
    ours = _ours(method, host, path, query, headers, token, payload_hash)
    assert ours["authorization"] == theirs
    assert ours["x-amz-content-sha256"] == payload_hash
    assert ours.get("x-amz-security-token") == token


def test_a_get_with_a_query_string_and_a_range() -> None:
    params = {"list-type": "2", "prefix": "files/md5/ab/", "continuation-token": "a b/c=="}
    _agree("GET", "", params, {"Range": "bytes=0-99"})


def test_a_put_with_headers_and_a_body() -> None:
    headers = {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==", "Content-Type": "text/plain"}
    _agree("PUT", "files/md5/d4/1d8cd98f00b204e9800998ecf8427e", {}, headers, body=b"hello")


def test_special_characters_in_keys() -> None:
    _agree("HEAD", "odd/a b+c~é(1)&<x>=?#%!*'.txt", {}, {})
    _agree("DELETE", "日本/ü  two  spaces", {"uploadId": "x/y+z"}, {})


def test_a_session_token_is_sent_and_signed() -> None:
    _agree("GET", "k", {}, {}, token="FQoGZXIvYXdzE//token+/=")


def test_unsigned_payload_over_https() -> None:
    _agree("PUT", "big/object", {"partNumber": "3", "uploadId": "abc"}, {}, scheme="https")


def test_header_values_are_trimmed_and_inner_spaces_collapsed() -> None:
    _agree("PUT", "k", {}, {"x-amz-meta-note": "  two   words  "}, body=b"x")


def test_aws_published_example_get_object() -> None:
    # "Signature Calculations for the Authorization Header: Transferring Payload
    # in a Single Chunk", Amazon S3 API reference: the GET Object example.
    signer = SigV4Signer(
        "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None, "us-east-1"
    )
    headers = {"host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9"}
    signer.sign("GET", "/test.txt", "", headers, EMPTY_SHA256, amz_date="20130524T000000Z")
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_aws_published_signing_key_derivation() -> None:
    # "Examples of how to derive a signing key for Signature Version 4".
    signer = SigV4Signer(
        "AKID", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, "us-east-1", "iam"
    )
    assert signer.signing_key("20120215").hex() == (
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
    )


def test_the_signing_key_is_derived_once_per_day() -> None:
    signer = SigV4Signer("AKID", "SECRET", None, "us-east-1")
    first = signer.signing_key("20240102")
    with mock.patch("bale.remotes.sigv4._hmac", side_effect=AssertionError("derived again")):
        assert signer.signing_key("20240102") is first
    assert signer.signing_key("20240103") != first


def test_the_secret_is_not_in_the_repr() -> None:
    assert "SECRET" not in repr(SigV4Signer("AKID", "SECRET", "TOKEN", "us-east-1"))


def test_signing_costs_microseconds() -> None:
    import time

    signer = SigV4Signer("AKID", "SECRET", None, "us-east-1")
    path = "/bucket/files/md5/ab/" + "c" * 30
    rounds = 2000
    start = time.perf_counter()
    for _ in range(rounds):
        signer.sign("PUT", path, "", {"host": "127.0.0.1:8333"}, UNSIGNED_PAYLOAD)
    per_request = (time.perf_counter() - start) / rounds
    assert per_request < 100e-6  # about 7 µs measured; generous for slow CI


_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    key=_text.filter(bool),
    params=st.dictionaries(_text.filter(bool), _text, max_size=4),
    method=st.sampled_from(["GET", "PUT", "HEAD", "DELETE", "POST"]),
    token=st.none() | st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1),
)
def test_any_key_and_query_sign_like_botocore(
    key: str, params: dict[str, str], method: str, token: str | None
) -> None:
    _agree(method, key, params, {}, token=token)


@pytest.mark.parametrize("value", ["", "a=b&c", "~-_.", "ü"])
def test_query_values_are_encoded_like_botocore(value: str) -> None:
    _agree("GET", "k", {"v": value, "a": "1"}, {})
