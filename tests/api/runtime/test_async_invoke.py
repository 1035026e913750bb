"""InvokeEndpointAsync when the store cannot answer: 503 ServiceUnavailable, never a 500."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from turnout.api.runtime.async_invoke import InvokeEndpointAsync


class DownStore:
    """A store whose database is gone (what the driver raises then)."""

    def get_endpoint(self, name: str) -> Any:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))


async def call(app: InvokeEndpointAsync, headers: list[tuple[bytes, bytes]]) -> tuple[int, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/endpoints/ep/async-invocations",
             "headers": headers}  # fmt: skip
    await app(scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


async def test_a_store_outage_is_service_unavailable() -> None:
    queued: list[bool] = []
    app = InvokeEndpointAsync(DownStore(), None, "123456789012", lambda: queued.append(True))  # type: ignore[arg-type]
    status, body = await call(app, [(b"x-amzn-sagemaker-inputlocation", b"s3://b/k")])
    assert status == 503
    assert "not queued" in body["message"]
    assert not queued
