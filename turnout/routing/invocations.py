"""`POST /endpoints/{EndpointName}/invocations`: SageMaker's InvokeEndpoint, as raw ASGI.

The data path: read the request (bounded), pick a variant by weight (or the target the
caller named), pick its ready instance with the fewest requests in flight, forward, relay,
and count the invocation in the variant's metrics (two clock reads, a few increments).
No framework, no store access and no per-request allocation beyond the request itself.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from random import random
from time import perf_counter
from typing import Any

from turnout.capture.target import VariantCapture
from turnout.domain.routing import MAX_KEY_LENGTH
from turnout.routing import errors
from turnout.routing.choice import least_outstanding
from turnout.routing.keys import new_user_id
from turnout.routing.router import Router
from turnout.routing.table import EndpointRoute, Upstream, VariantRoute
from turnout.routing.upstream import (
    UpstreamClosed,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
    request_head,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PREFIX = "/endpoints/"
SUFFIX = "/invocations"
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_MAX_HEADER = 1024  # SageMaker's limit for ContentType, Accept and CustomAttributes

# Request headers relayed to the instance, by their lower-case name as ASGI gives them.
_CONTENT_TYPE = b"content-type"
_ACCEPT = b"accept"
_CUSTOM_ATTRIBUTES = b"x-amzn-sagemaker-custom-attributes"
_INFERENCE_ID = b"x-amzn-sagemaker-inference-id"
_TARGET_VARIANT = b"x-amzn-sagemaker-target-variant"
_CONTENT_LENGTH = b"content-length"
_RELAYED = {
    _CONTENT_TYPE: b"Content-Type",
    _ACCEPT: b"Accept",
    _CUSTOM_ATTRIBUTES: b"X-Amzn-SageMaker-Custom-Attributes",
    _INFERENCE_ID: b"X-Amzn-SageMaker-Inference-Id",
}


class _Reject(Exception):
    """Stop handling this request and answer with `answer`.

    Once a variant was chosen, `status` is what its metrics count: the model's HTTP status,
    or the 5xx turnout stands in with when the model gave none (`model_us` None).
    """

    def __init__(
        self,
        answer: errors.ErrorAnswer,
        status: int = 0,
        model_error: bool = False,
        model_us: float | None = None,
    ) -> None:
        self.answer = answer
        self.status = status or answer.status
        self.model_error = model_error
        self.model_us = model_us


# The status the metrics count when the model gave none (SageMaker counts these as 5XX).
_NO_ANSWER = 502
_NO_ANSWER_IN_TIME = 504


class Invocations:
    """The ASGI app for the runtime API."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._turn = 0  # rotates tie-breaking between equally loaded instances

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        path: str = scope["path"]
        name = path[len(PREFIX) : -len(SUFFIX)] if path.endswith(SUFFIX) else ""
        try:
            if not name or "/" in name:
                raise _Reject(errors.validation_error(f"Unknown path {path}.", status=404))
            if scope["method"] != "POST":
                raise _Reject(errors.validation_error("Use POST to invoke an endpoint.", 405))
            router = self.router
            if router.in_flight >= router.limits.max_concurrency:
                raise _Reject(
                    errors.service_unavailable(
                        f"turnout is answering its limit of {router.limits.max_concurrency} "
                        "concurrent invocations; retry shortly."
                    )
                )
            router.in_flight += 1
            try:
                await self._invoke(name, scope, receive, send, started)
            finally:
                router.in_flight -= 1
        except _Reject as reject:
            headers, body = reject.answer.encode()
            await send({"type": "http.response.start", "status": reject.answer.status,
                        "headers": headers})  # fmt: skip
            await send({"type": "http.response.body", "body": body})

    async def _invoke(
        self, name: str, scope: Scope, receive: Receive, send: Send, started: float
    ) -> None:
        router = self.router
        limits = router.limits
        relayed: list[tuple[bytes, bytes]] = []
        target: bytes | None = None
        declared_length = -1
        for key, value in scope["headers"]:
            header = _RELAYED.get(key)
            if header is not None:
                if len(value) > _MAX_HEADER:
                    raise _Reject(
                        errors.validation_error(
                            f"Header {header.decode()} is longer than {_MAX_HEADER} characters."
                        )
                    )
                relayed.append((header, value))
            elif key == _TARGET_VARIANT:
                target = value
            elif key == _CONTENT_LENGTH:
                declared_length = int(value) if value.isdigit() else -1
        if declared_length > limits.max_payload_bytes:
            raise _Reject(_too_large(declared_length, limits.max_payload_bytes))
        body = await _read_body(receive, limits.max_payload_bytes)

        route = router.table.endpoints.get(name)
        if route is None:
            if not _NAME.fullmatch(name):  # match() would accept a trailing newline
                raise _Reject(errors.validation_error(f"Invalid endpoint name {name!r}."))
            raise _Reject(errors.endpoint_not_found(name, router.account_id))
        user: str | None = None
        cookie: bytes | None = None
        randomized = False
        if target is not None:
            found = route.named(target.decode("latin-1"), random())
            if found is None:
                raise _Reject(
                    errors.validation_error(
                        f"The variant {target.decode('latin-1')} is not present in endpoint {name}."
                    )
                )
            variant = found
        else:
            found, user, cookie, randomized = _assign(route, scope["headers"])
            if found is None:
                raise _Reject(
                    errors.service_unavailable(f"Endpoint {name} has no variant with weight > 0.")
                )
            variant = found

        head = request_head(len(body), relayed)
        try:
            response, model_us = await self._forward(name, variant, head, body)
        except _Reject as reject:
            elapsed = (perf_counter() - started) * 1e6
            variant.metrics.observe(
                reject.status, reject.model_error, reject.model_us,
                elapsed - (reject.model_us or 0.0),
            )  # fmt: skip
            raise
        headers = [
            (b"content-type", response.header(b"content-type") or b"application/octet-stream"),
            (b"content-length", b"%d" % len(response.body)),
            (b"x-amzn-invoked-production-variant", variant.name_header),
        ]
        attributes = response.header(_CUSTOM_ATTRIBUTES)
        if attributes is not None:
            headers.append((b"X-Amzn-SageMaker-Custom-Attributes", attributes))
        if cookie is not None:
            headers.append((b"set-cookie", cookie))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        elapsed = (perf_counter() - started) * 1e6
        variant.metrics.observe(response.status, False, model_us, elapsed - model_us)
        exposures = router.exposures
        if exposures is not None:
            inference_id = _inference_id(relayed)
            if user is not None or inference_id is not None:
                exposures.offer(name, user, variant, inference_id, randomized)
        capture = variant.capture
        if capture is not None and random() < capture.fraction:
            _capture(capture, relayed, body, headers[0][1], response.body)

    async def _forward(
        self, name: str, variant: VariantRoute, head: bytes, body: bytes
    ) -> tuple[Any, float]:
        """Send to the least-loaded ready instance; on a refused connection, try another.

        Returns the answer and the microseconds the model took (ModelLatency).
        """
        limits = self.router.limits
        refused: list[Upstream] = []
        wait_until = 0.0  # set on the first wait; bounds all waiting for this request
        while True:
            upstream = self._pick(variant, refused)
            if upstream is None:
                wait_until = wait_until or time.monotonic() + limits.instance_wait
                upstream = await self._wait_for_ready(name, variant, refused, wait_until)
            upstream.outstanding += 1
            sent = perf_counter()
            try:
                response = await upstream.pool.request(head, body, limits.model_timeout)
            except UpstreamConnectError:
                refused.append(upstream)  # never sent: safe to send elsewhere
                continue
            except UpstreamTimeout:
                upstream.instance.report_unresponsive(
                    f"no answer within the model timeout of {limits.model_timeout:g} s"
                )
                raise _Reject(
                    errors.model_error(0, errors.TIMEOUT_MESSAGE, upstream.instance.log),
                    _NO_ANSWER_IN_TIME,
                    model_error=True,
                ) from None
            except UpstreamClosed:
                raise _Reject(
                    errors.model_error(
                        0,
                        "The instance closed the connection before answering "
                        "(its process may have exited).",
                        upstream.instance.log,
                    ),
                    _NO_ANSWER,
                    model_error=True,
                ) from None
            except UpstreamProtocolError as exc:
                raise _Reject(
                    errors.model_error(0, str(exc), upstream.instance.log),
                    _NO_ANSWER,
                    model_error=True,
                ) from None
            finally:
                upstream.outstanding -= 1
            model_us = (perf_counter() - sent) * 1e6
            if 200 <= response.status < 300:
                return response, model_us
            raise _Reject(
                errors.model_error(
                    response.status,
                    response.body.decode("utf-8", "replace"),
                    upstream.instance.log,
                ),
                response.status,
                model_error=True,
                model_us=model_us,
            )

    def _pick(self, variant: VariantRoute, refused: list[Upstream]) -> Upstream | None:
        self._turn += 1
        upstreams = variant.upstreams
        if refused:
            upstreams = tuple(u for u in upstreams if u not in refused)
        return least_outstanding(upstreams, self._turn) if upstreams else None

    async def _wait_for_ready(
        self, name: str, chosen: VariantRoute, refused: list[Upstream], deadline: float
    ) -> Upstream:
        """Wait until `deadline` for an instance of the variant to be ready (e.g. restarting)."""
        variant_name = chosen.name
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            # Read the table afresh: a publish may have replaced the variant's instances.
            route = self.router.table.endpoints.get(name)
            variant = route.find(chosen.config, variant_name) if route is not None else None
            if variant is None:
                break
            if refused:  # a refused instance may be back (restarted); give it another chance
                refused.clear()
            upstream = self._pick(variant, refused)
            if upstream is not None:
                return upstream
        raise _Reject(
            errors.service_unavailable(
                f"No instance of variant {variant_name} of endpoint {name} is ready "
                "(starting or restarting); retry shortly."
            )
        )


