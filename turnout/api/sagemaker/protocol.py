"""AWS JSON 1.1 framing: `POST /`, `X-Amz-Target: SageMaker.<Operation>`, JSON both ways.

Errors are `{"__type": code, "message": text}` with the HTTP status of the error; the code
also travels in `x-amzn-ErrorType`, which botocore reads for either protocol.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from turnout.api.sagemaker.errors import AwsError, serialization_error

CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_REQUEST_BYTES = 1024 * 1024  # control-plane requests are small; bound what we parse
# SageMaker's deepest input shape nests well under this; the validator recurses per level.
MAX_DEPTH = 64


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    error_code: str | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-type", CONTENT_TYPE.encode()),
            (b"content-length", b"%d" % len(self.body)),
            (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
        ]
        if self.error_code is not None:
            headers.append((b"x-amzn-errortype", self.error_code.encode()))
        return headers


def operation_of(target: str, prefix: str) -> str | None:
    """`SageMaker.CreateModel` -> `CreateModel`; None for another service's target."""
    service, dot, operation = target.partition(".")
    return operation if dot and service == prefix and operation else None


def decode(body: bytes) -> dict[str, Any]:
    """The request's JSON object; an empty body is `{}` (AWS accepts it)."""
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise serialization_error(f"The request body is not valid JSON: {exc}.") from None
    except RecursionError:  # nested deeper than the parser goes
        raise _too_deep() from None
    if nested_deeper(params, MAX_DEPTH):
        raise _too_deep()
    if not isinstance(params, dict):
        raise serialization_error("The request body must be a JSON object.")
    return params


def nested_deeper(value: Any, limit: int) -> bool:
    """Whether the arrays and objects of JSON `value` nest more than `limit` levels (level
    by level, not recursively: the value may be deep enough to exhaust the stack)."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(limit):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return bool(level)


def _too_deep() -> AwsError:
    return serialization_error(f"The request body nests more than {MAX_DEPTH} levels deep.")


def answer(value: dict[str, Any]) -> Reply:
    return Reply(200, json.dumps(value, separators=(",", ":")).encode())


def error(err: AwsError) -> Reply:
    body = json.dumps({"__type": err.code, "message": err.message}).encode()
    return Reply(err.status, body, err.code)
