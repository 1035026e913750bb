"""AWS JSON 1.1 over ASGI, for every facade that speaks it (SageMaker, CloudWatch Logs):
read the X-Amz-Target header and a bounded body, run the synchronous handler in a worker
thread (it may touch the store or files), send its reply."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from turnout.api.body import read_body
from turnout.api.sagemaker import protocol, shapes
from turnout.api.sagemaker.errors import AwsError, serialization_error, unknown_operation
from turnout.api.sagemaker.protocol import Reply
from turnout.api.sagemaker.servicemodel import ServiceModel
from turnout.asgi import Receive, Scope, Send

TARGET_HEADER = b"x-amz-target"

Handle = Callable[[str, bytes], Reply]  # (X-Amz-Target, body) -> reply
H = TypeVar("H")


def request_of(
    model: ServiceModel, handlers: Mapping[str, H], target: str, body: bytes
) -> tuple[H, dict[str, Any]]:
    """The handler X-Amz-Target names and the body's parameters, checked against the
    service model (AwsErrors with AWS's wording otherwise)."""
    operation = protocol.operation_of(target, model.target_prefix)
    handler = handlers.get(operation or "")
    if operation is None or handler is None:
        raise unknown_operation(target)
    params = protocol.decode(body)
    shape = model.input_shape(operation)
    if shape is None:
        return handler, params
    shapes.check(model, shape, params)
    return handler, shapes.without_nulls(model, shape, params)


async def serve(handle: Handle, scope: Scope, receive: Receive, send: Send) -> None:
    target = ""
    for key, value in scope["headers"]:
        if key == TARGET_HEADER:
            target = value.decode("latin-1")
    body = await read_body(receive, protocol.MAX_REQUEST_BYTES)
    if body is None:
        reply = protocol.error(
            serialization_error(
                f"The request body is larger than {protocol.MAX_REQUEST_BYTES} bytes."
            )
        )
    elif scope["method"] != "POST":
        reply = protocol.error(AwsError("UnknownOperationException", "Use POST.", 405))
    else:
        reply = await asyncio.to_thread(handle, target, body)
    await send({"type": "http.response.start", "status": reply.status,
                "headers": reply.headers()})  # fmt: skip
    await send({"type": "http.response.body", "body": reply.body})
