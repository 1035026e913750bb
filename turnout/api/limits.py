"""A size bound on the native REST API's request bodies (the data path has its own)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI

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


def document_bound(api: FastAPI) -> None:
    """Add BoundedBody's 413 to every POST, PUT and PATCH of `api`'s OpenAPI document: any
    of them may be refused so, in turnout's error shape (ErrorOut)."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        document = build()
        too_large = {
            "description": "The body is larger than the bound (1 MiB; feedback 6 MiB).",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
        }
        for operations in document["paths"].values():
            for method, spec in operations.items():
                if method in ("post", "put", "patch"):
                    spec.setdefault("responses", {}).setdefault("413", too_large)
        return document

    api.openapi = openapi  # type: ignore[method-assign]


async def _too_large(send: Send, limit: int) -> None:
    message = f"The request body exceeds {limit} bytes."
    payload = json.dumps({"error": {"code": "PayloadTooLarge", "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
