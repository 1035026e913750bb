"""The node agent: makes this node's instances and router match the routing plans.

Every `turnout serve` runs one (ADR 0019). For each endpoint with a plan in the store it

1. starts the instances the plan asks of this node that are missing (failed starters of a
   routed fleet again, with back-off),
2. waits for the instances it started to answer /ping (or fail),
3. publishes the plan's weights to its router, leaving out what is surplus, then drains
   and stops the surplus and every fleet the plan no longer has,
4. records the plan's version as applied and reports it, with every instance's state, in
   its heartbeat; the controller reads the reports of all live nodes.

If an instance of the plan fails to start, the agent leaves its router as it was (nothing
published, nothing stopped) and reports the failure: the controller decides what next. A
plan marked `serving` is routed at once on a node that does not route the endpoint yet
(a node that just started): its callers wait, bounded, for the first instances.

A serverless variant's plan entry is `on_demand` (ADR 0038): beyond its warm floor the agent
starts an instance when its router finds a request and none ready (`demand`, on the loop,
answered from the last reading without a store trip), reports its cold start as the
variant's ModelSetupTime, and stops it once the variant's gate has been idle `idle` seconds.

It learns of new plans by a wake-up (a store notice, or the controller in this process) and
by polling every tick as the fallback. One step at a time per endpoint, on the event loop;
store reads and writes run in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from turnout.deploy.plans import scale_plan
from turnout.domain.nodes import InstanceReport, NodeReport
from turnout.domain.plans import RoutingPlan
from turnout.domain.resources import Fleet
from turnout.domain.rollups import VariantKey
from turnout.domain.routing import RoutingSettings
from turnout.domain.switch import switch_of
from turnout.errors import NotFound, StoreUnavailable
from turnout.instances.backend import (
    Instance,
    InstanceBackend,
    InstanceSpec,
    InstanceStartFailed,
    InstanceState,
)
from turnout.instances.backoff import restart_delay
from turnout.routing.router import Router
from turnout.routing.serverless import idle
from turnout.routing.table import VariantTarget
from turnout.store import Store
from turnout.store.cluster import ClusterStore

log = logging.getLogger("turnout.agent")

# s: an endpoint whose plan is applied and unchanged is looked at again this often by the
# tick (a notice lost, routing settings changed through another node).
RESYNC_EVERY = 5.0

# s: a serverless variant's on-demand instance stops after this long without a request.
SERVERLESS_IDLE = 300.0

# (fleet, variant) -> instance index -> instance
Running = dict[tuple[str, str], dict[int, Instance]]


class RoutingSettingsSource(Protocol):
    """An endpoint's routing settings (sticky salt, key, rules); blocking, NotFound."""

    def get(self, endpoint: str) -> RoutingSettings: ...


@dataclass(frozen=True)
class Reading:
    """What one step reads from the store, in one trip to a thread."""

    plan: RoutingPlan | None
    fleets: tuple[Fleet, Fleet | None] | None = None  # the endpoint's current and pending
    routing: RoutingSettings | None = None


