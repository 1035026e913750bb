"""Deeply nested JSON (`[[[[...` or `{"a":{"a":...`, deeper than the parser's stack) gets
each API's documented 400, never a 500: the SageMaker facade (SerializationException, as
AWS JSON 1.1 answers), the REST API, the Open Inference Protocol and InvokeEndpoint (the
model's 400 inside a ModelError). The server goes on serving."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf
from tests.support.models import digits_rows
from turnout.api.sagemaker.protocol import MAX_DEPTH, nested_deeper
from turnout.cli.background import BackgroundServer

pytestmark = pytest.mark.e2e

DEPTH = 100_000
BODIES = {
    "arrays": b"[" * DEPTH + b"]" * DEPTH,
    "objects": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    # parses, but deeper than any SageMaker shape: the validator must not recurse into it
    "member": b'{"ModelName":"m","Tags":' + b"[" * 900 + b"]" * 900 + b"}",
}
ROWS, LABELS = digits_rows(2)


@pytest.fixture(scope="module")
def http(server: BackgroundServer, deploy: Deploy, artifacts: Artifacts) -> Iterator[httpx.Client]:
    deploy("nested", [VariantOf("A", artifacts.sklearn)])
    with httpx.Client(base_url=server.url, timeout=30) as session:
        yield session


@pytest.fixture(autouse=True)
def still_serves(http: httpx.Client) -> Iterator[None]:
    yield
    answer = http.post("/endpoints/nested/invocations", json=ROWS)
    assert answer.status_code == 200 and answer.json() == LABELS


def post(http: httpx.Client, path: str, shape: str) -> httpx.Response:
    answer = http.post(path, content=BODIES[shape], headers={"Content-Type": "application/json"})
    no_traceback(answer)
    return answer


def no_traceback(answer: httpx.Response) -> None:
    assert "Traceback" not in answer.text and "RecursionError" not in answer.text


@pytest.mark.parametrize("operation", ["CreateModel", "ListModels", "CreateEndpointConfig"])
@pytest.mark.parametrize("shape", BODIES)
def test_the_sagemaker_facade_answers_serialization_exception(
    http: httpx.Client, operation: str, shape: str
) -> None:
    answer = http.post(
        "/",
        content=BODIES[shape],
        headers={
            "X-Amz-Target": f"SageMaker.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    no_traceback(answer)
    assert answer.status_code == 400, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "SerializationException"
    assert answer.json() == {
        "__type": "SerializationException",
        "message": f"The request body nests more than {MAX_DEPTH} levels deep.",
    }


@pytest.mark.parametrize(
    "path", ["/api/v1/models", "/api/v1/alarms", "/api/v1/endpoints/nested/feedback"]
)
@pytest.mark.parametrize("shape", ["arrays", "objects"])
def test_the_rest_api_answers_400(http: httpx.Client, path: str, shape: str) -> None:
    answer = post(http, path, shape)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "ValidationError"


@pytest.mark.parametrize("shape", ["arrays", "objects"])
def test_open_inference_answers_400(http: httpx.Client, shape: str) -> None:
    answer = post(http, "/v2/models/nested/infer", shape)
    assert answer.status_code == 400, answer.text
    assert "not valid JSON" in answer.json()["error"]


@pytest.mark.parametrize("shape", ["arrays", "objects"])
def test_invoke_endpoint_answers_the_models_400(http: httpx.Client, shape: str) -> None:
    answer = post(http, "/endpoints/nested/invocations", shape)
    assert answer.status_code == 424, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "ModelError"
    assert answer.json()["OriginalStatusCode"] == 400


def test_nesting_is_counted_by_levels() -> None:
    def nest(depth: int) -> object:
        value: object = 1
        for level in range(depth):
            value = [value] if level % 2 else {"a": value}
        return value

    assert not nested_deeper(nest(MAX_DEPTH), MAX_DEPTH)
    assert nested_deeper(nest(MAX_DEPTH + 1), MAX_DEPTH)
    assert not nested_deeper(json.loads('{"a": [1, {"b": []}], "c": "x"}'), 4)
    assert nested_deeper(json.loads('{"a": [1, {"b": []}], "c": "x"}'), 3)
    assert not nested_deeper("text", 0)
