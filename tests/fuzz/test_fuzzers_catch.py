"""The fuzzers can fail: each is pointed at an app with a deliberately broken handler (built
in-process, the real facade code around it) and must report it. Without these, a fuzz run
with no findings could mean a fuzzer that never reaches anything."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
import schemathesis

with warnings.catch_warnings():  # "install httpx2": a choice for the suite, not for here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tests.fuzz.facades import fuzz_aws_json, fuzz_runtime
from tests.fuzz.openapi import fuzz_openapi
from turnout.api.rest import build_rest_app
from turnout.api.sagemaker import facade, shapes
from turnout.api.sagemaker.facade import SageMakerApi
from turnout.api.sagemaker.servicemodel import sagemaker
from turnout.asgi import Receive, Scope, Send

COUNT = 30


@pytest.fixture
def sagemaker_with(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The SageMaker facade serving only ListModels and DescribeModel, by the given handlers."""

    def install(list_models: Any, describe_model: Any) -> TestClient:
        handlers = {"ListModels": list_models, "DescribeModel": describe_model}
        monkeypatch.setattr(facade, "HANDLERS", handlers)
        return TestClient(SageMakerApi(None, "123456789012", "us-east-1"))  # type: ignore[arg-type]

    return install


def _fine(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    return {"Models": []}


def _described(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    # Trusts the facade's validation: ModelName is there and a string.
    name = params["ModelName"].strip()
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:model/{name}"
    return {"ModelName": name, "PrimaryContainer": {}, "CreationTime": 0, "ModelArn": arn}


def test_a_handler_that_raises_is_reported(sagemaker_with: Any) -> None:
    def broken(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("broken on purpose")

    report = fuzz_aws_json(
        sagemaker_with(broken, _described), sagemaker(), ["ListModels"], count=COUNT
    )
    assert any("server error 500" in problem for _, problem in report.findings), str(report)


def test_an_answer_that_breaks_the_output_shape_is_reported(sagemaker_with: Any) -> None:
    def wrong(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        return {"Models": [{"ModelName": 5}]}

    report = fuzz_aws_json(
        sagemaker_with(wrong, _described), sagemaker(), ["ListModels"], count=COUNT
    )
    assert any("breaks ListModelsOutput" in problem for _, problem in report.findings), str(report)


def test_input_validation_switched_off_is_reported(
    sagemaker_with: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = sagemaker_with(_fine, _described)
    clean = fuzz_aws_json(http, sagemaker(), ["DescribeModel"], count=COUNT)
    assert not clean.findings, str(clean)  # the same handler behind the real validation
    monkeypatch.setattr(shapes, "check", lambda *args: None)
    report = fuzz_aws_json(http, sagemaker(), ["DescribeModel"], count=COUNT)
    assert any("server error 500" in problem for _, problem in report.findings), str(report)


async def _runtime_that_fails_on_non_json(scope: Scope, receive: Receive, send: Send) -> None:
    """An InvokeEndpoint that answers 500 with a traceback when the body is not JSON."""
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    try:
        json.loads(body)
        status, answer = 200, b"[1]"
    except ValueError:
        status, answer = 500, b"Traceback (most recent call last): ..."
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": answer})


def test_a_runtime_that_fails_on_bad_payloads_is_reported() -> None:
    report = fuzz_runtime(TestClient(_runtime_that_fails_on_non_json), "e", "A", b"[[1]]", COUNT)
    assert any("server error 500" in problem for _, problem in report.findings), str(report)


def test_schemathesis_reports_a_broken_route() -> None:
    """The real REST app without a control plane: GET /api/v1/models/{name} raises (a 500),
    and its answers to bad names no longer match the document."""
    app = build_rest_app(None, None)  # type: ignore[arg-type]
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    report = fuzz_openapi(schema.include(path="/api/v1/models/{name}", method="GET"), count=COUNT)
    assert any("500" in problem for _, problem in report.findings), str(report)