class NodeAgent:
    def __init__(
        self,
        name: str,
        url: str,
        store: Store,
        cluster: ClusterStore,
        backend: InstanceBackend,
        backend_name: str,
        router: Router,
        *,
        drain_timeout: float,
        routing: RoutingSettingsSource | None = None,
        tick: float = 1.0,
        clock: Callable[[], float] = time.time,
        serverless_idle: float = SERVERLESS_IDLE,
    ) -> None:
        self.name = name
        self.url = url
        self._store = store
        self._cluster = cluster
        self._backend = backend
        self._backend_name = backend_name
        self._router = router
        self._drain_timeout = drain_timeout
        self._routing = routing
        self._tick = tick
        self._clock = clock
        self.started_at = clock()
        self._running: dict[str, Running] = {}  # by endpoint; owned by the event loop
        self._applied: dict[str, int] = {}  # endpoint -> plan version in effect here
        self._steps: dict[str, asyncio.Task[None]] = {}
        self._asked: set[str] = set()  # endpoints named by a wake-up since the last pass
        self._looked_at: dict[str, float] = {}  # endpoint -> monotonic time of its last step
        self._ticked_at = 0.0  # monotonic time of the last pass over every endpoint
        self._replacements: dict[str, tuple[int, float]] = {}  # id -> (failures, retry at)
        # What API threads may read: replaced whole on the loop, never mutated.
        self._snapshot: MappingProxyType[str, tuple[Instance, ...]] = MappingProxyType({})
        # What each endpoint's route was last published from: a pass that would publish the
        # same (every tick re-applies the plan) leaves the router's table alone.
        self._published: dict[str, list[VariantTarget]] = {}
        self._wake = asyncio.Event()
        self._report_due = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_report: Callable[[], object] | None = None  # the controller here, if any
        # Serverless (ADR 0038): variants whose router asked for an instance, still busy.
        self._idle = serverless_idle
        self._demand: dict[VariantKey, float] = {}  # -> monotonic time of the ask
        self._readings: dict[str, Reading] = {}  # endpoint -> its last reading with fleets
        router.on_demand = self.demand

    # --- driving ----------------------------------------------------------------------
    def wake(self, endpoint: str | None = None) -> None:
        """Look at the plans now (`endpoint`'s even if its version did not change, e.g. for
        new routing settings); callable from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake_up, endpoint)

    def _wake_up(self, endpoint: str | None) -> None:
        if endpoint is not None:
            self._asked.add(endpoint)
        self._wake.set()

    def demand(self, key: VariantKey) -> None:
        """The router has a request of serverless `key` and no ready instance: start one
        now, from the last reading (on the loop)."""
        if key in self._demand:
            return  # starting already
        self._demand[key] = time.monotonic()
        endpoint = key.endpoint
        step = self._steps.get(endpoint)
        if step is None or step.done():
            self._steps[endpoint] = asyncio.create_task(
                self._step(endpoint, self._readings.get(endpoint)), name=f"agent {endpoint}"
            )
        else:
            self._wake_up(endpoint)  # after the step in progress

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        reporter = asyncio.create_task(self._report_loop(), name="node report")
        try:
            while True:
                try:
                    await self._pass()
                except StoreUnavailable as exc:  # routers keep serving the last plans
                    log.warning("node agent: %s", exc)
                except Exception:  # the agent must outlive a bad pass
                    log.exception("node agent pass failed; will retry")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._tick)
                self._wake.clear()
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter

    async def _pass(self) -> None:
        """A step for each endpoint named by a wake-up; on a tick, for each endpoint planned
        or running here whose plan changed, that has an instance to replace, or that was
        not looked at for RESYNC_EVERY seconds."""
        asked, self._asked = self._asked, set()
        versions: dict[str, int] = {}
        tick = not asked or time.monotonic() - self._ticked_at >= self._tick
        if tick:  # at least once a tick, however many wake-ups come in between
            self._ticked_at = time.monotonic()
            versions = await asyncio.to_thread(self._cluster.plan_versions)
        for endpoint in asked | set(versions) | (set(self._running) if tick else set()):
            if endpoint not in asked and not self._due(endpoint, versions.get(endpoint)):
                continue
            step = self._steps.get(endpoint)
            if step is None or step.done():
                self._looked_at[endpoint] = time.monotonic()
                self._steps[endpoint] = asyncio.create_task(
                    self._step(endpoint), name=f"agent {endpoint}"
                )
            else:
                self._asked.add(endpoint)  # busy: look again once this step is done
        for endpoint in [e for e, s in self._steps.items() if s.done()]:
            if endpoint not in self._running and endpoint not in self._applied:
                del self._steps[endpoint]
                self._looked_at.pop(endpoint, None)

    def _due(self, endpoint: str, version: int | None) -> bool:
        """Whether a tick should look at the endpoint."""
        if version != self._applied.get(endpoint):
            return True
        if any(i.state is InstanceState.FAILED for i in self._all(endpoint)):
            return True  # a failed starter to replace (with back-off)
        if any(k.endpoint == endpoint and self._idle_now(k) for k in self._demand):
            return True  # an on-demand instance to stop
        return time.monotonic() - self._looked_at.get(endpoint, 0.0) >= RESYNC_EVERY

    async def close(self) -> None:
        """Stop applying plans (the backend stops the instances) and leave the installation:
        the controller stops waiting for this node at once, not a lease time later."""
        for step in self._steps.values():
            step.cancel()
        await asyncio.gather(*self._steps.values(), return_exceptions=True)
        self._steps.clear()
        try:
            await asyncio.to_thread(self._cluster.forget_node, self.name, float("inf"))
        except Exception as exc:  # the store is down: the node goes stale instead
            log.warning("node %s: could not leave the installation (%s)", self.name, exc)

    # --- what others read -------------------------------------------------------------
    def instances(self, endpoint: str) -> tuple[Instance, ...]:
        """This node's instances of `endpoint` (safe from any thread)."""
        return self._snapshot.get(endpoint, ())

    def report(self) -> NodeReport:
        """This node's state as the controller reads it (built on the event loop)."""
        instances = tuple(
            InstanceReport(
                i.spec.endpoint,
                i.spec.fleet,
                i.spec.variant,
                i.spec.index,
                i.state.value,
                str(i.address),
                i.pid,
                i.restarts,
                i.last_error,
            )
            for running in self._running.values()
            for by_index in running.values()
            for i in by_index.values()
        )
        return NodeReport(dict(self._applied), instances, socket.gethostname(), os.getpid())

    # --- one step ---------------------------------------------------------------------
    async def _step(self, endpoint: str, reading: Reading | None = None) -> None:
        try:
            if reading is None:
                reading = await asyncio.to_thread(self._read, endpoint)
            plan = reading.plan
            if plan is None or not plan.fleets:
                await self._stop_all(endpoint)
                self._readings.pop(endpoint, None)
                self._demand = {k: t for k, t in self._demand.items() if k.endpoint != endpoint}
                if plan is None:
                    self._applied.pop(endpoint, None)
                else:
                    self._applied[endpoint] = plan.version
                self._report_soon()
                return
            fleets = _planned_fleets(plan, reading.fleets)
            if fleets is None:
                return  # the endpoint changed meanwhile: the controller writes a new plan
            self._readings[endpoint] = reading
            if reading.routing is not None:  # before any publish: the salt must be the stored one
                self._router.set_routing(endpoint, reading.routing)
            await self._apply(plan, fleets)
        except asyncio.CancelledError:
            raise
        except StoreUnavailable as exc:  # its router keeps the routes it has
            log.warning("endpoint %s: plan not read: %s", endpoint, exc)
        except Exception:
            log.exception("endpoint %s: applying its plan failed; will retry", endpoint)
        finally:
            if endpoint in self._asked:  # a wake-up came while this step ran: go again now
                self._wake.set()

    def _read(self, endpoint: str) -> Reading:
        """The plan, and for a plan with fleets the endpoint's fleets and routing settings
        (in a thread: one hop for all three)."""
        plan = self._cluster.plan(endpoint)
        if plan is None or not plan.fleets:
            return Reading(plan)
        try:
            fleets = self._store.endpoint_fleets(endpoint)
            routing = self._routing.get(endpoint) if self._routing is not None else None
        except NotFound:
            return Reading(plan)
        return Reading(plan, fleets, routing)

    async def _apply(self, plan: RoutingPlan, fleets: dict[str, Fleet]) -> None:
        endpoint = plan.endpoint
        if plan.serving:
            await self._replace_failed(plan)
        for key in [k for k in self._demand if k.endpoint == endpoint and self._idle_now(k)]:
            del self._demand[key]
        began = time.perf_counter()
        started = self._scale_up(plan, fleets)
        if started:
            self._report_soon()
        if plan.serving and endpoint not in self._router.table.endpoints:
            self._publish(plan, fleets, surplus=[])  # route now; callers wait for starters
        starting = [i for i in self._all(endpoint) if i.state is InstanceState.STARTING]
        failure = await _first_start_failure([*started, *starting])
        failed = self._cold_started(plan, started, time.perf_counter() - began)
        if failed:  # the next request asks again (a cold start each, bounded by its wait)
            await self._stop(endpoint, failed)
        if failure is None:
            surplus = self._surplus(plan)
            self._publish(plan, fleets, surplus)
            await self._router.retire(surplus, self._drain_timeout)
            await self._stop(endpoint, surplus)
        else:
            log.warning("endpoint %s: plan %d not applied: %s", endpoint, plan.version, failure)
        if self._applied.get(endpoint) != plan.version:
            self._applied[endpoint] = plan.version
            self._report_soon()

    def _scale_up(self, plan: RoutingPlan, fleets: dict[str, Fleet]) -> list[Instance]:
        """Start the instances missing from each planned variant; returns those started."""
        running = self._running.setdefault(plan.endpoint, {})
        started: list[Instance] = []
        for config, variant, count in self._counts(plan):
            by_index = running.setdefault((config, variant), {})
            to_start, _ = scale_plan(by_index, count)
            fleet = fleets[config]
            declared = fleet.config.variant(variant)
            instance_type = declared.instance_type if declared is not None else None
            for index in to_start:
                spec = InstanceSpec(
                    plan.endpoint, config, variant, index, fleet.models[variant], instance_type
                )
                by_index[index] = self._backend.start(spec)
                started.append(by_index[index])
        if started:
            self._snap()
        return started

    def _surplus(self, plan: RoutingPlan) -> list[Instance]:
        """Instances beyond the plan's counts, and those of variants or fleets it lacks."""
        wanted = {(config, variant): count for config, variant, count in self._counts(plan)}
        surplus: list[Instance] = []
        for key, by_index in self._running.get(plan.endpoint, {}).items():
            _, to_stop = scale_plan(by_index, wanted.get(key, 0))
            surplus += [by_index[i] for i in to_stop]
        return surplus

    def _counts(self, plan: RoutingPlan) -> Iterator[tuple[str, str, int]]:
        """(config, variant, instances) to run here: the plan's counts, and a serverless
        variant's floor raised to one instance while its router has demand for it."""
        on_demand = {
            (f.config, v.name): v.on_demand for f in plan.fleets for v in f.variants if v.on_demand
        }
        for config, variant, count in plan.counts():
            bounds = on_demand.get((config, variant))
            if bounds is not None and VariantKey(plan.endpoint, config, variant) in self._demand:
                count = max(count, min(1, bounds.max_instances))
            yield config, variant, count

    def _idle_now(self, key: VariantKey) -> bool:
        """Whether the on-demand instance of `key` may stop: its router's gate has been idle
        for the idle time, counted from the ask at the earliest."""
        gate = self._router.gates.get(key)
        if gate is None:  # no longer routed as serverless
            return True
        busy = max(gate.last_busy, self._demand.get(key, 0.0))
        return idle(gate.in_flight, busy, time.monotonic(), self._idle)

    def _cold_started(
        self, plan: RoutingPlan, started: list[Instance], seconds: float
    ) -> list[Instance]:
        """Count each on-demand instance that started as its variant's ModelSetupTime; the
        demand of one that failed is dropped and it is returned, to stop."""
        failed: list[Instance] = []
        for instance in started:
            spec = instance.spec
            key = VariantKey(plan.endpoint, spec.fleet, spec.variant)
            if key not in self._demand:
                continue
            if instance.state is InstanceState.READY:
                self._router.metrics_of(key).observe_setup(seconds * 1e6)
                log.info("instance %s: cold start in %.2f s", spec.id, seconds)
            else:
                del self._demand[key]
                failed.append(instance)
        return failed

    async def _replace_failed(self, plan: RoutingPlan) -> None:
        """Stop instances of routed fleets that failed to start so that they start again,
        with back-off (a fleet without traffic is the controller's to judge)."""
        routed = {f.config for f in plan.fleets if f.share > 0}
        now = time.monotonic()
        for (config, _), by_index in self._running.get(plan.endpoint, {}).items():
            if config not in routed:
                continue
            for index, instance in list(by_index.items()):
                key = instance.spec.id
                if instance.state is InstanceState.READY:
                    self._replacements.pop(key, None)
                if instance.state is not InstanceState.FAILED:
                    continue
                failures, retry_at = self._replacements.get(key, (0, 0.0))
                if retry_at == 0.0:  # first sight of this failure: schedule the retry
                    failures += 1
                    delay = max(restart_delay(failures), 1.0)
                    self._replacements[key] = (failures, now + delay)
                    log.warning(
                        "instance %s failed to start (%s); retrying in %.1f s",
                        key, instance.last_error, delay,
                    )  # fmt: skip
                elif now >= retry_at:
                    self._replacements[key] = (failures, 0.0)
                    del by_index[index]
                    self._snap()
                    await self._backend.stop(instance)

    def _publish(
        self, plan: RoutingPlan, fleets: dict[str, Fleet], surplus: Iterable[Instance]
    ) -> None:
        """Route the plan's fleets that carry traffic; a fleet at 0 is on standby, reached
        only by a request naming its config and variant (a green fleet's prediction test)."""
        skip = {i.spec.id for i in surplus}
        running = self._running.get(plan.endpoint, {})

        def ready(config: str, variant: str) -> list[Instance]:
            by_index = running.get((config, variant), {})
            return [i for _, i in sorted(by_index.items()) if i.spec.id not in skip]

        targets: list[VariantTarget] = []
        for fleet in plan.fleets:
            limit = {
                v.name: v.on_demand.max_concurrency if v.on_demand else None for v in fleet.variants
            }
            models = fleets[fleet.config].models
            multi = {
                v.name: v.name in models and models[v.name].multi_model for v in fleet.variants
            }
            switch = {v.name: switch_of(models[v.name]) if v.name in models else None
                      for v in fleet.variants}  # fmt: skip
            if fleet.share <= 0:
                targets += [
                    VariantTarget(
                        fleet.config,
                        v.name,
                        0.0,
                        ready(fleet.config, v.name),
                        standby=True,
                        max_concurrency=limit[v.name],
                        multi_model=multi[v.name],
                        switch=switch[v.name],
                    )
                    for v in fleet.variants
                ]
                continue
            capture = fleets[fleet.config].config.data_capture
            targets += [
                VariantTarget(
                    fleet.config,
                    variant,
                    weight,
                    ready(fleet.config, variant),
                    capture,
                    max_concurrency=limit[variant],
                    multi_model=multi[variant],
                    switch=switch[variant],
                )
                for variant, weight in fleet.weights().items()
            ]
            targets += [
                VariantTarget(
                    fleet.config, s.name, 0.0, ready(fleet.config, s.name), capture, s.sampling
                )
                for s in fleet.shadows
            ]
        if _same(self._published.get(plan.endpoint), targets) and (
            plan.endpoint in self._router.table.endpoints
        ):
            return
        self._router.publish(plan.endpoint, targets)
        log.debug(
            "endpoint %s: routing by plan %d at %.3f", plan.endpoint, plan.version, time.time()
        )
        self._published[plan.endpoint] = targets

    async def _stop_all(self, endpoint: str) -> None:
        """The endpoint is gone from the plans (or planned empty): unroute, drain, stop."""
        if endpoint in self._router.table.endpoints:
            self._router.withdraw(endpoint)
        self._published.pop(endpoint, None)
        instances = self._all(endpoint)
        if instances:
            await self._router.retire(instances, self._drain_timeout)
            await self._stop(endpoint, instances)
        self._running.pop(endpoint, None)
        for key in [k for k in self._replacements if k.startswith(f"{endpoint}/")]:
            del self._replacements[key]
        self._snap()

    async def _stop(self, endpoint: str, instances: Iterable[Instance]) -> None:
        instances = list(instances)
        running = self._running.get(endpoint, {})
        for instance in instances:
            key = (instance.spec.fleet, instance.spec.variant)
            running.get(key, {}).pop(instance.spec.index, None)
            if not running.get(key, True):
                del running[key]
            self._replacements.pop(instance.spec.id, None)
        self._snap()
        await asyncio.gather(*(self._backend.stop(i) for i in instances))
        if instances:
            self._report_soon()

    def _all(self, endpoint: str) -> list[Instance]:
        return [
            i for by_index in self._running.get(endpoint, {}).values() for i in by_index.values()
        ]

    def _snap(self) -> None:
        self._snapshot = MappingProxyType(
            {endpoint: tuple(self._all(endpoint)) for endpoint in self._running}
        )

    # --- reporting --------------------------------------------------------------------
    def _report_soon(self) -> None:
        self._report_due.set()

    async def _report_loop(self) -> None:
        """The heartbeat: the report at once, then every tick and whenever something changed."""
        self._report_due.set()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._report_due.wait(), self._tick)
            self._report_due.clear()
            try:
                await self.send_report()
            except Exception as exc:  # a store hiccup: the next beat tries again
                log.warning("node %s: reporting failed (%s); will retry", self.name, exc)

    async def send_report(self) -> None:
        report = self.report()
        await asyncio.to_thread(
            self._cluster.report,
            self.name,
            self.url,
            self._backend_name,
            self.started_at,
            report,
            self._clock(),
        )
        if self.on_report is not None:
            self.on_report()


