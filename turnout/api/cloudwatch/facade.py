"""The CloudWatch API as an ASGI app: which protocol, which operation, decode, check against
botocore's model, run, answer in the caller's protocol.

Metric operations are coroutines (fresh counts live on the event loop; store reads go to
threads inside Monitoring); alarm operations are synchronous and run in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from turnout.api.body import read_body
from turnout.api.cloudwatch import alarms, metrics, protocols
from turnout.api.cloudwatch.backlog import BacklogSource
from turnout.api.cloudwatch.context import Answer, Context, Params
from turnout.api.cloudwatch.errors import (
    CloudWatchError,
    internal_failure,
    invalid_action,
    invalid_parameter,
    missing_parameter,
    not_found,
    service_unavailable,
    validation_error,
)
from turnout.api.cloudwatch.protocols import CBOR_PATH, Kind, Reply
from turnout.api.cloudwatch.servicemodel import TARGET_PREFIX, cloudwatch
from turnout.api.sagemaker import shapes
from turnout.api.sagemaker.errors import AwsError
from turnout.asgi import Receive, Scope, Send
from turnout.errors import NotFound, StoreUnavailable, TurnoutError
from turnout.monitoring import Monitoring
from turnout.store.scaling import ScalingStore

log = logging.getLogger("turnout.api.cloudwatch")

TARGET_HEADER = b"x-amz-target"
FORM = b"application/x-www-form-urlencoded"

AsyncHandler = Callable[[Context, Params], Awaitable[Answer]]
SyncHandler = Callable[[Context, Params], Answer]
ASYNC_HANDLERS: Mapping[str, AsyncHandler] = {
    "GetMetricStatistics": metrics.get_metric_statistics,
    "GetMetricData": metrics.get_metric_data,
    "ListMetrics": metrics.list_metrics,
}
SYNC_HANDLERS: Mapping[str, SyncHandler] = {
    "PutMetricAlarm": alarms.put_metric_alarm,
    "DescribeAlarms": alarms.describe_alarms,
    "DescribeAlarmHistory": alarms.describe_alarm_history,
    "DeleteAlarms": alarms.delete_alarms,
    "SetAlarmState": alarms.set_alarm_state,
}


def is_cloudwatch_request(scope: Scope) -> bool:
    """RPC v2 CBOR by path, AWS JSON 1.0 by X-Amz-Target, query by a form posted to `/`
    (the SageMaker facade's AWS JSON 1.1 is never a form)."""
    if scope["path"].startswith(CBOR_PATH):
        return True
    headers = scope["headers"]
    target = next((v for k, v in headers if k == TARGET_HEADER), None)
    if target is not None:  # another service's target wins over a form content type (curl -d)
        return target.startswith(TARGET_PREFIX.encode())
    return (
        scope["path"] == "/"
        and scope["method"] == "POST"
        and any(k == b"content-type" and v.startswith(FORM) for k, v in headers)
    )


def error_reply(scope: Scope, err: CloudWatchError) -> Reply:
    """`err` in the protocol of the request `scope` (for refusals made before the facade)."""
    return protocols.error(protocols.kind_of(scope["path"], _target(scope)), err)


def _target(scope: Scope) -> str:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == TARGET_HEADER), "")


class CloudWatchApi:
    def __init__(
        self,
        monitoring: Monitoring,
        account: str,
        region: str,
        backlog: BacklogSource | None = None,
        actions: ScalingStore | None = None,
    ) -> None:
        self._ctx = Context(monitoring, account, region, backlog, actions)
        # Load the service model now, off the event loop, so the first call is not slow.
        threading.Thread(target=cloudwatch, name="cloudwatch-model", daemon=True).start()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = _target(scope)
        kind = protocols.kind_of(scope["path"], target)
        body = await read_body(receive, protocols.MAX_REQUEST_BYTES)
        if body is None:
            message = f"The request body is larger than {protocols.MAX_REQUEST_BYTES} bytes."
            reply = protocols.error(kind, CloudWatchError("RequestEntityTooLarge", message, 413))
        elif scope["method"] != "POST":
            reply = protocols.error(kind, CloudWatchError("InvalidAction", "Use POST.", 405))
        else:
            reply = await self._handle(kind, scope["path"], target, body)
        await send({"type": "http.response.start", "status": reply.status,
                    "headers": reply.headers})  # fmt: skip
        await send({"type": "http.response.body", "body": reply.body})

    async def _handle(self, kind: Kind, path: str, target: str, body: bytes) -> Reply:
        operation = "?"  # for the log, until known
        try:
            # Parsing a body of up to 1 MB is work for a thread, not the event loop.
            operation, params = await asyncio.to_thread(_read, kind, path, target, body)
            answer = await self._run(operation, params)
            return await asyncio.to_thread(protocols.answer, kind, cloudwatch(), operation, answer)
        except CloudWatchError as err:
            return protocols.error(kind, err)
        except TurnoutError as err:
            return protocols.error(kind, _cloudwatch_error(err))
        except Exception:
            log.exception("CloudWatch %s failed", operation)
            return protocols.error(kind, internal_failure())

    async def _run(self, operation: str, params: dict[str, Any]) -> Answer:
        if operation in ASYNC_HANDLERS:
            return await ASYNC_HANDLERS[operation](self._ctx, params)
        return await asyncio.to_thread(SYNC_HANDLERS[operation], self._ctx, params)


def _read(kind: Kind, path: str, target: str, body: bytes) -> tuple[str, dict[str, Any]]:
    """The operation and its parameters, checked against the model (synchronous)."""
    model = cloudwatch()
    form = protocols.parse_form(body) if kind is Kind.QUERY else {}
    operation = protocols.operation_of(kind, path, target, form)
    if operation not in ASYNC_HANDLERS and operation not in SYNC_HANDLERS:
        raise invalid_action(operation)
    shape = model.input_shape(operation)
    params = protocols.decode(kind, body, model, shape, form)
    if shape is None:
        return operation, params
    _check(model, shape, params)
    return operation, shapes.without_nulls(model, shape, params)


def _check(model: Any, shape: str, params: Any) -> None:
    """Required members first (MissingParameter), then types and constraints, in
    CloudWatch's codes (InvalidParameterValue, ValidationError)."""
    for member in model.shapes[shape].get("required", ()):
        if params.get(member) is None:
            raise missing_parameter(member)
    try:
        shapes.check(model, shape, params)
    except AwsError as err:
        if err.code == "SerializationException":
            raise invalid_parameter(err.message) from None
        raise validation_error(err.message) from None


def _cloudwatch_error(err: TurnoutError) -> CloudWatchError:
    if isinstance(err, NotFound):
        return not_found(str(err))
    if isinstance(err, StoreUnavailable):
        return service_unavailable(str(err))
    return invalid_parameter(str(err))
