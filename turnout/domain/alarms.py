"""Alarms: named thresholds on an endpoint's metrics, evaluated as CloudWatch does (pure).

An alarm looks at the last `evaluation_periods` periods of one metric statistic and is in
ALARM when at least `datapoints_to_alarm` of them breach the threshold. Periods with no
invocations have no datapoint; `treat_missing_data` says what they count as. A deployment
rolls back when one of its AutoRollbackConfiguration alarms is in ALARM while baking.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from turnout.domain.names import check_name
from turnout.domain.rollups import PERIOD, STATISTICS, Metric
from turnout.errors import InvalidRequest


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class Comparison(StrEnum):
    GREATER = "GreaterThanThreshold"
    GREATER_OR_EQUAL = "GreaterThanOrEqualToThreshold"
    LESS = "LessThanThreshold"
    LESS_OR_EQUAL = "LessThanOrEqualToThreshold"


class MissingData(StrEnum):
    MISSING = "missing"  # all missing: INSUFFICIENT_DATA; else judge the periods that exist
    NOT_BREACHING = "notBreaching"
    BREACHING = "breaching"
    IGNORE = "ignore"  # all missing: keep the current state


_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.GREATER: operator.gt,
    Comparison.GREATER_OR_EQUAL: operator.ge,
    Comparison.LESS: operator.lt,
    Comparison.LESS_OR_EQUAL: operator.le,
}
MAX_EVALUATION_PERIODS = 100
MAX_NAME_LENGTH = 255  # CloudWatch's
MAX_DESCRIPTION_LENGTH = 1024  # CloudWatch's


@dataclass(frozen=True)
class Alarm:
    name: str
    metric: Metric
    statistic: str
    endpoint: str
    threshold: float
    comparison: Comparison
    variant: str | None = None  # None: every variant of the endpoint together
    # CloudWatch's EndpointConfigName dimension: one fleet, e.g. a deployment's green one,
    # whose error rate an endpoint-wide statistic would dilute. None: every fleet.
    config: str | None = None
    period_s: int = 10
    evaluation_periods: int = 1
    datapoints_to_alarm: int | None = None  # None: all evaluation periods
    treat_missing_data: MissingData = MissingData.MISSING
    description: str = ""  # CloudWatch's AlarmDescription: shown, never interpreted
    # Model Monitor's feature_baseline_drift_<feature> (ADR 0041): the alarm watches that
    # feature's drift reports instead of `metric`'s rollups. None: a rollup metric.
    feature: str | None = None

    @property
    def needed(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods

    def validate(self) -> None:
        if not 1 <= len(self.name) <= MAX_NAME_LENGTH or not self.name.isprintable():
            raise InvalidRequest(f"AlarmName must be 1 to {MAX_NAME_LENGTH} printable characters.")
        if len(self.description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidRequest(f"AlarmDescription is longer than {MAX_DESCRIPTION_LENGTH}.")
        if self.config is not None:  # it may not exist yet: alarms come before deployments
            check_name("endpoint config", self.config)
        if self.feature is not None and not 1 <= len(self.feature) <= MAX_NAME_LENGTH:
            raise InvalidRequest(
                f"The drift alarm's feature must be 1 to {MAX_NAME_LENGTH} characters."
            )
        if self.statistic not in STATISTICS:
            raise InvalidRequest(
                f"Statistic {self.statistic!r} is not one of {', '.join(STATISTICS)}."
            )
        if self.period_s < PERIOD or self.period_s % PERIOD:
            raise InvalidRequest(f"Period must be a multiple of {PERIOD:g} seconds.")
        if not 1 <= self.evaluation_periods <= MAX_EVALUATION_PERIODS:
            raise InvalidRequest(
                f"EvaluationPeriods must be between 1 and {MAX_EVALUATION_PERIODS}."
            )
        if not 1 <= self.needed <= self.evaluation_periods:
            raise InvalidRequest("DatapointsToAlarm must be between 1 and EvaluationPeriods.")


def watched_traffic(variant: str | None, config: str | None) -> str:
    """What an alarm looks at, in words: "all variants", "variant A of digits-v2", ..."""
    text = f"variant {variant}" if variant else "all variants"
    return f"{text} of {config}" if config else text


def breaches(alarm: Alarm, value: float) -> bool:
    """Whether one datapoint crosses the alarm's threshold."""
    return _COMPARE[alarm.comparison](value, alarm.threshold)


def evaluate(alarm: Alarm, datapoints: Sequence[float | None], current: AlarmState) -> AlarmState:
    """The alarm's state given its datapoints, oldest first, one per period (None: no data).

    Only the last `evaluation_periods` datapoints count.
    """
    recent: list[float | None] = list(datapoints)[-alarm.evaluation_periods :]
    recent[:0] = [None] * (alarm.evaluation_periods - len(recent))  # too young: no data yet
    compare = _COMPARE[alarm.comparison]
    present = [value for value in recent if value is not None]
    missing = len(recent) - len(present)
    breaching = sum(1 for value in present if compare(value, alarm.threshold))
    if not present:
        if alarm.treat_missing_data is MissingData.IGNORE:
            return current
        if alarm.treat_missing_data is MissingData.MISSING:
            return AlarmState.INSUFFICIENT_DATA
    if alarm.treat_missing_data is MissingData.BREACHING:
        breaching += missing
    return AlarmState.ALARM if breaching >= alarm.needed else AlarmState.OK


@dataclass(frozen=True)
class AlarmStatus:
    """An alarm as stored: its definition and where its evaluation stands."""

    alarm: Alarm
    state: AlarmState
    reason: str
    state_updated_at: float
    created_at: float


@dataclass(frozen=True)
class AlarmTransition:
    alarm: str
    at: float
    old_state: AlarmState
    new_state: AlarmState
    reason: str


def to_document(alarm: Alarm) -> dict[str, object]:
    """The definition as JSON-ready data (how the store keeps it)."""
    return {
        "name": alarm.name,
        "metric": alarm.metric.value,
        "statistic": alarm.statistic,
        "endpoint": alarm.endpoint,
        "variant": alarm.variant,
        "config": alarm.config,
        "threshold": alarm.threshold,
        "comparison": alarm.comparison.value,
        "period_s": alarm.period_s,
        "evaluation_periods": alarm.evaluation_periods,
        "datapoints_to_alarm": alarm.datapoints_to_alarm,
        "treat_missing_data": alarm.treat_missing_data.value,
        "description": alarm.description,
        "feature": alarm.feature,
    }


def from_document(document: dict[str, Any]) -> Alarm:
    return Alarm(
        name=document["name"],
        metric=Metric(document["metric"]),
        statistic=document["statistic"],
        endpoint=document["endpoint"],
        variant=document.get("variant"),
        config=document.get("config"),  # absent in alarms stored before it existed
        threshold=float(document["threshold"]),
        comparison=Comparison(document["comparison"]),
        period_s=int(document["period_s"]),
        evaluation_periods=int(document["evaluation_periods"]),
        datapoints_to_alarm=document.get("datapoints_to_alarm"),
        treat_missing_data=MissingData(document["treat_missing_data"]),
        description=document.get("description", ""),
        feature=document.get("feature"),  # absent in alarms stored before drift monitoring
    )
