"""The controller: a reconcile loop from persisted desired state to routing plans.

The API only records what is wanted (an endpoint Creating, Updating, Deleting); this loop
reads that from the store, compares it with what the nodes report, and takes the next step
by writing the endpoint's routing plan (turnout.domain.plans). Node agents make their
instances and routers match the plan and report back (ADR 0019). Everything it needs to
resume is in the store, so another node's controller picks up where the store says:

    Creating ──all instances ready──▶ InService ◀──applied── Updating
       │                                │   ▲                  │ (weights/capacities,
       └─an instance can't start─▶ Failed   └──failed: back────┘  or a new config)
    any ──DeleteEndpoint──▶ Deleting ──drained, stopped──▶ (gone)

An UpdateEndpoint with a DeploymentConfig is a guarded deployment: while Updating (and
RollingBack) each pass observes the fleets and alarms, lets `deploy.rollout` decide the
next step, records it, and only then plans blue's and green's shares accordingly.

Status writes are compare-and-set on the status the step started from, so an API call that
changed the endpoint meanwhile (e.g. DeleteEndpoint during Creating) wins, and the next
step acts on it. One step runs at a time per endpoint. Exactly one node runs the
controller, the holder of the controller lease (turnout.deploy.lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from turnout.deploy.observed import FleetView, fleet_view, lagging, live
from turnout.deploy.plans import initial_states, serving_states, weights_of
from turnout.deploy.rollout import (
    Change,
    Facts,
    Green,
    Validation,
    decide,
    due_at,
    green_share,
    watches_alarms,
)
from turnout.deploy.scaling import sized_like_blue
from turnout.domain.alarms import AlarmState
from turnout.domain.deployments import Deployment, Phase
from turnout.domain.nodes import Node
from turnout.domain.plans import (
    PlannedFleet,
    RoutingPlan,
    fleet_plan,
    planned_shadows,
    serverless_variants,
)
from turnout.domain.resources import Endpoint, EndpointStatus, Fleet, VariantState
from turnout.domain.switch import route_to
from turnout.errors import NotFound, StoreUnavailable
from turnout.store import Store
from turnout.store.cluster import ClusterStore
from turnout.store.scaling import ScalingStore

log = logging.getLogger("turnout.deploy")

S = EndpointStatus
MAX_CHANGES_PER_PASS = 10  # a deployment settles in a few; more would be a bug looping
FORGET_NODES_AFTER = 24 * 3600.0  # s: a node silent this long leaves `turnout nodes`
_POLL = 0.5  # s between looks at the nodes' reports while waiting without a notice


class AlarmStates(Protocol):
    """What a deployment's bake asks of the alarm evaluator (turnout.deploy.alarm_watch)."""

    async def states(self, names: Sequence[str]) -> dict[str, AlarmState]: ...


class PredictionTests(Protocol):
    """What a deployment's Validating phase asks (turnout.checks.gate): run its prediction
    test on the green fleet's variants alone and say how it went (bounded in time)."""

    async def run(self, d: Deployment, variants: Sequence[str]) -> Validation: ...


class PlanNotApplied(Exception):
    """Live nodes did not apply a plan in time; str names them."""


class PlanConflict(Exception):
    """Another writer changed the plan meanwhile (a controller that lost its lease)."""


