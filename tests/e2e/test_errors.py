"""Bad invocations get SageMaker's error shapes (never a traceback) and the server goes on
serving: malformed bodies, unknown endpoints and variants, unsupported types, oversize
payloads, a model that raises, one that hangs, and one that cannot load."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, poll_until
from tests.support.models import BROKEN_MESSAGE, digits_rows
from turnout.api.runtime.sagemaker_errors import TIMEOUT_MESSAGE
from turnout.cli.background import BackgroundServer
from turnout.client import Client, EndpointFailed
from turnout.settings import MAX_PAYLOAD_BYTES

pytestmark = pytest.mark.e2e

MODEL_TIMEOUT = 2.0  # short, with a wide margin over a good request on a busy machine
ROWS, LABELS = digits_rows(2)
GOOD_BODY = json.dumps(ROWS)


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    return ("--model-timeout", str(MODEL_TIMEOUT))


@pytest.fixture(scope="module")
def endpoints(deploy: Deploy, artifacts: Artifacts) -> None:
    deploy("good", [VariantOf("A", artifacts.sklearn)])
    deploy("faulty", [VariantOf("F", artifacts.faulty)])


@pytest.fixture(scope="module")
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as session:
        yield session


def invoke(http: httpx.Client, endpoint: str, body: bytes | str, **headers: str) -> httpx.Response:
    headers.setdefault("Content-Type", "application/json")
    return http.post(f"/endpoints/{endpoint}/invocations", content=body, headers=headers)


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The documented error shape: status, x-amzn-ErrorType, a JSON body with the message."""
    assert "Traceback" not in response.text
    assert response.status_code == status, response.text
    assert response.headers["x-amzn-ErrorType"] == code
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    assert body["Message"] == body["message"]
    if code == "ModelError":  # the variant that failed is named, as on a success
        assert response.headers["x-Amzn-Invoked-Production-Variant"] in ("A", "F")
        assert isinstance(body["OriginalStatusCode"], int)
        assert isinstance(body["OriginalMessage"], str)
    return dict(body)


@pytest.fixture(autouse=True)
def still_serves(http: httpx.Client, endpoints: None) -> Iterator[None]:
    """After every error case the good endpoint answers a good request correctly."""
    yield
    response = invoke(http, "good", GOOD_BODY)
    assert response.status_code == 200, response.text
    assert response.json() == LABELS


# -- the caller's mistakes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "original"),
    [
        ("{not json", "application/json", "not valid JSON"),
        ('{"rows": 1}', "application/json", "instances"),
        ("[[1, 2], [3]]", "application/json", ""),
        ("a,b,c\n\x01,,;", "text/csv", ""),
        ("", "text/csv", "empty"),
        (b"\x93NUMPY garbage", "application/x-npy", "npy"),
    ],
    ids=["bad-json", "json-object", "ragged-rows", "csv-garbage", "empty", "npy-garbage"],
)
def test_a_malformed_body_is_the_models_400(
    http: httpx.Client, body: str | bytes, content_type: str, original: str
):
    error = error_of(
        invoke(http, "good", body, **{"Content-Type": content_type}), 424, "ModelError"
    )
    assert error["OriginalStatusCode"] == 400
    assert original in error["OriginalMessage"]


def test_an_unknown_endpoint(http: httpx.Client):
    error = error_of(invoke(http, "nope", GOOD_BODY), 400, "ValidationError")
    assert error["message"] == "Endpoint nope of account 123456789012 not found."


@pytest.mark.parametrize("name", ["not_a_name", "good%0A", "a" * 64], ids=["_", "newline", "64"])
def test_an_invalid_endpoint_name(http: httpx.Client, name: str):
    error = error_of(invoke(http, name, GOOD_BODY), 400, "ValidationError")
    assert error["message"].startswith("Invalid endpoint name")


def test_an_unknown_target_variant(http: httpx.Client):
    response = invoke(http, "good", GOOD_BODY, **{"X-Amzn-SageMaker-Target-Variant": "Z"})
    error = error_of(response, 400, "ValidationError")
    assert error["message"] == "The variant Z is not present in endpoint good."


