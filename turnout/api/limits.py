"""A size bound on the native REST API's request bodies (the data path has its own)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from turnout.api.body import read_body
from turnout.asgi import Message, Receive, Scope, Send

MAX_API_BODY_BYTES = 1024 * 1024  # control-plane documents are small; as the SageMaker facade

Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class BoundedBody:
    """Reads the body up to `limit` bytes before the app sees it; 413 beyond, app untouched."""

    def __init__(self, app: Asgi, limit: int = MAX_API_BODY_BYTES) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self._app(scope, receive, send)
            return
        body = await read_body(receive, self._limit)
        if body is None:
            await _too_large(send, self._limit)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:  # after the body, only a disconnect can come
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self._app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    message = f"The request body exceeds {limit} bytes."
    payload = json.dumps({"error": {"code": "PayloadTooLarge", "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
