"""The autoscaling decision, as Application Auto Scaling makes it (pure; ADR 0036).

Target tracking: above the target for `out_points` datapoints in a row scales out, below
90 % of it for `in_points` in a row scales in, to ceil(current x metric / target), clamped
to [min, max]. Step scaling: an alarm in ALARM picks the step whose interval holds
(metric - threshold). Cooldowns: a scale-out blocks scale-outs for ScaleOutCooldown after
it; any activity blocks scale-ins for ScaleInCooldown. Several policies on one target: any
scale-out wins (the largest); a scale-in needs every target-tracking policy to agree (the
smallest step down). Every function here is plain arithmetic over its arguments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from turnout.domain.resources import VariantState
from turnout.domain.rollups import Metric, Rollup, align, statistic
from turnout.domain.scaling import (
    Activity,
    ActivityStatus,
    AdjustmentType,
    MetricSpec,
    ScalableTarget,
    StepScaling,
    Suspended,
    TargetTracking,
)
from turnout.metrics.series import by_period, select

SCALE_IN_RATIO = 0.9  # AWS scales in below 90 % of the target
OUT, IN = "out", "in"
NOT_SUSPENDED = Suspended()
# Counts whose Sum is rescaled to per minute (AWS's datapoints are one minute long).
_COUNTS = {
    Metric.INVOCATIONS,
    Metric.INVOCATIONS_PER_INSTANCE,
    Metric.INVOCATION_4XX_ERRORS,
    Metric.INVOCATION_5XX_ERRORS,
    Metric.INVOCATION_MODEL_ERRORS,
}


@dataclass(frozen=True)
class Proposal:
    desired: int
    reason: str  # why, in words a person reads in DescribeScalingActivities' Cause
    cooldowns: tuple[float, float] = (0.0, 0.0)  # the policy's (scale-out, scale-in)

    def direction(self, current: int) -> str | None:
        if self.desired > current:
            return OUT
        return IN if self.desired < current else None


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def into_range(target: ScalableTarget, current: int) -> Proposal | None:
    """Back inside [MinCapacity, MaxCapacity] when the target's range moved past `current`."""
    desired = clamp(current, target.min_capacity, target.max_capacity)
    if desired == current:
        return None
    side = "MinCapacity" if desired > current else "MaxCapacity"
    return Proposal(desired, f"the instance count {current} is outside the {side} {desired}")


def tracking_desired(current: int, value: float, target_value: float, high: int) -> int:
    """ceil(current x value / target), bounded by `high` before it becomes an int."""
    ratio = max(0.0, value) / target_value
    wanted = current * ratio
    if wanted >= high:
        return high
    return math.ceil(round(wanted, 9))  # 2.0000000001 from float noise is 2


def track(
    policy: TargetTracking,
    target: ScalableTarget,
    current: int,
    points: Sequence[float | None],
    out_points: int,
    in_points: int,
) -> Proposal | None:
    """What one target-tracking policy asks for, given datapoints oldest first."""
    goal = policy.target_value
    name = policy.metric.name if not policy.metric.predefined else "InvocationsPerInstance"
    recent = list(points[-out_points:])
    if len(recent) == out_points and all(p is not None and p > goal for p in recent):
        value = recent[-1]
        assert value is not None
        desired = clamp(
            tracking_desired(current, value, goal, target.max_capacity),
            target.min_capacity,
            target.max_capacity,
        )
        if desired > current:
            return Proposal(
                desired,
                f"{name} was {_number(value)}, above the target {_number(goal)}, for "
                f"{out_points} {_datapoints(out_points)}",
            )
    if policy.disable_scale_in:
        return None
    recent = list(points[-in_points:])
    low = goal * SCALE_IN_RATIO
    if len(recent) == in_points and all(p is not None and p < low for p in recent):
        value = max(p for p in recent if p is not None)  # the busiest: shed least
        desired = clamp(
            tracking_desired(current, value, goal, target.max_capacity),
            target.min_capacity,
            target.max_capacity,
        )
        if desired < current:
            return Proposal(
                desired,
                f"{name} was at most {_number(value)}, below 90% of the target "
                f"{_number(goal)}, for {in_points} {_datapoints(in_points)}",
            )
    return None


