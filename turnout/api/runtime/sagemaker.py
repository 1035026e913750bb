"""`POST /endpoints/{EndpointName}/invocations`: SageMaker's InvokeEndpoint, as raw ASGI.

The adapter reads the request (headers bounded as SageMaker bounds them, the body bounded
by the payload limit), hands an Invocation to the dispatcher, and writes its outcome the way
the sagemaker-runtime API does: the model's body with `x-Amzn-Invoked-Production-Variant`,
or an error in SageMaker's shapes (turnout.api.runtime.sagemaker_errors).
"""

from __future__ import annotations

import re
from time import perf_counter

from turnout.api.runtime import sagemaker_errors as errors
from turnout.asgi import Receive, Scope, Send
from turnout.domain.target_model import check_target_model
from turnout.routing.dispatch import Dispatcher, DispatchError, Failure, Invocation
from turnout.routing.switch import SWITCH_HEADERS

PREFIX = "/endpoints/"
SUFFIX = "/invocations"
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_MAX_HEADER = 1024  # SageMaker's limit for ContentType, Accept and CustomAttributes

# Request headers relayed to the instance, by their lower-case name as ASGI gives them.
_CUSTOM_ATTRIBUTES = b"x-amzn-sagemaker-custom-attributes"
_TARGET_VARIANT = b"x-amzn-sagemaker-target-variant"
_TARGET_MODEL = b"x-amzn-sagemaker-target-model"  # a multi-model endpoint's (ADR 0037)
_CACHE_HIT = b"x-turnout-model-cache-hit"  # from a multi-model instance, relayed
# turnout's own, with TargetVariant only: that variant of this endpoint config's fleet, even
# at a share of 0 (a deployment's prediction test reaches its green fleet so; ADR 0022).
_ENDPOINT_CONFIG = b"x-turnout-endpoint-config"
_CONTENT_LENGTH = b"content-length"
_UNAVAILABLE = b"x-turnout-model-unavailable"  # a multi-model instance found no model data
_RELAYED = {
    b"content-type": b"Content-Type",
    b"accept": b"Accept",
    _CUSTOM_ATTRIBUTES: b"X-Amzn-SageMaker-Custom-Attributes",
    b"x-amzn-sagemaker-inference-id": b"X-Amzn-SageMaker-Inference-Id",
}


class _Refused(Exception):
    """The request is refused before it reaches the dispatcher."""

    def __init__(self, answer: errors.ErrorAnswer) -> None:
        self.answer = answer