class Controller:
    def __init__(
        self,
        store: Store,
        cluster: ClusterStore,
        *,
        node_timeout: float,
        apply_timeout: float,
        tick: float = 1.0,
        clock: Callable[[], float] = time.time,
        alarms: AlarmStates | None = None,
        sole_node: str | None = None,
        tests: PredictionTests | None = None,
    ) -> None:
        self._store = store
        self._tests = tests
        # Prediction tests running in the background, by deployment id (Validating).
        self._validations: dict[int, asyncio.Task[Validation]] = {}
        # A single-process installation (SQLite) heeds only its own node: a report left by
        # the process it replaced (killed a moment ago) must not count as a live node.
        self._sole_node = sole_node
        self._cluster = cluster
        self._alarms = alarms
        self._node_timeout = node_timeout  # a node silent for longer is gone
        self._apply_timeout = apply_timeout  # how long live nodes may take to apply a plan
        self._tick = tick
        self._clock = clock
        self._timers: dict[str, asyncio.TimerHandle] = {}  # the next bake end, by endpoint
        self._steps: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._reported = asyncio.Event()  # replaced at each report: waiters hold the old one
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_plan: Callable[[str], object] | None = None  # this node's agent, told at once
        self._forgot_at = 0.0  # when long-gone nodes were last looked for
        self._plans: dict[str, RoutingPlan | None] = {}  # by endpoint: see _stored_plan
        self._asked: set[str] = set()  # endpoints named by wake-ups since the last pass
        self._again: set[str] = set()  # endpoints asked for while their step ran
        self._everything = False  # a wake-up that named no endpoint
        self._ticked_at = 0.0  # monotonic time of the last pass over every endpoint
        self._autoscaled: dict[str, frozenset[str]] = {}  # variants with a scalable target

    # --- driving the loop -------------------------------------------------------------
    def wake(self, endpoint: str | None = None) -> None:
        """Ask for a pass now, over `endpoint` alone if given (callable from any thread,
        e.g. an API request's)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake_up, endpoint)

    def _wake_up(self, endpoint: str | None) -> None:
        if endpoint is None:
            self._everything = True
        else:
            self._asked.add(endpoint)
        self._wake.set()

    def reported(self) -> None:
        """A node reported: steps waiting for a plan to take effect look again (any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_reported)

    def _on_reported(self) -> None:
        self._reported.set()
        self._reported = asyncio.Event()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._plans.clear()  # leading again: another controller may have led meanwhile
        try:
            while True:
                try:
                    await self.reconcile_once()
                except StoreUnavailable as exc:
                    log.warning("controller: %s", exc)
                except Exception:  # the loop must outlive any one bad pass
                    log.exception("reconcile pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._tick)
                self._wake.clear()
        finally:
            await self.close()

    async def reconcile_once(self) -> None:
        """Start a step for every endpoint (or leftover plan) that has none running; after
        a wake-up that named endpoints, for those alone (unless a tick is due too)."""
        asked, self._asked = self._asked, set()
        everything = self._everything or not asked
        if everything or time.monotonic() - self._ticked_at >= self._tick:
            self._everything = False
            self._ticked_at = time.monotonic()
            endpoints = await asyncio.to_thread(self._store.list_endpoints)
            planned = await asyncio.to_thread(self._cluster.plan_versions)
            for name, plan in list(self._plans.items()):  # changed behind this one's back
                if (plan.version if plan else None) != planned.get(name):
                    del self._plans[name]
            asked |= {ep.name for ep in endpoints} | set(planned)
            await self._forget_long_gone_nodes()
        for name in asked:
            step = self._steps.get(name)
            if step is None or step.done():
                self._steps[name] = asyncio.create_task(self._step(name), name=f"step {name}")
            else:
                self._again.add(name)  # busy: step again as soon as this one is done
        for name in [n for n, step in self._steps.items() if step.done()]:
            del self._steps[name]  # a finished step of an endpoint gone is not kept

    async def _forget_long_gone_nodes(self) -> None:
        now = self._clock()
        if now - self._forgot_at < 60.0:
            return
        self._forgot_at = now
        for node in await asyncio.to_thread(self._cluster.nodes):
            if now - node.heartbeat_at > FORGET_NODES_AFTER:
                await asyncio.to_thread(
                    self._cluster.forget_node, node.name, now - FORGET_NODES_AFTER
                )
                log.info("node %s forgotten: silent for over a day", node.name)

    async def close(self) -> None:
        """Stop stepping (nodes keep serving the last plans; desired state stays stored)."""
        self._loop = None
        for step in self._steps.values():
            step.cancel()
        await asyncio.gather(*self._steps.values(), return_exceptions=True)
        self._steps.clear()
        for validation in self._validations.values():
            validation.cancel()
        self._validations.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # --- one step ---------------------------------------------------------------------
    async def _step(self, name: str) -> None:
        try:
            endpoint, fleets, deployment = await asyncio.to_thread(self._read, name)
            if endpoint is None or fleets is None:
                await self._teardown(name, forget_plan=True)
            elif endpoint.status is S.CREATING:
                await self._create(endpoint, fleets[0])
            elif endpoint.status in (S.UPDATING, S.ROLLING_BACK):
                blue, green = fleets
                if deployment is not None:
                    if green is not None:
                        await self._deploy(endpoint, deployment, blue, green)
                elif green is not None:
                    await self._switch_config(endpoint, blue, green)
                else:
                    await self._apply_variant_changes(endpoint, blue)
            elif endpoint.status in (S.IN_SERVICE, S.UPDATE_ROLLBACK_FAILED):
                await self._keep_serving(endpoint, fleets[0])
            elif endpoint.status is S.DELETING:
                await self._teardown(name, delete_record=True, forget_plan=True)
            elif endpoint.status is S.FAILED:
                await self._teardown(name)
        except asyncio.CancelledError:
            raise
        except PlanConflict:
            log.warning("endpoint %s: its plan was changed by another writer; re-reading", name)
        except StoreUnavailable as exc:
            log.warning("endpoint %s: step not taken: %s", name, exc)
        except Exception:
            log.exception("endpoint %s: step failed; will retry", name)
        finally:
            if name in self._again:  # asked for while this step ran
                self._again.discard(name)
                self.wake(name)

    async def _create(self, endpoint: Endpoint, fleet: Fleet) -> None:
        plan = [_fleet(fleet, 1.0, endpoint.variants, current=False)]
        failure = await self._failure(await self._realize(endpoint.name, plan, serving=False))
        if failure is not None:
            await self._teardown(endpoint.name)
            await self._transition(endpoint, S.FAILED, endpoint.variants, failure)
            return
        await self._transition(endpoint, S.IN_SERVICE, serving_states(endpoint.variants), None)

    async def _apply_variant_changes(self, endpoint: Endpoint, fleet: Fleet) -> None:
        """UpdateEndpointWeightsAndCapacities: add instances, re-weight, drain the surplus."""
        plan = [_fleet(fleet, 1.0, endpoint.variants, current=False)]
        failure = await self._failure(await self._realize(endpoint.name, plan, serving=True))
        if failure is not None:
            reverted = tuple(_revert(v) for v in endpoint.variants)
            await self._realize(endpoint.name, [_fleet(fleet, 1.0, reverted, current=False)])
            await self._transition(endpoint, S.IN_SERVICE, reverted, f"Update failed: {failure}")
            return
        await self._transition(endpoint, S.IN_SERVICE, serving_states(endpoint.variants), None)

    async def _switch_config(self, endpoint: Endpoint, blue: Fleet, green: Fleet) -> None:
        """UpdateEndpoint, all at once: start green, move all traffic to it, retire blue."""
        states = self._green_states(endpoint, green)
        serving = _fleet(blue, 1.0, endpoint.variants, current=True)
        both = [serving, _fleet(green, 0.0, states, current=False)]
        failure = await self._failure(await self._realize(endpoint.name, both), green)
        if failure is not None:
            await self._realize(endpoint.name, [serving])
            await self._transition(
                endpoint, S.IN_SERVICE, endpoint.variants, f"Update failed: {failure}",
                clear_pending=True,
            )  # fmt: skip
            return
        # Route to green first; the endpoint switches once green carries all traffic.
        await self._realize(
            endpoint.name,
            [_fleet(green, 1.0, states, current=False), replace(serving, share=0.0)],
        )
        switched = await self._transition(
            endpoint, S.IN_SERVICE, serving_states(states), None, promote_pending=True
        )
        if switched:
            await self._realize(endpoint.name, [_fleet(green, 1.0, states, current=False)])

    async def _keep_serving(self, endpoint: Endpoint, fleet: Fleet) -> None:
        """InService: the plan serves the current fleet at the current weights (a failed
        green dropped; a plan made anew if it was lost); the agents keep it running."""
        plan = [_fleet(fleet, 1.0, endpoint.variants, current=True)]
        await self._realize(endpoint.name, plan, wait=False)

    async def _teardown(
        self, name: str, *, delete_record: bool = False, forget_plan: bool = False
    ) -> None:
        """Stop the endpoint on every node; then delete its record and plan, if asked."""
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        plan = await self._stored_plan(name)
        if plan is None and not delete_record:
            return
        if plan is not None:
            plan = await self._realize(name, [])
        if delete_record:
            with contextlib.suppress(NotFound):
                await asyncio.to_thread(self._store.delete_endpoint, name)
        if forget_plan and plan is not None:
            await asyncio.to_thread(self._cluster.delete_plan, name, plan.version)
            self._plans.pop(name, None)

    # --- guarded deployments ----------------------------------------------------------
    async def _deploy(self, endpoint: Endpoint, d: Deployment, blue: Fleet, green: Fleet) -> None:
        """One pass: observe, decide, record each change, plan to match; then wait."""
        name = endpoint.name
        facts = self._validated(d, green, await self._observe(d, blue))
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
                self._validations.pop(d.id, None)
                await self._finished(endpoint, d, blue, green)
                return
        self._validated(d, green, facts)  # just validating: the test starts now
        fleets = self._deployment_plan(endpoint, d, blue, green, facts.green is Green.READY)
        if d.phase is Phase.ROLLING_BACK or facts.green is Green.ABSENT:
            # Green stopping (or starting, without traffic): the next pass sees the outcome.
            await self._realize(name, fleets)
            self.wake()
        else:
            await self._realize(name, fleets, wait=False)
            self._wake_at(name, due_at(d))

    def _validated(self, d: Deployment, green: Fleet, facts: Facts) -> Facts:
        """`facts` with the prediction test's outcome once it has one; starts the test (in
        the background, once per deployment and controller) when green is ready for it."""
        if d.phase is not Phase.VALIDATING:
            self._validations.pop(d.id, None)
            return facts
        if facts.green is not Green.READY:
            return facts
        running = self._validations.get(d.id)
        if running is None:
            if self._tests is None:
                outcome = Validation(False, "cannot run: this controller has no test runner")
                return replace(facts, validation=outcome)
            variants = [v.name for v in green.config.variants]
            running = asyncio.create_task(
                self._tests.run(d, variants), name=f"prediction test {d.endpoint}"
            )
            running.add_done_callback(lambda _: self.wake(d.endpoint))
            self._validations[d.id] = running
            log.info("endpoint %s: prediction test of %s started", d.endpoint, d.green_config)
            return facts
        if not running.done():
            return facts
        try:
            outcome = running.result()
        except Exception as exc:  # a bug in the runner must roll back, not wedge the deployment
            log.exception("endpoint %s: prediction test crashed", d.endpoint)
            outcome = Validation(False, f"could not run: {exc}")
        return replace(facts, validation=outcome)

    def _deployment_plan(
        self, endpoint: Endpoint, d: Deployment, blue: Fleet, green: Fleet, green_ready: bool
    ) -> list[PlannedFleet]:
        """Blue's and green's shares for the recorded state; green runs until rolled back."""
        share = green_share(d, green_ready)
        fleets = [_fleet(blue, 1.0 - share, endpoint.variants, current=True)]
        if d.phase is not Phase.ROLLING_BACK:
            fleets.append(_fleet(green, share, self._green_states(endpoint, green), current=False))
        return fleets

    async def _observe(self, d: Deployment, blue: Fleet) -> Facts:
        plan = await self._stored_plan(d.endpoint)
        nodes = await self._live_nodes()
        green = Green.ABSENT
        green_failure = blue_failure = None
        green_stopped = True
        if plan is not None:
            view = fleet_view(plan, nodes, d.green_config)
            green_stopped = plan.fleet(d.green_config) is None and view.applied and not view.running
            if view.started:
                green, green_failure = (
                    (Green.FAILED, view.failure) if view.failure else (Green.READY, None)
                )
            if d.phase is Phase.ROLLING_BACK:
                blue_failure = fleet_view(plan, nodes, blue.config.name).failure
        alarms: dict[str, AlarmState] = {}
        if self._alarms is not None and d.policy.alarms and watches_alarms(d):
            alarms = await self._alarms.states(d.policy.alarms)
        return Facts(
            now=self._clock(),
            green=green,
            green_failure=green_failure,
            green_stopped=green_stopped,
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
                variants=serving_states(self._green_states(endpoint, green)) if succeeded
                else endpoint.variants,
                promote_pending=succeeded,
                at=event.at,
            )
        )  # fmt: skip

    async def _finished(self, endpoint: Endpoint, d: Deployment, blue: Fleet, green: Fleet) -> None:
        """Recorded as finished: retire the fleet that no longer serves."""
        if d.phase is Phase.SUCCEEDED:
            fleet = _fleet(green, 1.0, self._green_states(endpoint, green), current=False)
        else:
            fleet = _fleet(blue, 1.0, endpoint.variants, current=True)
        await self._realize(endpoint.name, [fleet])

    def _wake_at(self, name: str, when: float | None) -> None:
        """A pass when the bake (or termination wait) ends, not up to a tick later."""
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        if when is not None and self._loop is not None:
            delay = max(0.0, when - self._clock())
            self._timers[name] = self._loop.call_later(delay, self._wake.set)

    # --- plans ------------------------------------------------------------------------
    async def _realize(
        self,
        name: str,
        fleets: Sequence[PlannedFleet],
        *,
        serving: bool = True,
        wait: bool = True,
    ) -> RoutingPlan:
        """Make `fleets` the endpoint's plan (unless it is already) and, with `wait`, return
        once every live node has applied it. PlanNotApplied if they take too long."""
        stored = await self._stored_plan(name)
        plan = RoutingPlan(name, stored.version if stored else 0, tuple(fleets), serving)
        if not plan.same_as(stored):
            written = await asyncio.to_thread(self._cluster.write_plan, plan, self._clock())
            if written is None:
                self._plans.pop(name, None)
                raise PlanConflict(name)
            plan = self._plans[name] = written
            log.debug("endpoint %s: plan %d written at %.3f", name, plan.version, time.time())
            if self.on_plan is not None:
                self.on_plan(name)
        else:
            assert stored is not None
            plan = stored
        if wait:
            await self._applied(plan)
        return plan

    async def _applied(self, plan: RoutingPlan) -> list[Node]:
        """Wait until every live node applied `plan` (bounded); their reports."""
        deadline = time.monotonic() + self._apply_timeout
        while True:
            reported = self._reported
            nodes = await self._live_nodes()
            behind = lagging(plan, nodes)
            if nodes and not behind:  # no node at all (none reported yet) applies nothing
                return nodes
            if time.monotonic() >= deadline:
                raise PlanNotApplied(
                    f"node(s) {', '.join(behind)} did not apply plan {plan.version} of endpoint "
                    f"{plan.endpoint} within {self._apply_timeout:.0f} s"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reported.wait(), _POLL)

    async def _failure(self, plan: RoutingPlan, fleet: Fleet | None = None) -> str | None:
        """The first instance of the plan (or of one fleet of it) that failed to start."""
        nodes = await self._live_nodes()
        configs = [fleet.config.name] if fleet is not None else [f.config for f in plan.fleets]
        views: list[FleetView] = [fleet_view(plan, nodes, c) for c in configs]
        return next((v.failure for v in views if v.failure is not None), None)

    async def _live_nodes(self) -> list[Node]:
        nodes = await asyncio.to_thread(self._cluster.nodes)
        if self._sole_node is not None:
            nodes = [n for n in nodes if n.name == self._sole_node]
        return live(nodes, self._clock(), self._node_timeout)

    # --- store ------------------------------------------------------------------------
    def _read(
        self, name: str
    ) -> tuple[Endpoint | None, tuple[Fleet, Fleet | None] | None, Deployment | None]:
        """The endpoint, its fleets and its deployment in progress (in a thread: one hop)."""
        try:
            endpoint = self._store.get_endpoint(name)
            fleets = self._store.endpoint_fleets(name)
        except NotFound:
            return None, None, None
        deployment = None
        if endpoint.status in (S.UPDATING, S.ROLLING_BACK):
            deployment = self._store.active_deployment(name)
            if fleets[1] is not None:  # a new config: autoscaled variants keep their size
                self._autoscaled[name] = frozenset(
                    t.variant for t in ScalingStore(self._store).targets(name)
                )
        return endpoint, fleets, deployment

    def _green_states(self, endpoint: Endpoint, green: Fleet) -> tuple[VariantState, ...]:
        """Green's variants as its config asks, but an autoscaled variant that blue serves
        too starts at blue's current count, as SageMaker sizes it (ADR 0036)."""
        return sized_like_blue(
            initial_states(green.config),
            endpoint.variants,
            self._autoscaled.get(endpoint.name, frozenset()),
        )

    async def _stored_plan(self, name: str) -> RoutingPlan | None:
        """The endpoint's plan: as this controller last wrote it, else read. Only the
        controller writes plans, and writes are compare-and-set, so a plan changed behind
        its back (by a controller before it) shows as a PlanConflict and is read again."""
        if name not in self._plans:
            self._plans[name] = await asyncio.to_thread(self._cluster.plan, name)
        return self._plans[name]

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


def _fleet(
    fleet: Fleet, share: float, states: Iterable[VariantState], *, current: bool
) -> PlannedFleet:
    """`fleet` at `share` of the traffic, its variants weighted and counted as `states` say:
    as they serve (`current`, falling back to desired before the first serve) or as asked."""
    states = tuple(states)
    counts = _counts(states) if current else {s.name: s.desired_instance_count for s in states}
    # A switch variant routes to another endpoint in the router: no instance (ADR 0040).
    counts = {
        name: 0 if name in fleet.models and route_to(fleet.models[name].environment) else n
        for name, n in counts.items()
    }
    return fleet_plan(
        fleet.config.name,
        share,
        weights_of(states, current=current),
        counts,
        planned_shadows(fleet.config),
        serverless_variants(fleet.config),
    )
