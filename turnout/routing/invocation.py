"""An invocation: one request as the data path sees it, whatever protocol brought it."""

from __future__ import annotations

from collections.abc import Callable

from turnout.capture.target import VariantCapture
from turnout.routing.upstream import BodyStream, UpstreamResponse

INSTANCE_PATH = b"/invocations"
INFERENCE_ID = b"X-Amzn-SageMaker-Inference-Id"
CONTENT_TYPE = b"Content-Type"


class Invocation:
    """One request, protocol-neutral.

    `headers` are the request's as received (lower-case names: assignment keys, targeting
    rules); `relayed` go to the instance (Content-Type, Accept, ...). `path` is the path on
    the instance, or a function of the chosen variant's name giving it. `config` (with
    `target`) picks that config's variant, whatever its fleet's share (a green fleet's test).
    `target_model` names the model of a multi-model variant to invoke (ADR 0037).
    An asynchronous request's input comes as a `stream` instead of `body` (up to 1 GB, never
    whole in memory), with its own `timeout` for the model's answer (ADR 0031).
    """

    __slots__ = (
        "body", "config", "endpoint", "headers", "path", "relayed", "started", "stream",
        "target", "target_model", "timeout",
    )  # fmt: skip

    def __init__(
        self,
        endpoint: str,
        target: str | None,
        headers: list[tuple[bytes, bytes]],
        relayed: list[tuple[bytes, bytes]],
        body: bytes,
        started: float,
        path: bytes | Callable[[str], bytes] = INSTANCE_PATH,
        config: str | None = None,
        stream: BodyStream | None = None,
        timeout: float | None = None,
        target_model: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.target = target
        self.config = config
        self.headers = headers
        self.relayed = relayed
        self.body = body
        self.started = started
        self.path = path
        self.stream = stream
        self.timeout = timeout
        self.target_model = target_model  # a multi-model endpoint's TargetModel (ADR 0037)

    def relayed_header(self, name: bytes) -> bytes | None:
        for header, value in self.relayed:
            if header == name:
                return value
        return None


def offer_capture(
    capture: VariantCapture, invocation: Invocation, response: UpstreamResponse
) -> None:
    """Hand a sampled invocation to data capture (a queue append; the writer does the rest)."""
    capture.offer(
        invocation.relayed_header(INFERENCE_ID),
        invocation.relayed_header(CONTENT_TYPE),
        invocation.body,
        response.header(b"content-type") or b"application/octet-stream",
        response.body,
    )