class InvokeEndpoint:
    """The ASGI app for the SageMaker runtime API."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._account_id = dispatcher.router.account_id
        self._max_payload_bytes = dispatcher.router.limits.max_payload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        path: str = scope["path"]
        name = path[len(PREFIX) : -len(SUFFIX)] if path.endswith(SUFFIX) else ""
        dispatcher = self.dispatcher
        try:
            if not name or "/" in name:
                raise _Refused(errors.validation_error(f"Unknown path {path}.", status=404))
            if scope["method"] != "POST":
                raise _Refused(errors.validation_error("Use POST to invoke an endpoint.", 405))
            try:
                dispatcher.admit()
            except DispatchError as error:
                raise _Refused(self._answer(name, error)) from None
            try:
                await self._invoke(name, scope, receive, send, started)
            finally:
                dispatcher.release()
        except _Refused as refused:
            await _send_error(send, refused.answer)

    async def _invoke(
        self, name: str, scope: Scope, receive: Receive, send: Send, started: float
    ) -> None:
        relayed: list[tuple[bytes, bytes]] = []
        target: bytes | None = None
        target_model: str | None = None
        config: bytes | None = None
        declared_length = -1
        headers = scope["headers"]
        for key, value in headers:
            header = _RELAYED.get(key)
            if header is not None:
                if len(value) > _MAX_HEADER:
                    raise _Refused(
                        errors.validation_error(
                            f"Header {header.decode()} is longer than {_MAX_HEADER} characters."
                        )
                    )
                relayed.append((header, value))
            elif key == _TARGET_VARIANT:
                target = value
            elif key == _ENDPOINT_CONFIG:
                config = value
            elif key == _TARGET_MODEL:
                target_model = _target_model(value)
            elif key == _CONTENT_LENGTH:
                declared_length = int(value) if value.isdigit() else -1
        if config is not None and target is None:
            raise _Refused(
                errors.validation_error(
                    "X-Turnout-Endpoint-Config needs X-Amzn-SageMaker-Target-Variant (a variant "
                    "of that endpoint config)."
                )
            )
        limit = self._max_payload_bytes
        if declared_length > limit:
            raise _Refused(_too_large(declared_length, limit))
        body = await _read_body(receive, limit)
        invocation = Invocation(
            name,
            target.decode("latin-1") if target is not None else None,
            headers,
            relayed,
            body,
            started,
            config=config.decode("latin-1") if config is not None else None,
            target_model=target_model,
        )
        dispatcher = self.dispatcher
        try:
            outcome = await dispatcher.dispatch(invocation)
        except DispatchError as error:
            dispatcher.failed(invocation, error)
            raise _Refused(self._answer(name, error)) from None
        response = outcome.response
        answer = [
            (b"content-type", response.header(b"content-type") or b"application/octet-stream"),
            (b"content-length", b"%d" % len(response.body)),
            (errors.VARIANT_HEADER, outcome.variant.name_header),
        ]
        attributes = response.header(_CUSTOM_ATTRIBUTES)
        if attributes is not None:
            answer.append((b"X-Amzn-SageMaker-Custom-Attributes", attributes))
        if outcome.cookie is not None:
            answer.append((b"set-cookie", outcome.cookie))
        if outcome.variant.switch is not None:  # which endpoint and variant answered (ADR 0040)
            answer += [(k, v) for k, v in response.headers if k in SWITCH_HEADERS]
        if target_model is not None:
            hit = response.header(_CACHE_HIT)
            if hit is not None:
                answer.append((b"X-Turnout-Model-Cache-Hit", hit))
        await send({"type": "http.response.start", "status": 200, "headers": answer})
        await send({"type": "http.response.body", "body": response.body})
        dispatcher.succeeded(invocation, outcome)

    def _answer(self, name: str, error: DispatchError) -> errors.ErrorAnswer:
        """A dispatch failure in the shape boto3 raises for it; a ModelError (424) names the
        variant that failed in x-Amzn-Invoked-Production-Variant, as a success does."""
        answer = self._error(name, error)
        if answer.status == 424 and error.variant is not None:
            return answer.with_variant(error.variant.name_header)
        return answer

    def _error(self, name: str, error: DispatchError) -> errors.ErrorAnswer:
        failure = error.failure
        if failure is Failure.NO_ENDPOINT:
            if not _NAME.fullmatch(name):  # match() would accept a trailing newline
                return errors.validation_error(f"Invalid endpoint name {name!r}.")
            return errors.endpoint_not_found(name, self._account_id)
        if failure in (Failure.NO_VARIANT, Failure.BAD_KEY, Failure.BAD_TARGET_MODEL):
            return errors.validation_error(error.message)
        response = error.response
        if response is not None and response.header(_UNAVAILABLE) is not None:
            # No model data at the prefix/TargetModel: SageMaker's ValidationError.
            return errors.validation_error(error.message)
        if failure is Failure.THROTTLED:
            return errors.throttling(error.message)
        if failure in (Failure.NO_WEIGHT, Failure.OVERLOADED, Failure.NO_INSTANCE):
            return errors.service_unavailable(error.message)
        if failure is Failure.TIMEOUT:
            return errors.model_error(0, errors.TIMEOUT_MESSAGE, error.log)
        if failure is Failure.MODEL_ERROR:
            return errors.model_error(error.status, error.message, error.log)
        return errors.model_error(0, error.message, error.log)  # NO_ANSWER


def _target_model(value: bytes) -> str:
    """The TargetModel header's value, checked before it reaches the dispatcher."""
    try:
        name = value.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(errors.validation_error("TargetModel must be UTF-8 text.")) from None
    problem = check_target_model(name)
    if problem is not None:
        raise _Refused(errors.validation_error(problem))
    return name


async def _send_error(send: Send, answer: errors.ErrorAnswer) -> None:
    headers, body = answer.encode()
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise _Refused(_too_large(len(body), limit))
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Refused(_too_large(size, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> errors.ErrorAnswer:
    return errors.validation_error(
        f"Request payload of {size} bytes exceeds the limit of {limit} bytes "
        f"({limit / 1024 / 1024:g} MB) for InvokeEndpoint.",
        status=413,
    )
