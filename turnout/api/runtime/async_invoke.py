"""`POST /endpoints/{EndpointName}/async-invocations`: SageMaker's InvokeEndpointAsync.

The request names its input by location (X-Amzn-SageMaker-InputLocation) and has no body;
it is checked, queued in the store, and answered 202 with where its result and failure will
be: `{"InferenceId", "OutputLocation", "FailureLocation"}` in the body, the locations also in
X-Amzn-SageMaker-OutputLocation / -FailureLocation, as botocore's model says. The worker
(turnout.async_inference.worker) does the rest. Store access runs in a thread (ADR 0031).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa

from turnout.api.runtime import sagemaker_errors as errors
from turnout.asgi import Receive, Scope, Send
from turnout.async_inference.objects import LocationError, parse_object
from turnout.domain.async_inference import (
    DEFAULT_INVOCATION_TIMEOUT,
    DEFAULT_TTL_SECONDS,
    MAX_INVOCATION_TIMEOUT,
    MAX_TTL_SECONDS,
    MIN_INVOCATION_TIMEOUT,
    MIN_TTL_SECONDS,
    AsyncRequest,
    failure_location,
    output_location,
)
from turnout.errors import NotFound, TurnoutError
from turnout.store import Store
from turnout.store.async_queue import AsyncQueue, BacklogFull

log = logging.getLogger(__name__)
T = TypeVar("T")

PREFIX = "/endpoints/"
SUFFIX = "/async-invocations"
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_INFERENCE_ID = re.compile(r"\S[\x20-\x7e]{0,63}")  # botocore: 1..64 printable, no leading space
_MAX_HEADER = 1024
_H = "x-amzn-sagemaker-"
# Request members (botocore's names) by their header, as ASGI gives it (lower case).
_HEADERS = {
    f"{_H}content-type": "ContentType",
    f"{_H}accept": "Accept",
    f"{_H}custom-attributes": "CustomAttributes",
    f"{_H}inference-id": "InferenceId",
    f"{_H}inputlocation": "InputLocation",
    f"{_H}requestttlseconds": "RequestTTLSeconds",
    f"{_H}invocationtimeoutseconds": "InvocationTimeoutSeconds",
    f"{_H}s3outputpathextension": "S3OutputPathExtension",
    f"{_H}filename": "Filename",
}
_UNSUPPORTED = ("S3OutputPathExtension", "Filename")


class _Refused(Exception):
    def __init__(self, answer: errors.ErrorAnswer) -> None:
        self.answer = answer


@dataclass(frozen=True)
class _Paths:
    output: str
    failure: str


class InvokeEndpointAsync:
    """The ASGI app for InvokeEndpointAsync; `queued` is told of each new request."""

    def __init__(
        self, store: Store, queue: AsyncQueue, account_id: str, queued: Callable[[], None]
    ) -> None:
        self._store = store
        self._queue = queue
        self._account_id = account_id
        self._queued = queued

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, headers, body = await self._handle(scope)
        except _Refused as refused:
            headers, body = refused.answer.encode()
            status = refused.answer.status
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        path: str = scope["path"]
        name = path[len(PREFIX) : -len(SUFFIX)]
        if not name or "/" in name:
            raise _Refused(errors.validation_error(f"Unknown path {path}.", status=404))
        if scope["method"] != "POST":
            raise _Refused(errors.validation_error("Use POST to invoke an endpoint.", 405))
        if not _NAME.fullmatch(name):
            raise _Refused(errors.validation_error(f"Invalid endpoint name {name!r}."))
        given = _members(scope["headers"])
        refused = [m for m in _UNSUPPORTED if m in given]
        if refused:
            raise _Refused(
                errors.validation_error(
                    f"turnout does not support {', '.join(refused)} yet; remove it (results go "
                    "to <S3OutputPath>/<InferenceId>.out)."
                )
            )
        location = given.get("InputLocation")
        if not location:
            raise _Refused(
                errors.validation_error(
                    "InputLocation is required: the s3:// or file:// URL of the input."
                )
            )
        try:
            parse_object(location)
        except LocationError as exc:
            raise _Refused(errors.validation_error(str(exc))) from None
        ttl = _seconds(given, "RequestTTLSeconds", MIN_TTL_SECONDS, MAX_TTL_SECONDS,
                       DEFAULT_TTL_SECONDS)  # fmt: skip
        timeout = _seconds(given, "InvocationTimeoutSeconds", MIN_INVOCATION_TIMEOUT,
                           MAX_INVOCATION_TIMEOUT, DEFAULT_INVOCATION_TIMEOUT)  # fmt: skip
        inference_id = given.get("InferenceId")
        if inference_id is None:
            inference_id = str(uuid.uuid4())
        elif not _INFERENCE_ID.fullmatch(inference_id):
            raise _Refused(
                errors.validation_error(
                    "InferenceId must be 1 to 64 printable ASCII characters, not starting "
                    "with a space."
                )
            )
        paths = await _unless_store_down(asyncio.to_thread(self._paths, name))
        now = time.time()
        request = AsyncRequest(
            id=0,
            endpoint=name,
            inference_id=inference_id,
            input_location=location,
            output_location=output_location(paths.output, inference_id),
            failure_location=failure_location(paths.failure, inference_id),
            content_type=given.get("ContentType"),
            accept=given.get("Accept"),
            custom_attributes=given.get("CustomAttributes"),
            enqueued_at=now,
            deadline=now + ttl,
            invocation_timeout=float(timeout),
        )
        try:
            stored = await _unless_store_down(asyncio.to_thread(self._queue.enqueue, request))
        except BacklogFull as exc:
            raise _Refused(errors.service_unavailable(str(exc))) from None
        if stored.input_location != location:
            raise _Refused(
                errors.validation_error(
                    f"InferenceId {inference_id} of endpoint {name} was given to another "
                    "input already: give each request its own InferenceId."
                )
            )
        self._queued()
        body = json.dumps(
            {
                "InferenceId": stored.inference_id,
                "OutputLocation": stored.output_location,
                "FailureLocation": stored.failure_location,
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            (b"x-amzn-sagemaker-outputlocation", stored.output_location.encode()),
            (b"x-amzn-sagemaker-failurelocation", stored.failure_location.encode()),
        ]
        return 202, headers, body

    def _paths(self, name: str) -> _Paths:
        """The endpoint's output and failure paths, as URLs (a thread: reads the store)."""
        try:
            endpoint = self._store.get_endpoint(name)
        except NotFound:
            raise _Refused(errors.endpoint_not_found(name, self._account_id)) from None
        config = self._store.async_inference_of(endpoint.config_name)
        if config is None:
            raise _Refused(
                errors.validation_error(
                    f"Endpoint {name} is not configured for asynchronous inference: create "
                    "its endpoint config with an AsyncInferenceConfig (docs/async-inference.md)."
                )
            )
        output = _as_url(config.output_path)
        return _Paths(output, _as_url(config.failure_path) if config.failure_path else output)


