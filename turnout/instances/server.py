"""An instance's HTTP server: `GET /ping` and `POST /invocations` (SageMaker's container
contract), as a raw ASGI app: routing by path, one pass over the headers, then decode,
the batcher, encode.

This is the hot path: no framework. The model runs inline on the event loop (see
turnout.instances.batcher), so a hanging model also stops /ping from answering, which is
how the supervisor notices it. The first request of each batch carries the batch's size in
`X-Turnout-Batch-Size`, for the router's `turnout_batch_size` histogram.
"""

from __future__ import annotations

from turnout.asgi import Receive, Scope, Send
from turnout.domain.pipeline import TIMINGS_HEADER
from turnout.instances import open_inference
from turnout.instances.batcher import Batcher
from turnout.instances.open_inference import OpenInference
from turnout.models.batching import BatchPolicy
from turnout.models.codecs import v2_paths
from turnout.models.errors import InvocationError
from turnout.models.runtime import Call, LoadedModel
from turnout.settings import MAX_PAYLOAD_BYTES

BATCH_SIZE_HEADER = b"x-turnout-batch-size"
_JSON = b"application/json"
_TEXT = b"text/plain; charset=utf-8"
_CUSTOM_ATTRIBUTES = b"x-amzn-sagemaker-custom-attributes"
_BATCH_SIZES = [str(n).encode() for n in range(1025)]  # header values, encoded once


class InstanceApp:
    """The raw ASGI app: routing by path, one pass over the headers, inline invoke."""

    __slots__ = ("_batcher", "_codec", "_max_payload_bytes", "_open_inference", "_too_large")

    def __init__(
        self,
        model: LoadedModel,
        policy: BatchPolicy | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self._codec = model.body
        self._batcher = Batcher(model.model, policy or BatchPolicy(1))
        self._open_inference = OpenInference(model, self._batcher)
        self._max_payload_bytes = max_payload_bytes
        self._too_large = f"the request body is larger than {max_payload_bytes} bytes".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/invocations":
            if scope["method"] == "POST":
                await self._invocations(scope, receive, send)
            else:
                await _reply(send, 405, b"use POST /invocations", _TEXT, (b"allow", b"POST"))
        elif path == "/ping":
            if scope["method"] == "GET":
                await _reply(send, 200, b"{}", _JSON)
            else:
                await _reply(send, 405, b"use GET /ping", _TEXT, (b"allow", b"GET"))
        elif path.startswith("/v2"):
            await self._v2(scope, receive, send)
        else:
            await _reply(send, 404, b"not found: use GET /ping or POST /invocations", _TEXT)

    async def _read_body(self, declared: int, receive: Receive, send: Send) -> bytes | None:
        """The whole body, bounded; None when the caller left or was answered 413."""
        limit = self._max_payload_bytes
        if declared > limit:  # refuse before reading any of it
            await self._reply_too_large(send)
            return None
        message = await receive()
        body: bytes = message.get("body", b"")
        if message.get("more_body", False):
            chunks = [body]
            size = len(body)
            while message.get("more_body", False):
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:  # chunked upload without a Content-Length
                    await self._reply_too_large(send)
                    return None
                chunks.append(chunk)
            body = b"".join(chunks)
        elif message["type"] == "http.disconnect":
            return None
        if len(body) > limit:
            await self._reply_too_large(send)
            return None
        return body

    async def _invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = accept = attributes = None
        declared = 0
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == _CUSTOM_ATTRIBUTES:
                attributes = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit():
                declared = int(value)
        body = await self._read_body(declared, receive, send)
        if body is None:
            return
        call = Call(body, content_type, accept, attributes)
        try:
            outputs, batch_size = await self._batcher.predict(self._codec.decode(call))
            prediction = self._codec.encode(call, outputs)
        except InvocationError as err:
            await _reply(send, err.status, err.message.encode(errors="replace"), _TEXT)
            return
        except (Exception, SystemExit) as err:  # a request must never take the worker down
            message_text = f"{type(err).__name__}: {err}"
            await _reply(send, 500, message_text.encode(errors="replace"), _TEXT)
            return
        payload = prediction.body
        headers = [
            (b"content-type", prediction.content_type.encode("latin-1", "replace")),
            (b"content-length", str(len(payload)).encode()),
        ]
        if prediction.custom_attributes is not None:
            headers.append(
                (_CUSTOM_ATTRIBUTES, prediction.custom_attributes.encode("latin-1", "replace"))
            )
        if batch_size:
            headers.append((BATCH_SIZE_HEADER, _BATCH_SIZES[batch_size]))
        if prediction.pipeline_timings is not None:
            headers.append((TIMINGS_HEADER, prediction.pipeline_timings))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _v2(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = v2_paths.parse(scope["path"])
        method = scope["method"]
        reply: open_inference.Reply | None
        if route is None:
            reply = open_inference.error(404, f"not found: {scope['path']}")
        elif route.action == "infer":
            if method != "POST":
                reply = open_inference.error(405, "use POST to infer")
            else:
                reply = await self._v2_infer(route, scope, receive, send)
                if reply is None:  # answered already (413) or the caller left
                    return
        elif method != "GET":
            reply = open_inference.error(405, f"use GET {scope['path']}")
        elif route.action == "metadata":
            reply = self._open_inference.metadata(route)
        else:  # live, ready, server, model-ready: the process serves once its model loaded
            reply = open_inference.Reply(200, b"{}")
        headers = [
            (b"content-type", _JSON),
            (b"content-length", str(len(reply.body)).encode()),
        ]
        if reply.header_length is not None:
            headers.append((open_inference.HEADER_LENGTH, str(reply.header_length).encode()))
        if reply.batch_size:
            headers.append((BATCH_SIZE_HEADER, _BATCH_SIZES[reply.batch_size]))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    async def _v2_infer(
        self, route: v2_paths.Route, scope: Scope, receive: Receive, send: Send
    ) -> open_inference.Reply | None:
        declared = 0
        header_length: int | None = None
        encoding: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == open_inference.HEADER_LENGTH:
                if not value.isdigit():
                    return open_inference.error(
                        400, f"{open_inference.HEADER_LENGTH.decode()} must be a whole number"
                    )
                header_length = int(value)
            elif name == b"content-encoding" and value.lower() != b"identity":
                encoding = value
        body = await self._read_body(declared, receive, send)
        if body is None:
            return None
        if encoding is not None:
            try:
                body = open_inference.decompress(body, encoding, self._max_payload_bytes)
            except InvocationError as err:
                return open_inference.error(err.status, err.message)
        return await self._open_inference.infer(route, body, header_length)

    async def _reply_too_large(self, send: Send) -> None:
        # Close the connection rather than drain an oversized upload to keep it alive.
        await _reply(send, 413, self._too_large, _TEXT, (b"connection", b"close"))


async def _reply(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: tuple[bytes, bytes] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra is not None:
        headers.append(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
