"""An alarm's datapoints from rollups (the open period counts once it has data) and its
state reasons in CloudWatch's words."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from turnout.deploy.alarm_data import datapoints, reason, since
from turnout.domain.alarms import Alarm, AlarmState, Comparison, MissingData
from turnout.domain.rollups import Metric, Rollup, VariantKey, Window
from turnout.metrics.series import Datapoint

T0 = 1_764_064_800.0  # 2025-11-25 10:00:00 UTC
ALARM = Alarm(
    name="errors",
    metric=Metric.INVOCATION_5XX_ERRORS,
    statistic="Average",
    endpoint="ep",
    threshold=0.05,
    comparison=Comparison.GREATER,
)


def rollup(start: float, invocations: int, errors: int, variant: str = "A", config: str = "c1"):  # type: ignore[no-untyped-def]
    window = Window()
    window.invocations = invocations
    window.errors_5xx = errors
    return Rollup(VariantKey("ep", config, variant), start, 10.0, 1, window)


def test_the_open_period_counts_once_it_has_invocations() -> None:
    rollups = [rollup(T0, 10, 0), rollup(T0 + 10, 4, 2)]
    assert datapoints(ALARM, rollups, T0 + 12) == [Datapoint(T0 + 10, 0.5)]
    # nothing yet in the period open at T0 + 21: the last complete one decides
    assert datapoints(ALARM, rollups, T0 + 21) == [Datapoint(T0 + 10, 0.5)]


def test_rollups_of_one_period_add_up_across_routers_fleets_and_variants() -> None:
    rollups = [rollup(T0, 10, 1), rollup(T0, 10, 3, config="c2"), rollup(T0, 20, 0, "B")]
    assert datapoints(ALARM, rollups, T0 + 5) == [Datapoint(T0, 4 / 40)]
    only_a = Alarm(**{**ALARM.__dict__, "variant": "A"})
    assert datapoints(only_a, rollups, T0 + 5) == [Datapoint(T0, 4 / 20)]


def test_a_fleet_alarm_sees_its_own_error_rate_undiluted() -> None:
    """A 10% canary failing 30%: 3% endpoint-wide, under a 5% threshold; 30% on its own."""
    rollups = [rollup(T0, 900, 0, config="blue"), rollup(T0, 100, 30, config="green")]
    assert datapoints(ALARM, rollups, T0 + 5) == [Datapoint(T0, 0.03)]
    green = Alarm(**{**ALARM.__dict__, "config": "green"})
    assert datapoints(green, rollups, T0 + 5) == [Datapoint(T0, 0.3)]
    green_a = Alarm(**{**ALARM.__dict__, "config": "green", "variant": "B"})
    assert datapoints(green_a, rollups, T0 + 5) == [Datapoint(T0 - 10, None)]  # no such traffic


def test_longer_periods_and_missing_ones() -> None:
    alarm = Alarm(**{**ALARM.__dict__, "period_s": 30, "evaluation_periods": 3})
    rollups = [rollup(T0 - 60, 10, 1), rollup(T0 - 50, 10, 1), rollup(T0 + 20, 5, 5)]
    assert datapoints(alarm, rollups, T0 + 25) == [
        Datapoint(T0 - 60, 0.1),
        Datapoint(T0 - 30, None),
        Datapoint(T0, 1.0),
    ]
    assert since(alarm, T0 + 25) == T0 - 90


@given(
    now=st.floats(T0, T0 + 1e6),
    periods=st.integers(1, 10),
    period=st.sampled_from([10, 30, 60]),
)
def test_there_is_one_datapoint_per_evaluation_period(now: float, periods: int, period: int):
    alarm = Alarm(**{**ALARM.__dict__, "period_s": period, "evaluation_periods": periods})
    points = datapoints(alarm, [], now)
    assert len(points) == periods
    assert all(b.start - a.start == period for a, b in itertools.pairwise(points))
    assert points[-1].start + period <= now  # no data: the open period is left out
    assert points[0].start >= since(alarm, now)


def test_reasons_read_like_cloudwatch() -> None:
    one = [Datapoint(T0, 0.3)]
    assert reason(ALARM, one, AlarmState.ALARM) == (
        "Threshold Crossed: 1 datapoint [0.3 (25/11/25 10:00:00)] was greater than the "
        "threshold (0.05)."
    )
    assert reason(ALARM, [Datapoint(T0, 0.01)], AlarmState.OK) == (
        "Threshold Crossed: 1 datapoint [0.01 (25/11/25 10:00:00)] was not greater than the "
        "threshold (0.05)."
    )
    three = [Datapoint(T0, 0.3), Datapoint(T0 + 10, 0.01), Datapoint(T0 + 20, 0.2)]
    assert reason(ALARM, three, AlarmState.ALARM) == (
        "Threshold Crossed: 2 out of the last 3 datapoints [0.2 (25/11/25 10:00:20), "
        "0.3 (25/11/25 10:00:00)] were greater than the threshold (0.05)."
    )
    assert reason(ALARM, [Datapoint(T0, None)], AlarmState.INSUFFICIENT_DATA) == (
        "Insufficient Data: 1 datapoint was unknown."
    )
    quiet = Alarm(**{**ALARM.__dict__, "treat_missing_data": MissingData.NOT_BREACHING})
    assert reason(quiet, [Datapoint(T0, None)], AlarmState.OK) == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 datapoint was "
        "treated as [NonBreaching]."
    )


def test_a_drift_alarm_judges_its_feature_per_period() -> None:
    from turnout.deploy.alarm_data import drift_datapoints
    from turnout.domain.drift import DriftPoint

    alarm = Alarm(
        name="drift", metric=Metric.INVOCATIONS, statistic="Maximum", endpoint="ep",
        threshold=0.2, comparison=Comparison.GREATER, feature="x1", evaluation_periods=2,
    )  # fmt: skip
    points = [
        DriftPoint(T0 + 1, "A", "x1", 0.1), DriftPoint(T0 + 3, "B", "x1", 0.3),
        DriftPoint(T0 + 4, "A", "x0", 0.9), DriftPoint(T0 + 12, "A", "x1", 0.05),
    ]  # fmt: skip
    assert drift_datapoints(alarm, points, T0 + 15) == [
        Datapoint(T0, 0.3), Datapoint(T0 + 10, 0.05),
    ]  # fmt: skip
    # No report yet in the open period: it ends with the last complete one.
    assert drift_datapoints(alarm, points, T0 + 25)[-1] == Datapoint(T0 + 10, 0.05)
    one_variant = Alarm(**{**alarm.__dict__, "variant": "A"})
    assert drift_datapoints(one_variant, points, T0 + 15)[0] == Datapoint(T0, 0.1)
