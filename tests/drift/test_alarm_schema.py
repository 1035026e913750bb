"""A native (REST) drift alarm: `feature` reaches the alarm, the store's document and back."""

from __future__ import annotations

from turnout.api.monitoring_schemas import AlarmIn, AlarmOut
from turnout.domain.alarms import AlarmState, AlarmStatus, from_document, to_document


def test_a_drift_alarm_round_trips() -> None:
    body = AlarmIn.model_validate({
        "name": "x1-drift", "endpoint": "ep", "metric": "Invocations", "statistic": "Maximum",
        "threshold": 0.2, "comparison": "GreaterThanThreshold", "feature": "x1",
    })  # fmt: skip
    alarm = body.resource()
    assert alarm.feature == "x1"
    assert from_document(to_document(alarm)) == alarm
    legacy = to_document(alarm)
    del legacy["feature"]  # stored before drift monitoring
    assert from_document(legacy).feature is None
    shown = AlarmOut.of(AlarmStatus(alarm, AlarmState.OK, "", 1.0, 1.0))
    assert shown.feature == "x1"
