"""The autoscaler: the controller's loop that applies scaling policies (ADR 0036).

It runs on the node holding the controller lease. Every tick it finishes the activities
whose change took effect (the endpoint back InService at the new count); once per
evaluation period it judges each scalable target on the period just completed: target
tracking from the metric rollups, step scaling from the alarms whose AlarmActions name the
policy. A decision changes the instance count the way UpdateEndpointWeightsAndCapacities
does (`scale`, the service layer's call): the endpoint goes Updating, the controller plans
the new count, node agents start instances or drain the surplus, InService again.

While the endpoint is not InService (a deployment Updating or RollingBack, say) nothing is
changed; the skip is recorded once, as a Failed activity saying why.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from turnout.deploy import scaling
from turnout.deploy.alarm_data import datapoints as alarm_datapoints
from turnout.deploy.alarm_data import since as alarm_since
from turnout.deploy.scaling import Proposal
from turnout.domain.alarms import AlarmState, AlarmStatus
from turnout.domain.resources import Endpoint, EndpointStatus
from turnout.domain.rollups import PERIOD, Rollup, align
from turnout.domain.scaling import (
    Activity,
    ActivityStatus,
    ScalableTarget,
    ScalingPolicy,
    policy_of_arn,
)
from turnout.errors import NotFound, StoreUnavailable, TurnoutError
from turnout.store import Store
from turnout.store.scaling import ScalingStore

log = logging.getLogger("turnout.deploy.autoscaler")

Rollups = Callable[[str, float], Awaitable[list[Rollup]]]  # (endpoint, since) -> fresh rollups
Scale = Callable[[str, str, int], object]  # (endpoint, variant, count): blocking, in a thread
_TICK = 1.0  # s between looks at unfinished activities
_SETTLE = 1.0  # s past a period's end before judging it: the routers' flushes land


@dataclass(frozen=True)
class Timing:
    """The evaluation period (s; AWS's datapoint is one minute) and how many datapoints in
    a row scale out (AWS: 3) and in (AWS: 15)."""

    period: float = 60.0
    out_points: int = 3
    in_points: int = 15

    def __post_init__(self) -> None:
        if self.period < PERIOD or self.period % PERIOD:
            raise ValueError(f"the scaling period must be a multiple of {PERIOD:g} s")
        if not (1 <= self.out_points <= 100 and 1 <= self.in_points <= 100):
            raise ValueError("scale-out and scale-in datapoints must be from 1 to 100")


class Autoscaler:
    def __init__(
        self,
        store: Store,
        rollups: Rollups,
        scale: Scale,
        timing: Timing = Timing(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._rows = ScalingStore(store)
        self._rollups = rollups
        self._scale = scale
        self.timing = timing
        self._clock = clock
        self._judged: dict[str, float] = {}  # resource id -> the last period judged
        self._last_judged = 0.0  # the last period every target was judged on
        self._skipped: dict[str, str] = {}  # resource id -> the last skip recorded
        self.on_activity: Callable[[Activity], object] | None = None  # e.g. a counter

    async def run(self) -> None:
        while True:
            try:
                await self.evaluate_once()
            except StoreUnavailable as exc:
                log.warning("autoscaler: %s", exc)
            except Exception:  # the loop must outlive any one bad pass
                log.exception("autoscaler pass failed")
            await asyncio.sleep(_TICK)

    async def evaluate_once(self) -> None:
        await asyncio.to_thread(self._finish_activities)
        now = self._clock()
        period = self.timing.period
        judged_period = align(now - _SETTLE, period) - period  # the last complete one
        if judged_period == self._last_judged:
            return  # judged already: the next look at the store is the next period's
        self._last_judged = judged_period
        targets, policies = await asyncio.to_thread(
            lambda: (self._rows.targets(), self._rows.policies())
        )
        for target in targets:
            rid = target.resource_id
            if self._judged.get(rid) == judged_period:
                continue
            self._judged[rid] = judged_period
            mine = [p for p in policies if p.resource_id == rid]
            await self._judge(target, mine, now - _SETTLE)
        for gone in set(self._judged) - {t.resource_id for t in targets}:
            del self._judged[gone]

    # --- activities ---------------------------------------------------------------------
    def _finish_activities(self) -> None:
        """Unfinished activities whose endpoint settled: Successful at the new count, else
        Failed with the endpoint's reason (in a thread)."""
        for activity in self._rows.activities(unfinished=True, limit=100):
            try:
                endpoint = self._store.get_endpoint(activity.endpoint)
            except NotFound:
                self._finish(activity, ActivityStatus.FAILED, "The endpoint was deleted.")
                continue
            if endpoint.status is not EndpointStatus.IN_SERVICE:
                continue
            state = endpoint.variant(activity.variant)
            if state is not None and state.current_instance_count == activity.to_count:
                self._finish(activity, ActivityStatus.SUCCESSFUL, "Successfully set desired "
                             f"instance count to {activity.to_count}.")  # fmt: skip
            else:
                self._finish(
                    activity,
                    ActivityStatus.FAILED,
                    endpoint.failure_reason or "The endpoint did not take the new count.",
                )

    def _finish(self, activity: Activity, status: ActivityStatus, message: str) -> None:
        if self._rows.finish_activity(activity.id, status, self._clock(), message):
            log.info(
                "endpoint %s: variant %s: scaling to %d %s",
                activity.endpoint, activity.variant, activity.to_count, status.value.lower(),
            )  # fmt: skip

    # --- one target ---------------------------------------------------------------------
    async def _judge(
        self, target: ScalableTarget, policies: Sequence[ScalingPolicy], now: float
    ) -> None:
        try:
            endpoint = await asyncio.to_thread(self._store.get_endpoint, target.endpoint)
        except NotFound:
            return  # registered for an endpoint deleted since: nothing to scale
        state = endpoint.variant(target.variant)
        if state is None:
            return
        current = state.current_instance_count or state.desired_instance_count
        proposal = scaling.into_range(target, current)
        if proposal is not None:
            proposal = replace(
                proposal, reason=f"the scalable target's range changed: {proposal.reason}"
            )
        else:
            proposal = await self._propose(endpoint, target, policies, current, now)
        if proposal is None:
            return
        direction = proposal.direction(current)
        assert direction is not None
        activities = await asyncio.to_thread(
            self._rows.activities, target.endpoint, target.variant, limit=20
        )
        out_cooldown, in_cooldown = proposal.cooldowns
        why_not = scaling.blocked(
            direction, activities, now, out_cooldown, in_cooldown, target.suspended
        )
        if why_not is not None:
            log.debug("%s: not scaled: %s", target.resource_id, why_not)
            return
        await asyncio.to_thread(self._act, endpoint, target, current, proposal, direction)

    async def _propose(
        self,
        endpoint: Endpoint,
        target: ScalableTarget,
        policies: Sequence[ScalingPolicy],
        current: int,
        now: float,
    ) -> Proposal | None:
        t = self.timing
        tracking: list[Proposal | None] = []
        steps: list[Proposal] = []
        tracked = [p for p in policies if p.target_tracking is not None]
        stepped = [p for p in policies if p.step is not None]
        rollups: list[Rollup] = []
        if tracked or stepped:
            span = max(t.out_points, t.in_points) + 2
            rollups = await self._rollups(endpoint.name, align(now, t.period) - span * t.period)
        for policy in tracked:
            tt = policy.target_tracking
            assert tt is not None
            count = max(t.out_points, t.in_points)
            points = scaling.datapoints(
                rollups, target.variant, endpoint.config_name, tt.metric, now, t.period, count
            )
            found = scaling.track(tt, target, current, points, t.out_points, t.in_points)
            if found is not None:
                alarm = "AlarmHigh" if found.desired > current else "AlarmLow"
                found = replace(
                    found,
                    reason=f"monitor alarm TargetTracking-{policy.resource_id}-{alarm} in state "
                    f"ALARM triggered policy {policy.name}: {found.reason}",
                    cooldowns=(float(tt.scale_out_cooldown), float(tt.scale_in_cooldown)),
                )
            tracking.append(found)
        if stepped:
            steps = await self._step_proposals(endpoint, target, stepped, current, now)
        return scaling.combine(current, tracking, steps)

    async def _step_proposals(
        self,
        endpoint: Endpoint,
        target: ScalableTarget,
        policies: Sequence[ScalingPolicy],
        current: int,
        now: float,
    ) -> list[Proposal]:
        """Each step policy that an alarm in ALARM names in its AlarmActions."""
        actions = await asyncio.to_thread(self._rows.alarm_actions)
        by_policy: dict[str, list[str]] = {}
        for alarm, arns in actions.items():
            for arn in arns:
                named = policy_of_arn(arn)
                if named is not None and named[:2] == (target.endpoint, target.variant):
                    by_policy.setdefault(named[2], []).append(alarm)
        found: list[Proposal] = []
        for policy in policies:
            step = policy.step
            assert step is not None
            for name in by_policy.get(policy.name, ()):
                status = await asyncio.to_thread(self._alarm, name)
                if status is None or status.state is not AlarmState.ALARM:
                    continue
                definition = status.alarm
                rollups = await self._rollups(definition.endpoint, alarm_since(definition, now))
                values = [p.value for p in alarm_datapoints(definition, rollups, now)]
                threshold = definition.threshold
                value = next((v for v in reversed(values) if v is not None), threshold)
                desired = scaling.step_desired(step, target, current, value, threshold)
                if desired is None or desired == current:
                    continue
                found.append(
                    Proposal(
                        desired,
                        f"monitor alarm {name} in state ALARM triggered policy {policy.name}: "
                        f"{definition.metric.value} was {value:.6g}, threshold {threshold:.6g}",
                        (float(step.cooldown), float(step.cooldown)),
                    )
                )
        return found

    def _alarm(self, name: str) -> AlarmStatus | None:
        try:
            return self._store.get_alarm(name)
        except NotFound:
            return None

    def _act(
        self,
        endpoint: Endpoint,
        target: ScalableTarget,
        current: int,
        proposal: Proposal,
        direction: str,
    ) -> None:
        """Record the activity and ask for the new count (in a thread)."""
        rid = target.resource_id
        now = self._clock()
        activity = Activity(
            id=str(uuid.uuid4()),
            endpoint=target.endpoint,
            variant=target.variant,
            description=f"Setting desired instance count to {proposal.desired}.",
            cause=proposal.reason,
            status=ActivityStatus.IN_PROGRESS,
            start=now,
            direction=direction,
            from_count=current,
            to_count=proposal.desired,
        )
        if endpoint.status is not EndpointStatus.IN_SERVICE:
            reason = (
                f"Not scaled: the endpoint is {endpoint.status.value}"
                + (" (a deployment is in progress)" if endpoint.pending_config_name else "")
                + "; scaling resumes once it is InService."
            )
            if self._skipped.get(rid) != reason:
                self._skipped[rid] = reason
                self._record(
                    replace(activity, status=ActivityStatus.FAILED, end=now, message=reason)
                )
            return
        self._skipped.pop(rid, None)
        self._record(activity)
        log.info("%s: scaling %s from %d to %d: %s", rid, direction, current, proposal.desired,
                 proposal.reason)  # fmt: skip
        try:
            self._scale(target.endpoint, target.variant, proposal.desired)
        except TurnoutError as exc:
            self._rows.finish_activity(activity.id, ActivityStatus.FAILED, self._clock(), str(exc))

    def _record(self, activity: Activity) -> None:
        self._rows.add_activity(activity)
        if self.on_activity is not None:
            self.on_activity(activity)
