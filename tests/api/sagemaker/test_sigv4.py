"""The verifier against botocore's own signer: what boto3 signs passes, any change fails."""

from __future__ import annotations

import dataclasses
import datetime
import urllib.parse

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from turnout.api.sigv4 import AuthError, Request, verify

SECRETS = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}


def signed(
    url: str = "http://127.0.0.1:8080/",
    body: bytes = b'{"EndpointName": "e"}',
    *,
    key: str = "AKIDEXAMPLE",
    secret: str = SECRETS["AKIDEXAMPLE"],
    headers: dict[str, str] | None = None,
    service: str = "sagemaker",
    region: str = "us-east-1",
) -> Request:
    """A request signed exactly as boto3 signs it, then taken apart as the server sees it."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={
            "X-Amz-Target": "SageMaker.DescribeEndpoint",
            "Content-Type": "application/x-amz-json-1.1",
            **(headers or {}),
        },
    )
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    parts = urllib.parse.urlsplit(url)
    wire_headers = [("Host", parts.netloc), *request.headers.items()]
    return Request("POST", parts.path or "/", parts.query, wire_headers, body)


def signing_time(request: Request) -> datetime.datetime:
    amz_date = next(v for k, v in request.headers if k.lower() == "x-amz-date")
    return datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)


def ok(request: Request, skew: datetime.timedelta = datetime.timedelta()) -> str:
    return verify(request, SECRETS, signing_time(request) + skew)


def refused(request: Request, skew: datetime.timedelta = datetime.timedelta()) -> AuthError:
    with pytest.raises(AuthError) as raised:
        verify(request, SECRETS, signing_time(request) + skew)
    assert raised.value.status == 403
    return raised.value


def test_a_request_signed_by_botocore_passes() -> None:
    assert ok(signed()) == "AKIDEXAMPLE"


@given(
    path=st.text(alphabet="abcXYZ019-_.~", min_size=1, max_size=20),
    query=st.dictionaries(
        st.text(alphabet="abc=&% ", min_size=1, max_size=5), st.text(max_size=5), max_size=3
    ),
    body=st.binary(max_size=200),
    region=st.sampled_from(["us-east-1", "eu-west-3"]),
)
def test_any_path_query_body_and_region_signed_by_botocore_pass(
    path: str, query: dict[str, str], body: bytes, region: str
) -> None:
    url = f"http://127.0.0.1:9/endpoints/{urllib.parse.quote(path)}/invocations"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    assert ok(signed(url, body, region=region)) == "AKIDEXAMPLE"


def test_a_wrong_secret_is_an_invalid_signature() -> None:
    error = refused(signed(secret="not-the-secret"))
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith("The request signature we calculated does not match")


def test_an_unknown_access_key_is_unrecognized() -> None:
    error = refused(signed(key="AKIDUNKNOWN"))
    assert error.code == "UnrecognizedClientException"
    assert error.message == "The security token included in the request is invalid."


def test_no_authorization_header_is_a_missing_token() -> None:
    request = signed()
    bare = [(k, v) for k, v in request.headers if k.lower() != "authorization"]
    error = refused(dataclasses.replace(request, headers=bare))
    assert (error.code, error.message) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


def test_a_garbled_authorization_header_is_incomplete() -> None:
    request = signed()
    garbled = [
        (k, "AWS4-HMAC-SHA256 Credential=x" if k.lower() == "authorization" else v)
        for k, v in request.headers
    ]
    assert refused(dataclasses.replace(request, headers=garbled)).code == (
        "IncompleteSignatureException"
    )


@pytest.mark.parametrize("minutes", [-6, 6])
def test_a_clock_skew_beyond_five_minutes_is_refused(minutes: int) -> None:
    # The server's clock is `minutes` ahead of (or behind) the client's.
    error = refused(signed(), datetime.timedelta(minutes=minutes))
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith("Signature expired" if minutes > 0 else "Signature not yet")
    assert ok(signed(), datetime.timedelta(minutes=minutes // 2))


def test_a_changed_body_is_refused() -> None:
    request = signed(body=b'{"EndpointName": "e"}')
    assert refused(dataclasses.replace(request, body=b'{"EndpointName": "f"}')).code == (
        "InvalidSignatureException"
    )


def test_a_content_hash_header_that_lies_is_refused() -> None:
    request = signed(headers={"X-Amz-Content-Sha256": "0" * 64})
    error = refused(request)
    assert "x-amz-content-sha256" in error.message


def test_a_changed_signed_header_is_refused() -> None:
    request = signed()
    changed = [
        (k, "SageMaker.DeleteEndpoint" if k.lower() == "x-amz-target" else v)
        for k, v in request.headers
    ]
    assert refused(dataclasses.replace(request, headers=changed)).code == (
        "InvalidSignatureException"
    )


def test_a_signed_header_that_is_missing_is_refused() -> None:
    request = signed()
    dropped = [(k, v) for k, v in request.headers if k.lower() != "x-amz-target"]
    error = refused(dataclasses.replace(request, headers=dropped))
    assert "x-amz-target" in error.message


def test_a_changed_path_or_query_is_refused() -> None:
    request = signed("http://127.0.0.1:8080/endpoints/a/invocations?x=1")
    assert refused(dataclasses.replace(request, path="/endpoints/b/invocations"))
    assert refused(dataclasses.replace(request, query="x=2"))
