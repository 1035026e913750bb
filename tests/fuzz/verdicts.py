"""What every answer of the AWS facades and the runtime must be, whatever was sent.

A verdict is None (fine) or one line saying what is wrong. Allowed statuses and error codes
are the documented ones; a 5xx is always a finding (the fuzzers send nothing that should
make turnout fail), and so is an error without SageMaker's shape (`__type` and `message` for
AWS JSON; `x-amzn-ErrorType` and `message`/`Message` for the runtime's rest-json).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import httpx

from turnout.api.sagemaker import shapes
from turnout.api.sagemaker.errors import AwsError
from turnout.api.sagemaker.servicemodel import ServiceModel

# 405: a method other than POST; 413: a body over the limit (CloudWatch's RequestEntityTooLarge).
AWS_JSON_STATUSES = frozenset({200, 400, 404, 405, 409, 413})
# Errors any AWS JSON service answers (AWS's "common errors"), beside each operation's own.
COMMON_AWS_ERRORS = frozenset(
    {
        "ValidationException",
        "SerializationException",
        "UnknownOperationException",
        "InvalidAction",
        "InvalidParameterValue",
        "InvalidParameterCombination",
        "MissingParameter",
        "ValidationError",
        "RequestEntityTooLarge",
        "InvalidParameterException",  # CloudWatch Logs' ValidationException
    }
)
# InvokeEndpoint: 404 unknown path, 405 not POST, 413 payload over the limit, 424 ModelError.
RUNTIME_STATUSES = frozenset({200, 400, 404, 405, 413, 415, 424})
RUNTIME_ERRORS = frozenset({"ValidationError", "ModelError", "ModelNotReadyException"})


def _json(answer: httpx.Response) -> Any:
    try:
        return json.loads(answer.content)
    except ValueError:
        return None


def status_only(answer: httpx.Response, statuses: Collection[int]) -> str | None:
    """A documented status, no 5xx, no traceback (for protocols whose body is not JSON)."""
    if answer.status_code >= 500:
        return f"server error {answer.status_code}: {answer.text[:300]}"
    if answer.status_code not in statuses:
        return f"undocumented status {answer.status_code}: {answer.text[:300]}"
    if "Traceback (most recent call last)" in answer.text:
        return "a traceback in the answer"
    return None


def aws_json(
    answer: httpx.Response,
    model: ServiceModel,
    operation: str | None,
    statuses: Collection[int] = AWS_JSON_STATUSES,
) -> str | None:
    """An AWS JSON answer: a documented status; an error `{"__type", "message"}` with a
    documented code; a success that is an instance of the operation's output shape."""
    problem = status_only(answer, statuses)
    if problem is not None:
        return problem
    body = _json(answer)
    if not isinstance(body, dict):
        return f"{answer.status_code} answer is not a JSON object: {answer.text[:300]}"
    if answer.status_code != 200:
        return _aws_error(answer, body, model)
    if operation is None:
        return "200 for a request no operation serves"
    output = model.operations[operation].get("output")
    if output is not None:
        try:
            shapes.check(model, output["shape"], body)
        except AwsError as err:
            return f"the answer breaks {output['shape']}: {err.message}"
    return None


def _aws_error(answer: httpx.Response, body: dict[str, Any], model: ServiceModel) -> str | None:
    code = body.get("__type")
    message = body.get("message", body.get("Message"))
    if not isinstance(code, str) or not isinstance(message, str):
        return f"error without __type and message: {answer.text[:300]}"
    if code not in COMMON_AWS_ERRORS | _documented(model):
        return f"undocumented error code {code}: {message[:300]}"
    if answer.headers.get("x-amzn-errortype", code).split(":")[0] != code:
        return f"x-amzn-ErrorType {answer.headers['x-amzn-errortype']} but __type {code}"
    return None


def _documented(model: ServiceModel) -> set[str]:
    """The error codes the service documents: each error shape's name, and its code where
    it has one (CloudWatch's query-compatible JSON answers InvalidParameterValue for
    InvalidParameterValueException). Any operation's: AWS adds errors to operations
    before botocore's model lists them there."""
    codes = set()
    for name, shape in model.shapes.items():
        if shape.get("exception"):
            codes |= {name, shape.get("error", {}).get("code", name)}
    return codes


def runtime(answer: httpx.Response) -> str | None:
    """An InvokeEndpoint answer: the model's, or a runtime error in SageMaker's rest-json
    shape. A ModelError must carry the model's 4xx: the built-in worker refuses input it
    cannot decode, it does not fail on it."""
    problem = status_only(answer, RUNTIME_STATUSES)
    if problem is not None or answer.status_code == 200:
        return problem
    body = _json(answer)
    code = answer.headers.get("x-amzn-errortype", "")
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return f"runtime error without a message: {answer.text[:300]}"
    if code not in RUNTIME_ERRORS:
        return f"undocumented runtime error code {code!r}"
    if code == "ModelError" and not 400 <= body.get("OriginalStatusCode", 0) < 500:
        return f"the model failed on the input: {body['message'][:300]}"
    return None
