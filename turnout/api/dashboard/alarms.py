"""An alarm as the dashboard lists it: definition, state and the value it judges now (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from turnout.deploy.alarm_data import datapoints, drift_datapoints
from turnout.domain.alarms import AlarmStatus, Comparison, watched_traffic
from turnout.domain.drift import DriftPoint, metric_name
from turnout.domain.rollups import Rollup

OPERATORS = {
    Comparison.GREATER: ">",
    Comparison.GREATER_OR_EQUAL: "≥",
    Comparison.LESS: "<",
    Comparison.LESS_OR_EQUAL: "≤",
}


def alarm_row(
    status: AlarmStatus,
    rollups: Iterable[Rollup],
    now: float,
    drifts: Iterable[DriftPoint] = (),
) -> dict[str, Any]:
    """`value` is the newest datapoint the alarm judges (None: no data in its periods)."""
    alarm = status.alarm
    if alarm.feature is not None:
        points = drift_datapoints(alarm, drifts, now)
    else:
        points = datapoints(alarm, rollups, now)
    value = next((p.value for p in reversed(points) if p.value is not None), None)
    return {
        "name": alarm.name,
        "metric": alarm.metric.value if alarm.feature is None else metric_name(alarm.feature),
        "statistic": alarm.statistic,
        "watches": watched_traffic(alarm.variant, alarm.config),
        "comparison": alarm.comparison.value,
        "operator": OPERATORS[alarm.comparison],
        "threshold": alarm.threshold,
        "value": value,
        "state": status.state.value,
        "reason": status.reason,
        "since": status.state_updated_at,
    }