def _planned_fleets(
    plan: RoutingPlan, fleets: tuple[Fleet, Fleet | None] | None
) -> dict[str, Fleet] | None:
    """The plan's fleets, as the endpoint references them (current and pending config);
    None if it references one the endpoint does not (it changed since the plan)."""
    if fleets is None:
        return None
    known = {f.config.name: f for f in fleets if f is not None}
    if any(f.config not in known for f in plan.fleets):
        return None
    return {f.config: known[f.config] for f in plan.fleets}


def _same(before: Sequence[VariantTarget] | None, now: Sequence[VariantTarget]) -> bool:
    """Whether two publications route alike, instances compared by identity: a replaced
    instance keeps its spec but is a new object (the old one is kept referenced here, so
    its id cannot be reused)."""
    return (
        before is not None
        and len(before) == len(now)
        and all(
            _route_of(a) == _route_of(b)
            and len(a.instances) == len(b.instances)
            and all(x is y for x, y in zip(a.instances, b.instances, strict=True))
            for a, b in zip(before, now, strict=True)
        )
    )


def _route_of(t: VariantTarget) -> tuple[object, ...]:
    """What of a target, besides its instances, the router routes by."""
    return (t.config, t.name, t.weight, t.capture, t.sampling, t.standby, t.max_concurrency,
            t.multi_model, t.switch)  # fmt: skip


async def _first_start_failure(instances: list[Instance]) -> str | None:
    """Wait for every instance to start; the first failure, as a FailureReason, or None."""
    results = await asyncio.gather(*(i.wait_started() for i in instances), return_exceptions=True)
    for instance, result in zip(instances, results, strict=True):
        if isinstance(result, InstanceStartFailed):
            spec = instance.spec
            return f"Instance {spec.index} of variant {spec.variant} failed to start: {result}"
        if isinstance(result, BaseException):
            raise result
    return None
