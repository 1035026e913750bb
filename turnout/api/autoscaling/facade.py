"""Application Auto Scaling as an ASGI app. Requests are checked against botocore's own
`application-autoscaling` service model before a handler runs; handlers touch the store,
so they run in worker threads. Errors have AWS's shape."""

from __future__ import annotations

import functools
import logging
import threading

from turnout.api import awsjson
from turnout.api.autoscaling.operations import HANDLERS, Context
from turnout.api.sagemaker import protocol
from turnout.api.sagemaker.errors import AwsError, internal_failure
from turnout.api.sagemaker.protocol import Reply
from turnout.api.sagemaker.servicemodel import ServiceModel, prune
from turnout.asgi import Receive, Scope, Send
from turnout.deploy.scaling_service import ScalingService

log = logging.getLogger("turnout.api.autoscaling")

TARGET_PREFIX = b"AnyScaleFrontendService."
_PRINTABLE_JAVA = "\\p{Print}+"  # PolicyName's
_PRINTABLE = "[\\x20-\\x7e]+"


def is_autoscaling_request(scope: Scope) -> bool:
    return any(
        k == awsjson.TARGET_HEADER and v.startswith(TARGET_PREFIX) for k, v in scope["headers"]
    )


@functools.cache
def service_model() -> ServiceModel:
    from botocore.loaders import Loader  # heavy: only when first needed

    raw = Loader().load_service_model("application-autoscaling", "service-2")
    model = prune(raw, tuple(HANDLERS))
    for shape in model.shapes.values():
        pattern = shape.get("pattern")
        if pattern == _PRINTABLE_JAVA:
            shape["pattern"] = _PRINTABLE  # type: ignore[index]
        elif pattern is not None and "\\uD800" in pattern:
            # "Any XML character": surrogate pairs Python's re cannot express; JSON's
            # strings are Unicode already, so there is nothing left to check.
            del shape["pattern"]  # type: ignore[attr-defined]
    return model


def handle(ctx: Context, target: str, body: bytes) -> Reply:
    """One request, start to end (synchronous: runs in a worker thread)."""
    try:
        handler, params = awsjson.request_of(service_model(), HANDLERS, target, body)
        return protocol.answer(handler(ctx, params))
    except AwsError as err:
        return protocol.error(err)
    except Exception:
        log.exception("Application Auto Scaling %s failed", target)
        return protocol.error(internal_failure())


class AutoscalingApi:
    def __init__(self, scaling: ScalingService, account: str, region: str) -> None:
        self._ctx = Context(scaling, account, region)
        # Load the service model now, off the event loop, so the first call is not slow.
        threading.Thread(target=service_model, name="autoscaling-model", daemon=True).start()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await awsjson.serve(functools.partial(handle, self._ctx), scope, receive, send)