async def _unless_store_down(call: Awaitable[T]) -> T:
    """The store's answer; ServiceUnavailable (503, retry) when it cannot answer now, never
    a 500: the request was not queued. (Refusals and BacklogFull pass through.)"""
    try:
        return await call
    except (_Refused, BacklogFull):
        raise
    except (TurnoutError, sa.exc.SQLAlchemyError) as exc:
        log.warning("InvokeEndpointAsync: the store failed (%s)", exc)
        raise _Refused(
            errors.service_unavailable(
                "The request was not queued: the store cannot answer now; retry shortly."
            )
        ) from None


def _members(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    given: dict[str, str] = {}
    for key, value in headers:
        member = _HEADERS.get(key.decode("latin-1"))
        if member is None:
            continue
        if len(value) > _MAX_HEADER:
            raise _Refused(
                errors.validation_error(f"{member} is longer than {_MAX_HEADER} characters.")
            )
        given[member] = value.decode("latin-1")
    return given


def _seconds(given: dict[str, str], member: str, low: int, high: int, default: int) -> int:
    text = given.get(member)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise _Refused(
            errors.validation_error(f"{member} must be a whole number from {low} to {high}.")
        )
    return int(text)


def _as_url(path: str) -> str:
    """An absolute directory as a file:// URL; URLs as they are."""
    return f"file://{path}" if path.startswith("/") else path
