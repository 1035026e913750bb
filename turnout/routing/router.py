"""The router's state: the current routing table and one upstream per routed instance.

The control plane calls `publish` / `withdraw` to change where traffic goes, and `retire`
to wait until instances it took out of the table have answered their last requests.
`metrics` holds the counters of every variant route published so far; the metrics flusher
takes their windows and drops the ones no longer routed (`routed_keys`); the metrics
see the router as a `turnout.metrics.source.CounterSource`.

A serverless variant (ADR 0038) has a concurrency gate, kept across publishes like its
counters; a request that finds none of its instances ready calls `on_demand` (the node
agent, on this loop) to start one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from turnout.capture.hub import CaptureHub
from turnout.domain.rollups import VariantKey
from turnout.domain.routing import RoutingSettings
from turnout.instances.backend import WORKER_KEEP_ALIVE, Instance, InstanceSpec, runs_command
from turnout.metrics.counters import VariantMetrics
from turnout.routing.outliers import DEFAULT_OUTLIERS, OutlierPolicy
from turnout.routing.serverless import ConcurrencyGate
from turnout.routing.shadow import PairSink
from turnout.routing.table import (
    EndpointRoute,
    RoutingTable,
    Upstream,
    VariantRoute,
    VariantTarget,
)
from turnout.routing.upstream import IDLE_TIMEOUT, ConnectionPool
from turnout.settings import MAX_PAYLOAD_BYTES


@dataclass(frozen=True)
class RouterLimits:
    model_timeout: float = 60.0
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    max_concurrency: int = 1024
    instance_wait: float = 5.0
    cold_start_wait: float = 60.0  # how long a serverless variant's request waits for one
    outliers: OutlierPolicy = DEFAULT_OUTLIERS  # outlier ejection (ADR 0034)


@dataclass(frozen=True, slots=True)
class Ejections:
    """One instance's outlier ejections so far, and whether it is ejected now."""

    spec: InstanceSpec
    total: int
    ejected: bool


class ExposureSink(Protocol):
    """Takes note of an assignment on the event loop without waiting (ADR 0013)."""

    def offer(
        self,
        endpoint: str,
        user: str | None,
        variant: VariantRoute,
        inference_id: bytes | None,
        randomized: bool,
    ) -> None: ...


