"""`GET /metrics`: the router's counters in Prometheus' text format (raw ASGI).

The exposition is built on the event loop from in-memory counters: no store access.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from turnout.asgi import Receive, Scope, Send
from turnout.instances.backend import Instance
from turnout.metrics.prometheus import InstanceCollector, RouterCollector
from turnout.routing.router import Router

PATH = "/metrics"


class PrometheusMetrics:
    def __init__(self, router: Router, instances: Callable[[], Sequence[Instance]]) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(RouterCollector(router))
        self._registry.register(InstanceCollector(instances))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, b"only GET /metrics\n", "text/plain", [(b"allow", b"GET")])
            return
        # uvicorn leaves the body out of an answer to HEAD
        await _answer(send, 200, generate_latest(self._registry), CONTENT_TYPE_LATEST)


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})