def step_desired(
    policy: StepScaling, target: ScalableTarget, current: int, value: float, threshold: float
) -> int | None:
    """The instance count a step policy asks for when its alarm fires with `value`; None
    when no step's interval holds value - threshold."""
    distance = value - threshold
    step = next(
        (
            s
            for s in policy.steps
            if (s.lower is None or distance >= s.lower) and (s.upper is None or distance < s.upper)
        ),
        None,
    )
    if step is None:
        return None
    if policy.adjustment_type is AdjustmentType.EXACT:
        desired = step.adjustment
    elif policy.adjustment_type is AdjustmentType.CHANGE:
        desired = current + step.adjustment
    else:
        desired = current + _percent_change(current, step.adjustment, policy)
    return clamp(desired, target.min_capacity, target.max_capacity)


def _percent_change(current: int, percent: int, policy: StepScaling) -> int:
    """AWS's rounding: a change under one instance is one; over it, toward zero; then at
    least MinAdjustmentMagnitude."""
    change = current * percent / 100
    # toward zero, but at least one
    whole = (1 if change > 0 else -1) if 0 < abs(change) < 1 else int(change)
    magnitude = policy.min_adjustment_magnitude or 0
    if whole and abs(whole) < magnitude:
        whole = magnitude if whole > 0 else -magnitude
    return whole


def blocked(
    direction: str,
    activities: Iterable[Activity],
    now: float,
    scale_out_cooldown: float,
    scale_in_cooldown: float,
    suspended: Suspended = NOT_SUSPENDED,
) -> str | None:
    """Why a change in `direction` may not start now (None: it may). `activities` are the
    target's, any order."""
    if (direction == OUT and suspended.scale_out) or (direction == IN and suspended.scale_in):
        return f"dynamic scale-{direction} is suspended"
    for a in activities:
        if not a.status.finished:
            return "a scaling activity is in progress"
        if a.status is not ActivityStatus.SUCCESSFUL:
            continue
        ended = a.end if a.end is not None else a.start
        if direction == OUT and a.direction == OUT and now < ended + scale_out_cooldown:
            return f"the scale-out cooldown ({scale_out_cooldown:g} s) has not passed"
        if direction == IN and now < ended + scale_in_cooldown:
            return f"the scale-in cooldown ({scale_in_cooldown:g} s) has not passed"
    return None


def combine(
    current: int, tracking: Sequence[Proposal | None], steps: Sequence[Proposal]
) -> Proposal | None:
    """One decision from every policy's proposal: any scale-out wins (the largest); a
    scale-in needs every target-tracking policy to ask for one (the smallest step down)."""
    proposals = [p for p in (*tracking, *steps) if p is not None]
    outs = [p for p in proposals if p.desired > current]
    if outs:
        return max(outs, key=lambda p: p.desired)
    ins = [p for p in proposals if p.desired < current]
    if not ins or any(p is None or p.desired >= current for p in tracking):
        return None
    return max(ins, key=lambda p: p.desired)


def datapoints(
    rollups: Iterable[Rollup],
    variant: str,
    config: str | None,
    metric: MetricSpec,
    now: float,
    period: float,
    count: int,
) -> list[float | None]:
    """The last `count` complete periods' values of `metric`, oldest first. Counts are per
    minute (SageMakerVariantInvocationsPerInstance is invocations per minute per instance)
    whatever the period; a period without invocations counts 0 of them (no value for
    latencies)."""
    kind = Metric(metric.name)
    grouped = by_period(select(rollups, variant, config), period)
    last = align(now, period) - period  # the open period is not complete: not judged
    starts = [last - i * period for i in reversed(range(count))]
    points: list[float | None] = []
    for start in starts:
        value = statistic(kind, metric.statistic, grouped.get(start, ()))
        if kind in _COUNTS and metric.statistic == "Sum":
            value = (value or 0.0) * 60.0 / period
        points.append(value)
    return points


def _number(value: float) -> str:
    return f"{value:.6g}"


def _datapoints(n: int) -> str:
    return "datapoint" if n == 1 else "datapoints"


def sized_like_blue(
    green: Sequence[VariantState], blue: Sequence[VariantState], autoscaled: frozenset[str]
) -> tuple[VariantState, ...]:
    """Green's variant states with each autoscaled variant that blue serves too at blue's
    current instance count: an update must not undo what autoscaling did (SageMaker sizes
    the new fleet so when autoscaling is on)."""
    serving = {s.name: s.current_instance_count for s in blue if s.current_instance_count}
    return tuple(
        replace(s, desired_instance_count=serving[s.name])
        if s.name in autoscaled and s.name in serving
        else s
        for s in green
    )