async def _read_body(receive: Receive, limit: int) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise _Reject(_too_large(len(body), limit))
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Reject(_too_large(size, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _capture(
    capture: VariantCapture,
    relayed: list[tuple[bytes, bytes]],
    body: bytes,
    response_type: bytes,
    response: bytes,
) -> None:
    """Hand a sampled invocation to data capture (a queue append; the writer does the rest)."""
    request_type = inference_id = None
    for header, value in relayed:
        if header == b"Content-Type":
            request_type = value
        elif header == b"X-Amzn-SageMaker-Inference-Id":
            inference_id = value
    capture.offer(inference_id, request_type, body, response_type, response)


def _assign(
    route: EndpointRoute, headers: list[tuple[bytes, bytes]]
) -> tuple[VariantRoute | None, str | None, bytes | None, bool]:
    """(route, user, Set-Cookie value, whether the weights chose) for a request that named
    no TargetVariant: targeting rules first, then the user's sticky assignment, else a
    random draw by weight (ADR 0013)."""
    sticky = route.sticky
    if sticky is None:
        return (route.chooser.pick(random()) if route.chooser else None), None, None, True
    key, browser = sticky.keys.read(headers)
    user = cookie = None
    if key is not None:
        if len(key) > MAX_KEY_LENGTH:
            raise _Reject(
                errors.validation_error(
                    f"The assignment key is longer than {MAX_KEY_LENGTH} characters."
                )
            )
        user = key.decode("utf-8", "replace")
    elif browser:
        user = new_user_id()
        cookie = sticky.keys.set_cookie(user)
    targeted = sticky.targeted(user, headers)
    if targeted is not None:
        found = sticky.named(targeted, user) if user else route.named(targeted, random())
        if found is not None:  # a rule naming a variant no longer routed falls through
            return found, user, cookie, False
    if user is None:
        return (route.chooser.pick(random()) if route.chooser else None), None, None, True
    return sticky.route_for(user), user, cookie, True


def _inference_id(relayed: list[tuple[bytes, bytes]]) -> bytes | None:
    for header, value in relayed:
        if header == b"X-Amzn-SageMaker-Inference-Id":
            return value
    return None


def _too_large(size: int, limit: int) -> errors.ErrorAnswer:
    return errors.validation_error(
        f"Request payload of {size} bytes exceeds the limit of {limit} bytes "
        f"({limit / 1024 / 1024:g} MB) for InvokeEndpoint.",
        status=413,
    )
