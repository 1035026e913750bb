"""CloudWatch Logs (AWS JSON 1.1, `X-Amz-Target: Logs_20140328.<Op>`) as an ASGI app,
wire-compatible with boto3's "logs" client for SageMaker endpoints' log groups.

Requests are checked against botocore's own `logs` service model before a handler runs;
handlers read files, so they run in worker threads. Errors have AWS's shape; a broken
constraint is an InvalidParameterException, as CloudWatch Logs answers it.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from turnout.api import awsjson
from turnout.api.logs.groups import LogFiles
from turnout.api.logs.operations import HANDLERS, Logs
from turnout.api.sagemaker import protocol
from turnout.api.sagemaker.errors import AwsError, internal_failure
from turnout.api.sagemaker.protocol import Reply
from turnout.api.sagemaker.servicemodel import ServiceModel, prune
from turnout.asgi import Receive, Scope, Send

log = logging.getLogger("turnout.api.logs")

TARGET_PREFIX = b"Logs_20140328."


def is_logs_request(scope: Scope) -> bool:
    return any(
        k == awsjson.TARGET_HEADER and v.startswith(TARGET_PREFIX) for k, v in scope["headers"]
    )


@functools.cache
def service_model() -> ServiceModel:
    from botocore.loaders import Loader  # heavy: only when first needed

    return prune(Loader().load_service_model("logs", "service-2"), tuple(HANDLERS))


def handle(logs: Logs, target: str, body: bytes) -> Reply:
    """One request, start to end (synchronous: runs in a worker thread)."""
    try:
        try:
            handler, params = awsjson.request_of(service_model(), HANDLERS, target, body)
        except AwsError as err:  # CloudWatch Logs' word for a broken constraint
            if err.code == "ValidationException":
                err.code = "InvalidParameterException"
            raise
        return protocol.answer(handler(logs, params))
    except AwsError as err:
        return protocol.error(err)
    except Exception:
        log.exception("CloudWatch Logs %s failed", target)
        return protocol.error(internal_failure())


class LogsApi:
    def __init__(self, logs_dir: Path, account: str, region: str) -> None:
        self._logs = Logs(LogFiles(logs_dir), account, region)
        # Load the service model now, off the event loop, so the first call is not slow.
        threading.Thread(target=service_model, name="logs-model", daemon=True).start()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await awsjson.serve(functools.partial(handle, self._logs), scope, receive, send)
