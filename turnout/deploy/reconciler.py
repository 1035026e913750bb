"""The deployer: a reconcile loop from persisted desired state to instances and routes.

The API only records what is wanted (an endpoint Creating, Updating, Deleting); this loop
reads that from the store, compares it with what runs, and takes the next step. Everything
it needs to resume is on disk, so a restart mid-way picks up where the store says:

    Creating ──all instances ready──▶ InService ◀──applied── Updating
       │                                │   ▲                  │ (weights/capacities,
       └─an instance can't start─▶ Failed   └──failed: back────┘  or a new config)
    any ──DeleteEndpoint──▶ Deleting ──drained, stopped──▶ (gone)

An UpdateEndpoint with a DeploymentConfig is a guarded deployment: while Updating (and
RollingBack) each pass observes the fleets and alarms, lets `deploy.rollout` decide the
next step, records it, and only then routes and starts or stops fleets accordingly.

Status writes are compare-and-set on the status the step started from, so an API call that
changed the endpoint meanwhile (e.g. DeleteEndpoint during Creating) wins, and the next
step acts on it. One step runs at a time per endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from turnout.deploy.plans import initial_states, scale_plan, serving_states, weights_of
from turnout.deploy.rollout import Change, Facts, Green, decide, due_at, green_share, watches_alarms
from turnout.domain.alarms import AlarmState
from turnout.domain.deployments import Deployment, Phase
from turnout.domain.resources import Endpoint, EndpointStatus, Fleet, VariantState
from turnout.errors import NotFound
from turnout.instances.backend import (
    Instance,
    InstanceBackend,
    InstanceSpec,
    InstanceStartFailed,
    InstanceState,
)
from turnout.instances.backoff import restart_delay
from turnout.routing.router import Router
from turnout.routing.table import VariantTarget
from turnout.store import Store

log = logging.getLogger("turnout.deploy")

S = EndpointStatus
# fleet (endpoint config name) -> variant -> instance index -> instance
Fleets = dict[str, dict[str, dict[int, Instance]]]
MAX_CHANGES_PER_PASS = 10  # a deployment settles in a few; more would be a bug looping


class AlarmStates(Protocol):
    """What a deployment's bake asks of the alarm evaluator (turnout.deploy.alarm_watch)."""

    async def states(self, names: Sequence[str]) -> dict[str, AlarmState]: ...


class RoutingSettingsSource(Protocol):
    """Carries an endpoint's routing settings (sticky salt, key, rules) into the router."""

    async def sync(self, endpoint: str) -> None: ...


