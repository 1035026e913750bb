"""`GET /metrics`: turnout in Prometheus' text format (raw ASGI).

The router's counters and the instances' gauges are read on the event loop, from memory;
the control plane's state (desired weights, deployments, alarms) is read from the store in
a thread, so a scrape never blocks the loop on store I/O.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from turnout.asgi import Receive, Scope, Send
from turnout.domain.async_inference import Backlog
from turnout.domain.drift import DriftPoint
from turnout.errors import StoreUnavailable
from turnout.instances.backend import Instance
from turnout.metrics.async_backlog import BacklogCollector
from turnout.metrics.control_state import (
    AlarmReads,
    ControlReads,
    ControlState,
    StateCollector,
    read_state,
)
from turnout.metrics.drift import DriftCollector
from turnout.metrics.prometheus import EjectionCollector, InstanceCollector, RouterCollector
from turnout.routing.router import Router

PATH = "/metrics"
log = logging.getLogger(__name__)


class PrometheusMetrics:
    def __init__(
        self,
        router: Router,
        instances: Callable[[], Sequence[Instance]],
        control: ControlReads,
        monitoring: AlarmReads,
        backlogs: Callable[[], Sequence[Backlog]] = tuple,
        more: Sequence[Collector] = (),
        drift: Callable[[], Sequence[tuple[str, DriftPoint]]] = tuple,
    ) -> None:
        self._drift = drift  # blocking store reads: called in a thread
        self._router = router
        self._control = control
        self._monitoring = monitoring
        self._store_down = False  # the last scrape found the store unavailable
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(RouterCollector(router))
        self._registry.register(InstanceCollector(instances))
        self._registry.register(EjectionCollector(router.ejections, time.perf_counter))
        self._registry.register(BacklogCollector(backlogs, self._all_ready, time.time))
        for collector in more:  # e.g. the autoscaler's activity counts
            self._registry.register(collector)

    def ready_instances(self, endpoint: str) -> int:
        """The endpoint's ready instances, from the routing table (an immutable snapshot)."""
        route = self._router.table.endpoints.get(endpoint)
        if route is None:
            return 0
        return sum(u.ready for variant in route.routes for u in variant.upstreams)

    def _all_ready(self) -> dict[str, int]:
        return {name: self.ready_instances(name) for name in self._router.table.endpoints}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, b"only GET /metrics\n", "text/plain", [(b"allow", b"GET")])
            return
        state = await self._state()
        # the routing table is an immutable snapshot: read it on the loop, as the router does
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StateCollector(state, self._router.table.endpoints))
        registry.register(DriftCollector(await self._drift_points()))
        body = generate_latest(self._registry) + generate_latest(registry)
        # uvicorn leaves the body out of an answer to HEAD
        await _answer(send, 200, body, CONTENT_TYPE_LATEST)

    async def _drift_points(self) -> Sequence[tuple[str, DriftPoint]]:
        try:
            return await asyncio.to_thread(self._drift)
        except StoreUnavailable:  # an outage: the control state's read says so
            return ()
        except Exception:
            log.exception("/metrics: could not read drift reports from the store")
            return ()

    async def _state(self) -> ControlState:
        """The store's part, read in a thread; empty if the store fails (the counters still
        go out). An outage is logged in one line when it begins, not at every scrape."""
        try:
            state = await asyncio.to_thread(read_state, self._control, self._monitoring)
        except StoreUnavailable as err:
            if not self._store_down:
                log.warning("/metrics: the store is unavailable (%s); serving counters only", err)
            self._store_down = True
            return ControlState((), (), (), store_up=False)
        except Exception:
            log.exception("/metrics: could not read deployments and alarms from the store")
            return ControlState((), (), (), store_up=False)
        if self._store_down:
            log.info("/metrics: the store answers again")
        self._store_down = False
        return state


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
