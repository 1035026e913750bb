"""The autoscaling decision (turnout.deploy.scaling): target tracking, step adjustments,
cooldowns, the min/max clamp and scale-in protection, as Application Auto Scaling has them."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from turnout.deploy import scaling
from turnout.deploy.scaling import IN, OUT, Proposal
from turnout.domain.histogram import LatencyHistogram
from turnout.domain.resources import VariantState
from turnout.domain.rollups import Rollup, VariantKey, Window
from turnout.domain.scaling import (
    Activity,
    ActivityStatus,
    AdjustmentType,
    MetricSpec,
    ScalableTarget,
    Step,
    StepScaling,
    Suspended,
    TargetTracking,
)

counts = st.integers(min_value=1, max_value=64)
values = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
goals = st.floats(min_value=0.01, max_value=1e5, allow_nan=False)


@st.composite
def targets(draw: st.DrawFn) -> ScalableTarget:
    low = draw(st.integers(min_value=1, max_value=10))
    high = draw(st.integers(min_value=low, max_value=64))
    return ScalableTarget("e", "v", low, high, 0.0)


def track(
    goal: float, target: ScalableTarget, current: int, points: list[float | None], **kw: bool
) -> Proposal | None:
    policy = TargetTracking(goal, disable_scale_in=kw.get("disable_scale_in", False))
    return scaling.track(policy, target, current, points, 3, 15)


@given(targets(), counts, goals, values)
def test_tracking_stays_within_min_and_max(
    target: ScalableTarget, current: int, goal: float, value: float
) -> None:
    found = track(goal, target, current, [value] * 15)
    if found is not None:
        assert target.min_capacity <= found.desired <= target.max_capacity


@given(targets(), counts, goals, values)
def test_scale_out_is_ceil_of_current_times_ratio_clamped(
    target: ScalableTarget, current: int, goal: float, value: float
) -> None:
    found = track(goal, target, current, [value] * 3)  # only 3 datapoints: never a scale-in
    wanted = math.ceil(round(current * value / goal, 9))
    expected = min(max(wanted, target.min_capacity), target.max_capacity)
    if value > goal and expected > current:
        assert found is not None and found.desired == expected
        assert found.direction(current) == OUT
    else:
        assert found is None


@given(targets(), counts, goals, st.integers(min_value=0, max_value=2))
def test_scale_out_needs_every_one_of_the_last_three_datapoints_above(
    target: ScalableTarget, current: int, goal: float, low_index: int
) -> None:
    points: list[float | None] = [goal * 10] * 3
    points[low_index] = goal  # equal to the target is not above it
    assert track(goal, target, current, points) is None
    points[low_index] = None  # a missing datapoint breaks the run too
    assert track(goal, target, current, points) is None


@given(targets(), counts, goals, st.floats(min_value=0.0, max_value=0.899))
def test_scale_in_after_fifteen_datapoints_below_ninety_percent(
    target: ScalableTarget, current: int, goal: float, share: float
) -> None:
    value = goal * share
    found = track(goal, target, current, [value] * 15)
    expected = max(
        target.min_capacity, min(target.max_capacity, math.ceil(round(current * share, 9)))
    )
    if expected < current:
        assert found is not None and found.desired == expected
        assert found.direction(current) == IN
    else:
        assert found is None
    # Fourteen are not enough; nor is one datapoint at 90 % or more among them.
    assert track(goal, target, current, [value] * 14) is None
    assert track(goal, target, current, [value] * 14 + [goal * 0.9]) is None


@given(targets(), counts, goals)
def test_disable_scale_in_never_scales_in(
    target: ScalableTarget, current: int, goal: float
) -> None:
    found = track(goal, target, current, [0.0] * 15, disable_scale_in=True)
    assert found is None or found.desired > current


def test_aws_example_numbers() -> None:
    target = ScalableTarget("e", "v", 1, 10, 0.0)
    # 2 instances at 150/min per instance, target 100: ceil(2 x 1.5) = 3.
    assert track(100.0, target, 2, [150.0] * 3) == Proposal(3, _text(out=True))
    # 4 instances at 40 (below 90): ceil(4 x 0.4) = 2.
    found = track(100.0, target, 4, [40.0] * 15)
    assert found is not None and found.desired == 2


def _text(*, out: bool) -> str:
    return "InvocationsPerInstance was 150, above the target 100, for 3 datapoints"


@given(targets(), counts)
def test_into_range_moves_a_count_outside_the_range_to_its_nearest_bound(
    target: ScalableTarget, current: int
) -> None:
    found = scaling.into_range(target, current)
    if target.min_capacity <= current <= target.max_capacity:
        assert found is None
    else:
        assert found is not None
        assert found.desired in (target.min_capacity, target.max_capacity)


def step_policy(kind: AdjustmentType, *steps: Step, magnitude: int | None = None) -> StepScaling:
    return StepScaling(kind, steps, min_adjustment_magnitude=magnitude)


def test_step_picks_the_interval_that_holds_the_distance_from_the_threshold() -> None:
    target = ScalableTarget("e", "v", 1, 20, 0.0)
    policy = step_policy(
        AdjustmentType.CHANGE, Step(1, 0.0, 10.0), Step(3, 10.0, None), Step(-1, None, 0.0)
    )
    assert scaling.step_desired(policy, target, 4, 55.0, 50.0) == 5  # 5 in [0, 10)
    assert scaling.step_desired(policy, target, 4, 60.0, 50.0) == 7  # 10 in [10, inf)
    assert scaling.step_desired(policy, target, 4, 45.0, 50.0) == 3  # -5 in (-inf, 0)
    exact = step_policy(AdjustmentType.EXACT, Step(6, 0.0, None))
    assert scaling.step_desired(exact, target, 2, 51.0, 50.0) == 6
    assert scaling.step_desired(exact, target, 2, 49.0, 50.0) is None  # no interval


def test_percent_change_rounds_as_aws_does() -> None:
    target = ScalableTarget("e", "v", 1, 100, 0.0)
    up = step_policy(AdjustmentType.PERCENT, Step(25, 0.0, None))
    assert scaling.step_desired(up, target, 2, 1.0, 0.0) == 3  # 0.5 -> 1
    assert scaling.step_desired(up, target, 10, 1.0, 0.0) == 12  # 2.5 -> 2
    magnitude = step_policy(AdjustmentType.PERCENT, Step(25, 0.0, None), magnitude=4)
    assert scaling.step_desired(magnitude, target, 10, 1.0, 0.0) == 14
    down = step_policy(AdjustmentType.PERCENT, Step(-50, None, 0.0))
    assert scaling.step_desired(down, target, 5, -1.0, 0.0) == 3  # -2.5 -> -2


@given(
    targets(),
    counts,
    st.sampled_from(list(AdjustmentType)),
    st.integers(min_value=-100, max_value=100),
    st.floats(min_value=-1e4, max_value=1e4, allow_nan=False),
)
def test_step_stays_within_min_and_max(
    target: ScalableTarget, current: int, kind: AdjustmentType, adjustment: int, value: float
) -> None:
    if kind is AdjustmentType.EXACT:
        adjustment = abs(adjustment)
    found = scaling.step_desired(step_policy(kind, Step(adjustment)), target, current, value, 0.0)
    assert found is not None
    assert target.min_capacity <= found <= target.max_capacity


def activity(direction: str, end: float | None, status: ActivityStatus) -> Activity:
    return Activity("id", "e", "v", "d", "c", status, 0.0, direction, 1, 2, end)


@given(
    st.sampled_from([OUT, IN]),
    st.sampled_from([OUT, IN]),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1000),
)
def test_cooldowns(
    direction: str, previous: str, elapsed: int, out_cooldown: int, in_cooldown: int
) -> None:
    before = [activity(previous, 100.0, ActivityStatus.SUCCESSFUL)]
    why = scaling.blocked(direction, before, 100.0 + elapsed, out_cooldown, in_cooldown)
    if direction == OUT:  # only a scale-out's cooldown blocks a scale-out
        assert (why is not None) == (previous == OUT and elapsed < out_cooldown)
    else:  # any activity's end starts the scale-in cooldown
        assert (why is not None) == (elapsed < in_cooldown)


def test_an_activity_in_progress_or_a_suspension_blocks() -> None:
    running = [activity(OUT, None, ActivityStatus.IN_PROGRESS)]
    assert scaling.blocked(OUT, running, 1e9, 0, 0) == "a scaling activity is in progress"
    failed = [activity(OUT, 100.0, ActivityStatus.FAILED)]
    assert scaling.blocked(OUT, failed, 100.0, 300, 300) is None  # a failure sets no cooldown
    suspended = Suspended(scale_in=True)
    assert scaling.blocked(IN, [], 0, 0, 0, suspended) == "dynamic scale-in is suspended"
    assert scaling.blocked(OUT, [], 0, 0, 0, suspended) is None


@given(counts, st.lists(st.one_of(st.none(), counts), max_size=4), st.lists(counts, max_size=3))
def test_combine_any_scale_out_wins_and_scale_in_needs_every_tracking_policy(
    current: int, tracking_counts: list[int | None], step_counts: list[int]
) -> None:
    tracking = [None if c is None else Proposal(c, "t") for c in tracking_counts]
    steps = [Proposal(c, "s") for c in step_counts]
    found = scaling.combine(current, tracking, steps)
    wanted = [c for c in (*tracking_counts, *step_counts) if c is not None]
    if any(c > current for c in wanted):
        assert found is not None and found.desired == max(wanted)
    elif found is not None:
        assert found.desired < current
        assert all(c is not None and c < current for c in tracking_counts)


def rollup(start: float, invocations: int, instances: int, variant: str = "v") -> Rollup:
    window = Window()
    window.invocations = invocations
    window.model_latency = LatencyHistogram()
    return Rollup(VariantKey("e", "c", variant), start, 10.0, instances, window)


def test_datapoints_are_per_minute_per_instance_over_complete_periods() -> None:
    rollups = [
        rollup(0.0, 100, 2),  # 50 per instance in 10 s: 300 per minute
        rollup(10.0, 30, 1),
        rollup(20.0, 999, 1),  # still open at now=25: not judged
        rollup(10.0, 77, 1, variant="other"),
    ]
    points = scaling.datapoints(rollups, "v", "c", MetricSpec(), 25.0, 10.0, 3)
    assert points == [0.0, 300.0, 180.0]  # nothing in [-10, 0): zero invocations
    # Over 20-s periods: [0, 20) holds 50 + 30 per instance, per minute x3.
    assert scaling.datapoints(rollups, "v", "c", MetricSpec(), 25.0, 20.0, 1) == [240.0]
    latency = MetricSpec("ModelLatency", "Average", predefined=False)
    assert scaling.datapoints(rollups, "v", "c", latency, 25.0, 10.0, 1) == [None]  # no samples


def test_green_keeps_the_autoscaled_variants_current_counts() -> None:
    blue = (VariantState("A", 1.0, 5, 1.0, 3), VariantState("B", 1.0, 1, 1.0, 2))
    green = (VariantState("A", 1.0, 1), VariantState("B", 1.0, 1), VariantState("C", 1.0, 4))
    sized = scaling.sized_like_blue(green, blue, frozenset({"A", "C"}))
    assert [s.desired_instance_count for s in sized] == [3, 1, 4]  # B is not autoscaled
    assert scaling.sized_like_blue(green, blue, frozenset()) == green
