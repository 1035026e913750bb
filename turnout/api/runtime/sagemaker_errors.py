"""The runtime API's error answers, in the shapes botocore parses for sagemaker-runtime.

rest-json: the code travels in the `x-amzn-ErrorType` header and the JSON body carries the
message (and, for ModelError, OriginalStatusCode / OriginalMessage), so boto3 raises e.g.
`client.exceptions.ModelError` with those fields in `e.response`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

VARIANT_HEADER = b"x-amzn-invoked-production-variant"
# SageMaker truncates what the model said; keep error bodies bounded too.
MAX_ORIGINAL_MESSAGE = 4096


@dataclass(frozen=True)
class ErrorAnswer:
    """An error answer: HTTP status, SageMaker error code and JSON body fields."""

    status: int
    code: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    headers: tuple[tuple[bytes, bytes], ...] = ()  # extra answer headers

    def with_variant(self, name_header: bytes) -> ErrorAnswer:
        """The answer naming the variant that failed, as SageMaker names it on a ModelError."""
        return replace(self, headers=((VARIANT_HEADER, name_header),))

    def encode(self) -> tuple[list[tuple[bytes, bytes]], bytes]:
        body = json.dumps({**self.fields, "message": self.message, "Message": self.message})
        data = body.encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(data)),
            (b"x-amzn-errortype", self.code.encode()),
            (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
            *self.headers,
        ]
        return headers, data


def validation_error(message: str, status: int = 400) -> ErrorAnswer:
    return ErrorAnswer(status, "ValidationError", message)


def endpoint_not_found(endpoint: str, account_id: str) -> ErrorAnswer:
    return validation_error(f"Endpoint {endpoint} of account {account_id} not found.")


def service_unavailable(message: str) -> ErrorAnswer:
    return ErrorAnswer(503, "ServiceUnavailable", message)


def throttling(message: str) -> ErrorAnswer:
    """A serverless variant at its MaxConcurrency (ADR 0038). AWS lists ThrottlingException
    among the common errors with HTTP 400; botocore reads the code from x-amzn-ErrorType
    (and its retry handlers treat that code as throttling, whatever the status)."""
    return ErrorAnswer(400, "ThrottlingException", message)


def model_error(original_status: int, original_message: str, log_hint: str) -> ErrorAnswer:
    """The model answered with an error, timed out (status 0) or died mid-request (status 0)."""
    original = original_message[:MAX_ORIGINAL_MESSAGE]
    kind = "client" if 400 <= original_status < 500 else "server"
    message = (
        f'Received {kind} error ({original_status}) from primary with message "{original}". '
        f"See {log_hint} for more information."
    )
    return ErrorAnswer(
        424,
        "ModelError",
        message,
        {
            "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
            "OriginalStatusCode": original_status,
            "OriginalMessage": original,
        },
    )


TIMEOUT_MESSAGE = (
    "Your invocation timed out while waiting for a response from container primary. "
    "Review the latency metrics for each container, resolve the issue, and try again."
)
