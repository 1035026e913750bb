"""A SigV4-signed request captured on the wire and replayed (`turnout serve --credentials`):
accepted while its X-Amz-Date is within 5 minutes of the server's clock, refused with
403 InvalidSignatureException "Signature expired" after; a replay with a changed body is
refused; the presigned (query-string) form is not taken at all.

Waiting five minutes is not an option in a test, so the captured request is one boto3
signed with its clock set back: a request captured 6 minutes ago carries exactly that
X-Amz-Date and signature. boto3 signs with botocore.auth.get_current_datetime.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from typing import Any

import botocore.auth
import httpx
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.credentials import credentials_args
from turnout.cli.background import BackgroundServer

from .conftest import ACCESS_KEY, REGION, SECRET_KEY, clients

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server_args(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    return credentials_args(tmp_path_factory, ACCESS_KEY, SECRET_KEY)


class Captured:
    """The last request a boto3 client sent, as prepared (headers, signature, body)."""

    def __init__(self, client: Any) -> None:
        self.method = ""
        self.url = ""
        self.headers: dict[str, str] = {}
        self.body = b""
        client.meta.events.register("before-send", self._grab)

    def _grab(self, request: Any, **_: Any) -> None:  # returning None: boto3 still sends it
        self.method, self.url = request.method, request.url
        self.headers = {
            k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }
        body = request.body or b""
        self.body = body.encode() if isinstance(body, str) else bytes(body)

    def replay(self, body: bytes | None = None) -> httpx.Response:
        """The same request again, byte for byte (or with another body), from httpx."""
        content = self.body if body is None else body
        # httpx counts the body itself; every other header goes out as boto3 signed it.
        headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
        return httpx.request(self.method, self.url, headers=headers, content=content, timeout=30)


@pytest.fixture
def shifted_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float], None]]:
    """shift(minutes): boto3 signs as if its clock were that many minutes ahead (or behind)."""
    real = botocore.auth.get_current_datetime

    def shift(minutes: float) -> None:
        def now(*args: Any, **kwargs: Any) -> datetime.datetime:
            return real(*args, **kwargs) + datetime.timedelta(minutes=minutes)

        monkeypatch.setattr(botocore.auth, "get_current_datetime", now)

    yield shift


def refusal(answer: httpx.Response) -> tuple[int, str, str]:
    document = answer.json()
    return answer.status_code, document["__type"], document["message"]


def test_a_fresh_capture_replays_and_one_from_6_minutes_ago_is_refused(
    server: BackgroundServer, shifted_clock: Callable[[float], None]
) -> None:
    sm, _ = clients(server.url)
    wire = Captured(sm)
    listed = sm.list_endpoints()
    replayed = wire.replay()
    # Inside the window a replay is accepted (SigV4 has no nonce: the window is the bound).
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["Endpoints"] == listed["Endpoints"]

    shifted_clock(-4)  # a capture 4 minutes old: still inside the window
    sm.list_endpoints()
    assert wire.replay().status_code == 200
    four_minutes_old = wire.headers["X-Amz-Date"]

    shifted_clock(-6)  # a capture 6 minutes old: boto3 itself is refused, and so is a replay
    with pytest.raises(ClientError) as raised:
        sm.list_endpoints()
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidSignatureException"
    assert error["Message"].startswith("Signature expired")
    status, code, message = refusal(wire.replay())
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith(f"Signature expired: {wire.headers['X-Amz-Date']} is now earlier")
    assert wire.headers["X-Amz-Date"] < four_minutes_old


def test_a_request_signed_6_minutes_ahead_is_refused(
    server: BackgroundServer, shifted_clock: Callable[[float], None]
) -> None:
    sm, _ = clients(server.url)
    wire = Captured(sm)
    shifted_clock(+6)
    with pytest.raises(ClientError):
        sm.list_endpoints()
    status, code, message = refusal(wire.replay())
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("Signature not yet current")


def test_the_runtime_replays_alike(
    server: BackgroundServer, shifted_clock: Callable[[float], None]
) -> None:
    _, rt = clients(server.url)
    wire = Captured(rt)
    with pytest.raises(ClientError) as raised:  # signed rightly: the answer is about the endpoint
        rt.invoke_endpoint(EndpointName="nowhere", ContentType="application/json", Body=b"[1]")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] != 403
    fresh = wire.replay()
    assert fresh.status_code == raised.value.response["ResponseMetadata"]["HTTPStatusCode"]
    shifted_clock(-6)
    with pytest.raises(ClientError):
        rt.invoke_endpoint(EndpointName="nowhere", ContentType="application/json", Body=b"[1]")
    status, code, message = refusal(wire.replay())
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("Signature expired")


def test_a_replay_with_a_changed_body_is_refused(server: BackgroundServer) -> None:
    sm, _ = clients(server.url)
    wire = Captured(sm)
    with pytest.raises(ClientError):  # signed rightly; there is no such endpoint
        sm.describe_endpoint(EndpointName="mine")
    assert wire.replay().status_code == 400  # ValidationException: the signature passed
    changed = json.dumps({"EndpointName": "someone-elses"}).encode()
    status, code, message = refusal(wire.replay(body=changed))
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match")
    # Another operation under the same signature (X-Amz-Target is a signed header) too.
    wire.headers["X-Amz-Target"] = "SageMaker.DeleteEndpoint"
    assert refusal(wire.replay())[:2] == (403, "InvalidSignatureException")


def test_a_presigned_url_is_not_taken(server: BackgroundServer) -> None:
    """turnout takes SigV4 in the Authorization header only: a query-string signature
    (X-Amz-Signature, X-Amz-Expires) is no way in, expired or not."""
    request = AWSRequest(
        method="POST",
        url=f"{server.url}/",
        headers={
            "X-Amz-Target": "SageMaker.ListEndpoints",
            "Content-Type": "application/x-amz-json-1.1",
        },
        data=b"{}",
    )
    credentials = Credentials(ACCESS_KEY, SECRET_KEY)
    botocore.auth.SigV4QueryAuth(credentials, "sagemaker", REGION, expires=300).add_auth(request)
    assert "X-Amz-Signature=" in request.url and "X-Amz-Expires=300" in request.url
    answer = httpx.post(request.url, headers=dict(request.headers.items()), content=b"{}")
    assert refusal(answer)[:2] == (403, "MissingAuthenticationTokenException")
