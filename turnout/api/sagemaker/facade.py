"""The SageMaker control plane as an ASGI app: read, validate, call the service layer, answer.

The request is checked against botocore's service model before any handler runs, so a
handler may index required members directly. Handlers run in worker threads, as the
service layer and store are synchronous.
"""

from __future__ import annotations

import functools
import logging
import threading

from turnout.api import awsjson
from turnout.api.sagemaker import protocol
from turnout.api.sagemaker.context import Context
from turnout.api.sagemaker.errors import (
    AwsError,
    already_exists,
    internal_failure,
    service_unavailable,
    validation_error,
)
from turnout.api.sagemaker.operations import HANDLERS
from turnout.api.sagemaker.protocol import Reply
from turnout.api.sagemaker.servicemodel import sagemaker
from turnout.asgi import Receive, Scope, Send
from turnout.errors import AlreadyExists, NotFound, StoreUnavailable, TurnoutError
from turnout.service import ControlPlane
from turnout.shadow.experiments import InferenceExperiments

log = logging.getLogger("turnout.api.sagemaker")

TARGET_HEADER = b"x-amz-target"


def is_sagemaker_request(scope: Scope) -> bool:
    """AWS JSON 1.1: `POST /`, or anything that carries an X-Amz-Target header."""
    if scope["path"] == "/" and scope["method"] == "POST":
        return True
    return any(key == TARGET_HEADER for key, _ in scope["headers"])


def handle(ctx: Context, target: str, body: bytes) -> Reply:
    """One request, start to end (synchronous: runs in a worker thread)."""
    try:
        handler, params = awsjson.request_of(sagemaker(), HANDLERS, target, body)
        return protocol.answer(handler(ctx, params))
    except AwsError as err:
        return protocol.error(err)
    except TurnoutError as err:
        return protocol.error(_aws_error(ctx, err))
    except Exception:
        log.exception("SageMaker %s failed", target)
        return protocol.error(internal_failure())


def _aws_error(ctx: Context, err: TurnoutError) -> AwsError:
    if isinstance(err, NotFound):
        return ctx.not_found(err.kind, err.name)
    if isinstance(err, AlreadyExists):
        return already_exists(err.kind, err.name, ctx.account, ctx.region)
    if isinstance(err, StoreUnavailable):
        return service_unavailable(str(err))
    # InvalidRequest, Conflict: SageMaker answers both as ValidationException.
    return validation_error(str(err))


class SageMakerApi:
    def __init__(
        self,
        control: ControlPlane,
        account: str,
        region: str,
        inference_experiments: InferenceExperiments | None = None,
    ) -> None:
        self._ctx = Context(control, account, region, inference_experiments)
        # Load the service model now, off the event loop, so the first call is not slow.
        threading.Thread(target=sagemaker, name="sagemaker-model", daemon=True).start()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await awsjson.serve(functools.partial(handle, self._ctx), scope, receive, send)
