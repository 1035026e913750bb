import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.domain.alarms import (
    Alarm,
    AlarmState,
    Comparison,
    MissingData,
    evaluate,
    from_document,
    to_document,
)
from turnout.domain.rollups import Metric
from turnout.errors import InvalidRequest

OK, ALARM, NO_DATA = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA


def alarm(**changes: object) -> Alarm:
    fields: dict = dict(
        name="errors",
        metric=Metric.INVOCATION_5XX_ERRORS,
        statistic="Average",
        endpoint="digits",
        threshold=0.1,
        comparison=Comparison.GREATER,
        evaluation_periods=3,
        datapoints_to_alarm=2,
    )
    fields.update(changes)
    return Alarm(**fields)


@pytest.mark.parametrize(
    ("datapoints", "missing", "expected"),
    [
        ([0.0, 0.3, 0.3], MissingData.MISSING, ALARM),
        ([0.3, 0.0, 0.0], MissingData.MISSING, OK),
        ([0.9, 0.9, 0.0, 0.0], MissingData.MISSING, OK),  # only the last 3 count
        ([None, None, None], MissingData.MISSING, NO_DATA),
        ([None, 0.3, None], MissingData.MISSING, OK),
        ([None, 0.3, None], MissingData.BREACHING, ALARM),
        ([None, 0.3, None], MissingData.NOT_BREACHING, OK),
        ([None, None, None], MissingData.IGNORE, OK),
        ([None, None, None], MissingData.NOT_BREACHING, OK),
        ([None, None, None], MissingData.BREACHING, ALARM),
        ([0.3], MissingData.MISSING, OK),  # fewer periods than evaluated: the rest is missing
        ([0.3, 0.1], MissingData.BREACHING, ALARM),
    ],
)
def test_states(datapoints: list, missing: MissingData, expected: AlarmState) -> None:
    assert evaluate(alarm(treat_missing_data=missing), datapoints, OK) == expected


def test_ignore_keeps_the_current_state_when_nothing_is_known() -> None:
    assert evaluate(alarm(treat_missing_data=MissingData.IGNORE), [None] * 3, ALARM) == ALARM


@pytest.mark.parametrize(
    ("comparison", "value", "breaches"),
    [
        (Comparison.GREATER, 0.1, False),
        (Comparison.GREATER_OR_EQUAL, 0.1, True),
        (Comparison.LESS, 0.1, False),
        (Comparison.LESS_OR_EQUAL, 0.1, True),
        (Comparison.LESS, 0.05, True),
    ],
)
def test_comparisons(comparison: Comparison, value: float, breaches: bool) -> None:
    one = alarm(comparison=comparison, evaluation_periods=1, datapoints_to_alarm=1)
    assert evaluate(one, [value], OK) == (ALARM if breaches else OK)


values = st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=0, max_size=8)


@given(values, st.integers(1, 5), st.data())
def test_alarm_exactly_when_enough_recent_datapoints_breach(
    datapoints: list, periods: int, data: st.DataObject
) -> None:
    needed = data.draw(st.integers(1, periods))
    rule = alarm(
        evaluation_periods=periods,
        datapoints_to_alarm=needed,
        treat_missing_data=MissingData.NOT_BREACHING,
    )
    recent = datapoints[-periods:]
    breaching = sum(1 for v in recent if v is not None and v > rule.threshold)
    assert evaluate(rule, datapoints, NO_DATA) == (ALARM if breaching >= needed else OK)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"statistic": "p95"}, "Statistic"),
        ({"period_s": 15}, "multiple of 10"),
        ({"evaluation_periods": 0}, "EvaluationPeriods"),
        ({"datapoints_to_alarm": 4}, "DatapointsToAlarm"),
        ({"name": ""}, "AlarmName"),
        ({"config": "green config"}, "endpoint config name"),
    ],
)
def test_invalid_alarms(changes: dict, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        alarm(**changes).validate()
    alarm().validate()


def test_documents_round_trip_and_old_ones_watch_every_fleet() -> None:
    fleet = alarm(variant="B", config="digits-v2")
    assert from_document(to_document(fleet)) == fleet
    stored_before = to_document(fleet)
    del stored_before["config"]  # alarms stored before the EndpointConfigName dimension
    assert from_document(stored_before) == alarm(variant="B")