class Router:
    def __init__(
        self, limits: RouterLimits, account_id: str, capture: CaptureHub | None = None
    ) -> None:
        self.limits = limits
        self.account_id = account_id
        self.capture = capture
        self.table = RoutingTable(0, {})
        self.in_flight = 0
        self._upstreams: dict[str, Upstream] = {}
        self.metrics: dict[VariantKey, VariantMetrics] = {}
        self.gates: dict[VariantKey, ConcurrencyGate] = {}  # serverless variants routed
        # Called on the loop when a serverless variant has a request and no ready instance.
        self.on_demand: Callable[[VariantKey], None] | None = None
        self._routing: dict[str, RoutingSettings] = {}  # by endpoint (ADR 0013)
        # Where invocations report who was assigned what (set by the runtime), if anywhere.
        self.exposures: ExposureSink | None = None
        # Where shadow variants' answers go to be compared with production's (ADR 0021).
        self.shadow_pairs: PairSink | None = None

    def publish(self, endpoint: str, targets: Sequence[VariantTarget]) -> None:
        """Route `endpoint` to these variants (of one fleet, or two) from the next request on.

        Runs on the event loop and reads nothing from the store: the targets carry what it
        needs (their capture settings too)."""
        routes = [
            VariantRoute(
                t.config,
                t.name,
                tuple(self._upstream(i) for i in t.instances),
                self._metrics(VariantKey(endpoint, t.config, t.name)),
                self.capture.for_variant(endpoint, t.config, t.name, t.capture)
                if self.capture
                else None,
                t.sampling,
                self._gate(VariantKey(endpoint, t.config, t.name), t.max_concurrency),
                multi_model=t.multi_model,
                switch=t.switch,
            )
            for t in targets
        ]
        standby = [r for r, t in zip(routes, targets, strict=True) if t.standby]
        production = [r for r in routes if r.sampling is None and r not in standby]
        shadows = [r for r in routes if r.sampling is not None]
        for r in production:  # each mirrors to its own fleet's shadow variants
            r.shadows = tuple(s for s in shadows if s.config == r.config)
        route = EndpointRoute(
            endpoint,
            production,
            [t.weight for t in targets if t.sampling is None and not t.standby],
            self._routing.get(endpoint),
            shadows,
            standby,
        )
        self._swap({**self.table.endpoints, endpoint: route})
        self._drop_gates()

    def set_routing(self, endpoint: str, settings: RoutingSettings) -> None:
        """Assign `endpoint`'s users by these settings from the next request on (and in
        every later publish); a no-op when they are the ones in force."""
        if self._routing.get(endpoint) == settings:
            return
        self._routing[endpoint] = settings
        current = self.table.endpoints.get(endpoint)
        if current is not None:
            route = EndpointRoute(
                endpoint, current.routes, current.weights_in, settings, current.shadows,
                current.standby,
            )  # fmt: skip
            self._swap({**self.table.endpoints, endpoint: route})

    def withdraw(self, endpoint: str) -> None:
        """Stop routing `endpoint`: its callers get "endpoint not found" from now on."""
        self._routing.pop(endpoint, None)
        if endpoint in self.table.endpoints:
            self._swap({k: v for k, v in self.table.endpoints.items() if k != endpoint})
            self._drop_gates()

    def demand(self, endpoint: str, route: VariantRoute) -> None:
        """A request of serverless `route` found no ready instance: ask for one."""
        if self.on_demand is not None:
            self.on_demand(VariantKey(endpoint, route.config, route.name))

    def outstanding(self, instance: Instance) -> int:
        upstream = self._upstreams.get(instance.spec.id)
        return upstream.outstanding if upstream is not None else 0

    async def retire(self, instances: Iterable[Instance], timeout: float) -> None:
        """Wait (bounded) until these instances have no request in flight; drop their pools.

        Call it after a publish that no longer routes to them: a request picks its
        instance synchronously, so once they left the table no new request can reach them.
        """
        ids = {i.spec.id for i in instances} - self._routed_ids()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
            self._upstreams[i].outstanding for i in ids if i in self._upstreams
        ):
            await asyncio.sleep(0.02)
        for instance_id in ids:
            upstream = self._upstreams.pop(instance_id, None)
            if upstream is not None:
                upstream.pool.close()

    def close(self) -> None:
        for upstream in self._upstreams.values():
            upstream.pool.close()
        self._upstreams.clear()
        self.table = RoutingTable(self.table.version + 1, {})

    def routed_keys(self) -> set[VariantKey]:
        return {
            VariantKey(name, r.config, r.name)
            for name, route in self.table.endpoints.items()
            for r in route.all_routes()
        }

    def shadow_keys(self) -> set[VariantKey]:
        return {
            VariantKey(name, r.config, r.name)
            for name, route in self.table.endpoints.items()
            for r in route.shadows
        }

    def instances(self, key: VariantKey) -> tuple[Instance, ...]:
        """The instances the table routes `key`'s traffic to; none once it is not routed."""
        route = self.table.endpoints.get(key.endpoint)
        found = route.find(key.config, key.variant) if route is not None else None
        return tuple(u.instance for u in found.upstreams) if found is not None else ()

    def ejections(self, now: float) -> list[Ejections]:
        """Outlier ejection per routed instance (ADR 0034), for the metrics; on the loop.

        `now` is on perf_counter's scale: an ejection whose time is up counts as over even
        before the variant's next request returns the instance to rotation."""
        return [
            Ejections(u.instance.spec, u.outlier.ejections, u.outlier.ejected_until > now)
            for u in self._upstreams.values()
        ]

    def metrics_of(self, key: VariantKey) -> VariantMetrics:
        """The variant's counters (made on first use); on the loop."""
        return self._metrics(key)

    def _metrics(self, key: VariantKey) -> VariantMetrics:
        metrics = self.metrics.get(key)
        if metrics is None:
            metrics = self.metrics[key] = VariantMetrics(key)
        return metrics

    def _gate(self, key: VariantKey, limit: int | None) -> ConcurrencyGate | None:
        """The variant's gate (the same across publishes: its count holds requests in
        flight), its limit as published; None for a variant that is not serverless."""
        if limit is None:
            return None
        gate = self.gates.get(key)
        if gate is None:
            gate = self.gates[key] = ConcurrencyGate(limit, time.monotonic())
        gate.limit = limit
        return gate

    def _drop_gates(self) -> None:
        """Forget the gates of variants no longer routed, or no longer serverless."""
        gated = {
            VariantKey(name, r.config, r.name)
            for name, route in self.table.endpoints.items()
            for r in route.all_routes()
            if r.gate is not None
        }
        for key in [k for k in self.gates if k not in gated]:
            del self.gates[key]

    def _upstream(self, instance: Instance) -> Upstream:
        upstream = self._upstreams.get(instance.spec.id)
        if upstream is None or upstream.instance is not instance:
            if upstream is not None:  # same id, new incarnation: its old connections are dead
                upstream.pool.close()
            # The address is read at each new connection: a restart may move the instance.
            # Idle connections close before the instance's server would close them.
            idle = IDLE_TIMEOUT if runs_command(instance.spec.model) else WORKER_KEEP_ALIVE / 2
            pool = ConnectionPool(
                lambda: instance.address,
                max_response_bytes=self.limits.max_payload_bytes,
                idle_timeout=idle,
            )
            upstream = Upstream(instance, pool, instance.spec.id.encode())
            self._upstreams[instance.spec.id] = upstream
        return upstream

    def _routed_ids(self) -> set[str]:
        return {
            u.instance.spec.id
            for route in self.table.endpoints.values()
            for variant in route.all_routes()
            for u in variant.upstreams
        }

    def _swap(self, endpoints: dict[str, EndpointRoute]) -> None:
        self.table = RoutingTable(self.table.version + 1, endpoints)