def test_an_unsupported_content_type(http: httpx.Client):
    response = invoke(http, "good", "<rows/>", **{"Content-Type": "application/xml"})
    assert error_of(response, 424, "ModelError")["OriginalStatusCode"] == 415


def test_an_unsupported_accept(http: httpx.Client):
    response = invoke(http, "good", GOOD_BODY, Accept="image/png")
    assert error_of(response, 424, "ModelError")["OriginalStatusCode"] == 406


def test_a_header_over_1024_characters(http: httpx.Client):
    response = invoke(http, "good", GOOD_BODY, **{"X-Amzn-SageMaker-Custom-Attributes": "x" * 1025})
    error_of(response, 400, "ValidationError")


def test_a_get_instead_of_a_post(http: httpx.Client):
    error_of(http.get("/endpoints/good/invocations"), 405, "ValidationError")


def test_a_payload_over_6_mb(http: httpx.Client):
    response = invoke(http, "good", b"1" * (MAX_PAYLOAD_BYTES + 1))
    assert "exceeds the limit" in error_of(response, 413, "ValidationError")["message"]


def test_a_chunked_payload_over_6_mb(http: httpx.Client):
    def chunks() -> Iterator[bytes]:  # no Content-Length: the router counts as it reads
        for _ in range(7):
            yield b"1" * (1024 * 1024)

    response = http.post(
        "/endpoints/good/invocations",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    error_of(response, 413, "ValidationError")


def test_a_payload_of_exactly_6_mb_reaches_the_model(http: httpx.Client):
    """The limit is inclusive: the model, not the router, rejects this (bad JSON)."""
    response = invoke(http, "good", b"1" * MAX_PAYLOAD_BYTES + b"")
    assert error_of(response, 424, "ModelError")["OriginalStatusCode"] == 400


# -- the model's failures --------------------------------------------------------------


def test_a_model_that_raises(http: httpx.Client):
    response = invoke(http, "faulty", json.dumps({"raise": "the model is unhappy"}))
    error = error_of(response, 424, "ModelError")
    assert response.headers["x-Amzn-Invoked-Production-Variant"] == "F"
    assert error["OriginalStatusCode"] == 500
    assert error["OriginalMessage"] == "RuntimeError: the model is unhappy"
    assert "the model is unhappy" in error["message"]


def test_a_model_that_hangs_times_out_and_its_instance_recovers(http: httpx.Client):
    response = invoke(http, "faulty", json.dumps({"hang": 10 * MODEL_TIMEOUT}))
    error = error_of(response, 424, "ModelError")
    assert response.headers["x-Amzn-Invoked-Production-Variant"] == "F"
    assert error["OriginalStatusCode"] == 0
    assert error["OriginalMessage"] == TIMEOUT_MESSAGE

    # The hung instance is restarted; until then requests wait for it or get a 503.
    def answer() -> httpx.Response:
        return invoke(http, "faulty", GOOD_BODY)

    recovered = poll_until(answer, lambda r: r.status_code == 200, 60, "faulty answering again")
    assert recovered.json() == LABELS


def test_a_model_that_cannot_load_fails_its_endpoint(
    client: Client, deploy: Deploy, artifacts: Artifacts, http: httpx.Client
):
    with pytest.raises(EndpointFailed) as failed:
        deploy("broken", [VariantOf("X", artifacts.broken)])
    assert BROKEN_MESSAGE in (failed.value.reason or "")
    described = client.describe_endpoint("broken")
    assert described["status"] == "Failed"
    assert BROKEN_MESSAGE in (described["failure_reason"] or "")
    error_of(invoke(http, "broken", GOOD_BODY), 400, "ValidationError")


# -- as boto3 sees them ----------------------------------------------------------------


def test_boto3_parses_a_model_error(server: BackgroundServer):
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(runtime.exceptions.ModelError) as raised:
        runtime.invoke_endpoint(
            EndpointName="faulty",
            Body=json.dumps({"raise": "from boto3"}),
            ContentType="application/json",
        )
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 500
    assert error["OriginalMessage"] == "RuntimeError: from boto3"
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-invoked-production-variant"] == "F"
    with pytest.raises(runtime.exceptions.ValidationError):
        runtime.invoke_endpoint(EndpointName="nope", Body=GOOD_BODY, ContentType="text/csv")