class Reconciler:
    def __init__(
        self,
        store: Store,
        backend: InstanceBackend,
        router: Router,
        *,
        drain_timeout: float,
        tick: float = 1.0,
        clock: Callable[[], float] = time.time,
        alarms: AlarmStates | None = None,
        routing: RoutingSettingsSource | None = None,
    ) -> None:
        self._store = store
        self._routing = routing
        self._alarms = alarms
        # The green fleet of each endpoint's deployment as this process provisioned it:
        # (deployment id, state, failure). Absent after a restart.
        self._green: dict[str, tuple[int, Green, str | None]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}  # the next bake end, by endpoint
        self._backend = backend
        self._router = router
        self._drain_timeout = drain_timeout
        self._tick = tick
        self._clock = clock
        self._fleets: dict[str, Fleets] = {}  # by endpoint
        self._steps: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Replacing an instance that failed to start: consecutive failures, next try time.
        self._replacements: dict[str, tuple[int, float]] = {}

    # --- driving the loop -------------------------------------------------------------
    def wake(self) -> None:
        """Ask for a pass now (callable from any thread, e.g. an API request's)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                await self.reconcile_once()
            except Exception:  # the loop must outlive any one bad pass (e.g. store hiccup)
                log.exception("reconcile pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tick)
            self._wake.clear()

    async def reconcile_once(self) -> None:
        """Start a step for every endpoint that has none running."""
        endpoints = await asyncio.to_thread(self._store.list_endpoints)
        known = {ep.name for ep in endpoints}
        for name in known | set(self._fleets):
            step = self._steps.get(name)
            if step is None or step.done():
                self._steps[name] = asyncio.create_task(self._step(name), name=f"step {name}")

    async def close(self) -> None:
        """Stop stepping (instances are the backend's to stop; desired state stays on disk)."""
        for step in self._steps.values():
            step.cancel()
        await asyncio.gather(*self._steps.values(), return_exceptions=True)
        self._steps.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def instances(self, endpoint: str) -> list[Instance]:
        """Every instance running for the endpoint, in every fleet."""
        return [
            instance
            for variants in self._fleets.get(endpoint, {}).values()
            for by_index in variants.values()
            for instance in by_index.values()
        ]

    # --- one step ---------------------------------------------------------------------
    async def _step(self, name: str) -> None:
        try:
            if self._routing is not None:  # before any publish: the salt must be the stored one
                await self._routing.sync(name)
            endpoint = await self._read(name)
            if endpoint is None:
                await self._teardown(name)
            elif endpoint.status is S.CREATING:
                await self._create(endpoint)
            elif endpoint.status in (S.UPDATING, S.ROLLING_BACK):
                deployment = await asyncio.to_thread(self._store.active_deployment, name)
                if deployment is not None:
                    await self._deploy(endpoint, deployment)
                elif endpoint.pending_config_name is not None:
                    await self._switch_config(endpoint)
                else:
                    await self._apply_variant_changes(endpoint)
            elif endpoint.status in (S.IN_SERVICE, S.UPDATE_ROLLBACK_FAILED):
                await self._keep_serving(endpoint)
            elif endpoint.status is S.DELETING:
                await self._delete(endpoint)
            elif endpoint.status is S.FAILED:
                await self._teardown(name, delete_record=False)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("endpoint %s: step failed; will retry", name)

    async def _create(self, endpoint: Endpoint) -> None:
        fleet, _ = await asyncio.to_thread(self._store.endpoint_fleets, endpoint.name)
        counts = {v.name: v.desired_instance_count for v in endpoint.variants}
        started = self._scale_up(endpoint.name, fleet, counts)
        failure = await _first_start_failure(started)
        if failure is not None:
            await self._teardown(endpoint.name, delete_record=False)
            await self._transition(endpoint, S.FAILED, endpoint.variants, failure)
            return
        self._publish(endpoint.name, fleet, weights_of(endpoint.variants, current=False))
        await self._transition(endpoint, S.IN_SERVICE, serving_states(endpoint.variants), None)

    async def _apply_variant_changes(self, endpoint: Endpoint) -> None:
        """UpdateEndpointWeightsAndCapacities: add instances, re-weight, drain the surplus."""
        fleet, _ = await asyncio.to_thread(self._store.endpoint_fleets, endpoint.name)
        counts = {v.name: v.desired_instance_count for v in endpoint.variants}
        started = self._scale_up(endpoint.name, fleet, counts)
        failure = await _first_start_failure(started)
        if failure is not None:
            await self._stop(endpoint.name, fleet.config.name, started)
            reverted = tuple(_revert(v) for v in endpoint.variants)
            await self._transition(endpoint, S.IN_SERVICE, reverted, f"Update failed: {failure}")
            return
        surplus = self._surplus(endpoint.name, fleet.config.name, counts)
        # Publish first: once the surplus is out of the table no new request can pick it.
        self._publish(
            endpoint.name,
            fleet,
            weights_of(endpoint.variants, current=False),
            exclude=surplus,
        )
        await self._drain_and_stop(endpoint.name, fleet.config.name, surplus)
        await self._transition(endpoint, S.IN_SERVICE, serving_states(endpoint.variants), None)

    async def _switch_config(self, endpoint: Endpoint) -> None:
        """UpdateEndpoint, all at once: start green, move all traffic to it, retire blue."""
        blue, green = await asyncio.to_thread(self._store.endpoint_fleets, endpoint.name)
        assert green is not None
        states = initial_states(green.config)
        counts = {v.name: v.desired_instance_count for v in states}
        started = self._scale_up(endpoint.name, green, counts)
        failure = await _first_start_failure(started)
        if failure is not None:
            await self._stop(endpoint.name, green.config.name, self._all_of(endpoint.name, green))
            await self._transition(
                endpoint, S.IN_SERVICE, endpoint.variants, f"Update failed: {failure}",
                clear_pending=True,
            )  # fmt: skip
            return
        self._publish(endpoint.name, green, weights_of(states, current=False))
        switched = await self._transition(
            endpoint, S.IN_SERVICE, serving_states(states), None, promote_pending=True
        )
        if switched and blue.config.name != green.config.name:
            blue_instances = self._all_of(endpoint.name, blue)
            await self._drain_and_stop(endpoint.name, blue.config.name, blue_instances)

    async def _keep_serving(self, endpoint: Endpoint) -> None:
        """InService: make sure its fleet runs (after a restart) and replace dead starters."""
        fleet, _ = await asyncio.to_thread(self._store.endpoint_fleets, endpoint.name)
        fleets = self._fleets.get(endpoint.name, {})
        for other in [f for f in fleets if f != fleet.config.name]:  # e.g. a failed green
            await self._stop(endpoint.name, other, self._all_of_fleet(endpoint.name, other))
        await self._replace_failed(endpoint.name, fleet.config.name)
        counts = {
            v.name: v.current_instance_count or v.desired_instance_count for v in endpoint.variants
        }
        started = self._scale_up(endpoint.name, fleet, counts)
        if started or endpoint.name not in self._router.table.endpoints:
            # Route now: requests wait (bounded) for instances still starting.
            self._publish(endpoint.name, fleet, weights_of(endpoint.variants, current=True))

    async def _delete(self, endpoint: Endpoint) -> None:
        await self._teardown(endpoint.name, delete_record=True)

    async def _teardown(self, name: str, *, delete_record: bool = False) -> None:
        self._router.withdraw(name)
        instances = self.instances(name)
        await self._router.retire(instances, self._drain_timeout)
        await asyncio.gather(*(self._backend.stop(i) for i in instances))
        self._fleets.pop(name, None)
        self._green.pop(name, None)
        if delete_record:
            with contextlib.suppress(NotFound):
                await asyncio.to_thread(self._store.delete_endpoint, name)

    # --- guarded deployments ----------------------------------------------------------
    async def _deploy(self, endpoint: Endpoint, d: Deployment) -> None:
        """One pass: observe, decide, record each change, route to match; then act."""
        name = endpoint.name
        blue, green = await asyncio.to_thread(self._store.endpoint_fleets, name)
        if green is None:
            return
        # Blue serves throughout: started after a restart, failed starters replaced.
        await self._replace_failed(name, blue.config.name)
        self._scale_up(name, blue, _counts(endpoint.variants))
        facts = await self._observe(d, blue)
        for _ in range(MAX_CHANGES_PER_PASS):
            change = decide(d, facts)
            if change is None:
                break
            if not await self._record(endpoint, d, change, green):
                self.wake()  # the API changed it meanwhile: read again
                return
            d = change.deployment
            log.info("endpoint %s: deployment %s: %s", name, d.phase.value, change.event.message)
            if d.phase.finished:
                await self._finished(endpoint, d, blue, green)
                return
            self._route(endpoint, d, blue, green, facts.green is Green.READY)
        self._route(endpoint, d, blue, green, facts.green is Green.READY)
        if d.phase is Phase.ROLLING_BACK:
            await self._stop_green(name, green)
            self.wake()  # the next pass records the end of the rollback
        elif facts.green is Green.ABSENT:
            await self._provision_green(name, d, green)
            self.wake()
        else:
            self._wake_at(name, due_at(d))

    async def _observe(self, d: Deployment, blue: Fleet) -> Facts:
        name = d.endpoint
        known = self._green.get(name)
        green, failure = (
            (known[1], known[2]) if known and known[0] == d.id else (Green.ABSENT, None)
        )
        blue_failure = None
        if d.phase is Phase.ROLLING_BACK:
            blue_failure = await _first_start_failure(self._all_of(name, blue))
        alarms: dict[str, AlarmState] = {}
        if self._alarms is not None and d.policy.alarms and watches_alarms(d):
            alarms = await self._alarms.states(d.policy.alarms)
        return Facts(
            now=self._clock(),
            green=green,
            green_failure=failure,
            green_stopped=d.green_config not in self._fleets.get(name, {}),
            blue_failure=blue_failure,
            alarms=alarms,
        )

    async def _record(
        self, endpoint: Endpoint, d: Deployment, change: Change, green: Fleet
    ) -> bool:
        new, event = change.deployment, change.event
        if not new.phase.finished:
            rolling_back = new.phase is Phase.ROLLING_BACK and d.phase is not Phase.ROLLING_BACK
            status = S.ROLLING_BACK if rolling_back else None
            return await asyncio.to_thread(self._store.record_deployment, d, new, event, status)
        succeeded = new.phase is Phase.SUCCEEDED
        return await asyncio.to_thread(
            functools.partial(
                self._store.finish_deployment, d, new, event,
                status=S.UPDATE_ROLLBACK_FAILED if new.phase is Phase.ROLLBACK_FAILED
                else S.IN_SERVICE,
                variants=serving_states(initial_states(green.config)) if succeeded
                else endpoint.variants,
                promote_pending=succeeded,
                at=event.at,
            )
        )  # fmt: skip

    async def _finished(self, endpoint: Endpoint, d: Deployment, blue: Fleet, green: Fleet) -> None:
        """Recorded as finished: retire the fleet that no longer serves."""
        name = endpoint.name
        if d.phase is Phase.SUCCEEDED:
            self._publish(name, green, weights_of(initial_states(green.config), current=False))
            await self._drain_and_stop(name, blue.config.name, self._all_of(name, blue))
        else:
            self._publish(name, blue, weights_of(endpoint.variants, current=True))
            await self._stop_green(name, green)
        self._green.pop(name, None)

    def _route(
        self, endpoint: Endpoint, d: Deployment, blue: Fleet, green: Fleet, green_ready: bool
    ) -> None:
        """Publish blue's and green's shares for the recorded state (a fleet at 0 is left
        out of the table, so that retiring it waits only for requests already in flight)."""
        share = green_share(d, green_ready)
        targets: list[VariantTarget] = []
        if share < 1.0:
            blue_weights = weights_of(endpoint.variants, current=True)
            targets += self._targets(endpoint.name, blue, blue_weights, 1.0 - share)
        if share > 0.0:
            green_weights = weights_of(initial_states(green.config), current=False)
            targets += self._targets(endpoint.name, green, green_weights, share)
        self._router.publish(endpoint.name, targets)

    async def _provision_green(self, name: str, d: Deployment, green: Fleet) -> None:
        """Start the whole green fleet and wait until it answers (or fails); no traffic yet."""
        started = self._scale_up(name, green, _counts(initial_states(green.config)))
        failure = await _first_start_failure(started or self._all_of(name, green))
        state = Green.READY if failure is None else Green.FAILED
        self._green[name] = (d.id, state, failure)

    async def _stop_green(self, name: str, green: Fleet) -> None:
        self._green.pop(name, None)
        await self._drain_and_stop(name, green.config.name, self._all_of(name, green))

    def _wake_at(self, name: str, when: float | None) -> None:
        """A pass when the bake (or termination wait) ends, not up to a tick later."""
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        if when is not None and self._loop is not None:
            delay = max(0.0, when - self._clock())
            self._timers[name] = self._loop.call_later(delay, self._wake.set)

    # --- fleets -----------------------------------------------------------------------
    def _scale_up(self, endpoint: str, fleet: Fleet, counts: Mapping[str, int]) -> list[Instance]:
        """Start the instances missing from each variant; returns those started."""
        variants = self._fleets.setdefault(endpoint, {}).setdefault(fleet.config.name, {})
        started: list[Instance] = []
        for variant, count in counts.items():
            running = variants.setdefault(variant, {})
            to_start, _ = scale_plan(running, count)
            for index in to_start:
                spec = InstanceSpec(
                    endpoint, fleet.config.name, variant, index, fleet.models[variant]
                )
                running[index] = self._backend.start(spec)
                started.append(running[index])
        return started

    def _surplus(self, endpoint: str, fleet: str, counts: Mapping[str, int]) -> list[Instance]:
        variants = self._fleets.get(endpoint, {}).get(fleet, {})
        surplus: list[Instance] = []
        for variant, running in variants.items():
            _, to_stop = scale_plan(running, counts.get(variant, 0))
            surplus += [running[i] for i in to_stop]
        return surplus

    async def _replace_failed(self, endpoint: str, fleet: str) -> None:
        """Drop instances that failed to start so _scale_up starts them again, with back-off."""
        now = time.monotonic()
        for by_index in self._fleets.get(endpoint, {}).get(fleet, {}).values():
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
                    await self._backend.stop(instance)

    def _publish(
        self,
        endpoint: str,
        fleet: Fleet,
        weights: Mapping[str, float],
        exclude: Iterable[Instance] = (),
    ) -> None:
        self._router.publish(endpoint, self._targets(endpoint, fleet, weights, 1.0, exclude))

    def _targets(
        self,
        endpoint: str,
        fleet: Fleet,
        weights: Mapping[str, float],
        share: float,
        exclude: Iterable[Instance] = (),
    ) -> list[VariantTarget]:
        """The fleet's variants, weighted to make up `share` of the endpoint's traffic, with
        its config's capture settings (read with the fleet, in a thread: the router reads
        nothing from the store)."""
        skip = {i.spec.id for i in exclude}
        config = fleet.config
        variants = self._fleets.get(endpoint, {}).get(config.name, {})
        total = sum(weights.values()) or 1.0
        return [
            VariantTarget(
                config.name,
                name,
                weight / total * share,
                [i for _, i in sorted(variants.get(name, {}).items()) if i.spec.id not in skip],
                config.data_capture,
            )
            for name, weight in weights.items()
        ]

    async def _drain_and_stop(self, endpoint: str, fleet: str, instances: list[Instance]) -> None:
        await self._router.retire(instances, self._drain_timeout)
        await self._stop(endpoint, fleet, instances)

    async def _stop(self, endpoint: str, fleet: str, instances: Iterable[Instance]) -> None:
        instances = list(instances)
        variants = self._fleets.get(endpoint, {}).get(fleet, {})
        for instance in instances:
            variants.get(instance.spec.variant, {}).pop(instance.spec.index, None)
        await asyncio.gather(*(self._backend.stop(i) for i in instances))
        if not any(variants.values()):
            self._fleets.get(endpoint, {}).pop(fleet, None)

    def _all_of(self, endpoint: str, fleet: Fleet) -> list[Instance]:
        return self._all_of_fleet(endpoint, fleet.config.name)

    def _all_of_fleet(self, endpoint: str, fleet: str) -> list[Instance]:
        variants = self._fleets.get(endpoint, {}).get(fleet, {})
        return [i for by_index in variants.values() for i in by_index.values()]

    # --- store ------------------------------------------------------------------------
    async def _read(self, name: str) -> Endpoint | None:
        try:
            return await asyncio.to_thread(self._store.get_endpoint, name)
        except NotFound:
            return None

    async def _transition(
        self,
        endpoint: Endpoint,
        status: EndpointStatus,
        variants: tuple[VariantState, ...],
        failure_reason: str | None,
        *,
        promote_pending: bool = False,
        clear_pending: bool = False,
    ) -> bool:
        """Write the step's outcome unless the API changed the endpoint's status meanwhile."""
        saved = await asyncio.to_thread(
            self._store.save_endpoint_state,
            endpoint.name,
            status=status,
            variants=variants,
            failure_reason=failure_reason,
            last_modified_at=self._clock(),
            expect_status=endpoint.status,
            promote_pending=promote_pending,
            clear_pending=clear_pending,
        )
        if not saved:
            log.info("endpoint %s changed during a step; re-reading", endpoint.name)
            self.wake()
        elif failure_reason and status is EndpointStatus.FAILED:
            log.warning("endpoint %s is Failed: %s", endpoint.name, failure_reason)
        elif status is not endpoint.status:
            log.info("endpoint %s: %s → %s", endpoint.name, endpoint.status.value, status.value)
        return saved


def _counts(states: Iterable[VariantState]) -> dict[str, int]:
    """Instances each variant runs with (what serves; what is asked before it first serves)."""
    return {s.name: s.current_instance_count or s.desired_instance_count for s in states}


def _revert(state: VariantState) -> VariantState:
    """Desired back to current, after an update that could not be applied."""
    return replace(
        state,
        desired_weight=state.current_weight
        if state.current_weight is not None
        else state.desired_weight,
        desired_instance_count=state.current_instance_count
        if state.current_instance_count is not None
        else state.desired_instance_count,
    )


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
