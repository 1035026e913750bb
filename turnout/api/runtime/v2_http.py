"""The Open Inference Protocol v2 over HTTP/REST (KServe, Triton's clients), as raw ASGI.

Paths under /v2 (turnout.models.codecs.v2_paths); a model is an endpoint and a version a
variant (turnout.api.runtime.v2_endpoints). Bodies pass through to the instance as they
came, binary tensor data and compression included, bounded by the same payload limit as
InvokeEndpoint. Errors are the protocol's `{"error": "..."}`.
"""

from __future__ import annotations

import json
from typing import Any

from turnout.api.body import read_body
from turnout.api.runtime.v2_service import V2Reply, V2Service
from turnout.asgi import Receive, Scope, Send
from turnout.models.codecs import v2, v2_paths

PREFIX = "/v2"
_HEADER_LENGTH = v2.HEADER_LENGTH.lower().encode()
_JSON = b"application/json"


class OpenInferenceHttp:
    def __init__(self, service: V2Service, max_payload_bytes: int) -> None:
        self._service = service
        self._max_payload_bytes = max_payload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = v2_paths.parse(scope["path"])
        method = scope["method"]
        if route is None:
            reply = _error(404, f"not found: {scope['path']} is not a path of the protocol")
        elif route.action == "infer":
            if method != "POST":
                reply = _error(405, "use POST to infer")
            else:
                reply = await self._infer(route, scope, receive)
        elif method not in ("GET", "HEAD"):
            reply = _error(405, f"use GET {scope['path']}")
        else:
            reply = await self._read(route)
        headers = [
            (b"content-type", _JSON),
            (b"content-length", b"%d" % len(reply.body)),
        ]
        if reply.header_length is not None:
            headers.append((_HEADER_LENGTH, b"%d" % reply.header_length))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    async def _read(self, route: v2_paths.Route) -> V2Reply:
        service = self._service
        try:
            if route.action == "live":
                return _status(await service.live(), "the server is not live")
            if route.action == "ready":
                return _status(await service.ready(), "the server is not ready")
            if route.action == "server":
                return _json(await service.server_metadata())
            if route.action == "metadata":
                return _json(await service.model_metadata(route.name, route.version))
            if await service.model_ready(route.name, route.version):
                return _json({"name": route.name, "ready": True})
            # Unknown, or known but without a ready instance: the metadata call tells which.
            await service.model_metadata(route.name, route.version)
            return _error(400, f"model {route.name} is not ready")
        except v2.V2Error as err:
            return _error(err.status, err.message)

    async def _infer(self, route: v2_paths.Route, scope: Scope, receive: Receive) -> V2Reply:
        limit = self._max_payload_bytes
        header_length: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return _too_large(int(value), limit)
            if name == _HEADER_LENGTH:
                if not value.isdigit():
                    return _error(400, f"{v2.HEADER_LENGTH} must be a whole number of bytes")
                header_length = int(value)
        body = await read_body(receive, limit)
        if body is None:
            return _too_large(None, limit)
        return await self._service.infer(
            route.name, route.version, scope["headers"], body, header_length
        )


def _json(document: dict[str, Any]) -> V2Reply:
    return V2Reply(200, json.dumps(document, separators=(",", ":")).encode())


def _status(ok: bool, problem: str) -> V2Reply:
    return V2Reply(200, b"") if ok else _error(503, problem)


def _error(status: int, message: str) -> V2Reply:
    return V2Reply(status, v2.encode_error(message))


def _too_large(size: int | None, limit: int) -> V2Reply:
    what = f"{size} bytes" if size is not None else "larger"
    return _error(413, f"the request body is {what}; the limit is {limit} bytes")
