from __future__ import annotations

import dataclasses

import pytest

from turnout.domain.alarms import Alarm, AlarmState, Comparison, MissingData
from turnout.domain.rollups import PERIOD, Metric, Rollup, VariantKey, statistic
from turnout.errors import AlreadyExists, NotFound
from turnout.metrics.counters import VariantMetrics
from turnout.store import Store

A = VariantKey("digits", "digits-ab", "A")
B = VariantKey("digits", "digits-ab", "B")


def rollup(key: VariantKey, start: float, statuses: list[int]) -> Rollup:
    metrics = VariantMetrics(key)
    for i, status in enumerate(statuses):
        metrics.observe(status, status >= 400, 100.0 + i, 20.0)
    return Rollup(key, start, PERIOD, 2, metrics.take_window())


def test_rollups_round_trip_and_filter(store: Store) -> None:
    store.add_rollups([rollup(A, 0.0, [200, 500]), rollup(B, 0.0, [200])], source="r1")
    store.add_rollups([rollup(A, 10.0, [200] * 3)], source="r1")
    store.add_rollups([rollup(A, 10.0, [404])], source="r2")  # a second router, same period
    everything = store.list_rollups("digits", since=0.0)
    assert [(r.key.variant, r.start) for r in everything] == [
        ("A", 0.0),
        ("B", 0.0),
        ("A", 10.0),
        ("A", 10.0),
    ]
    only_a_late = store.list_rollups("digits", since=5.0, until=20.0, variant="A")
    assert statistic(Metric.INVOCATIONS, "Sum", only_a_late) == 4
    assert statistic(Metric.INVOCATION_4XX_ERRORS, "Sum", only_a_late) == 1
    first = store.list_rollups("digits", since=0.0, until=10.0, variant="A")
    assert (
        first[0].window.model_latency.counts == rollup(A, 0, [200, 500]).window.model_latency.counts
    )
    assert first[0].window.model_latency.maximum == 101.0
    assert store.list_rollups("other", since=0.0) == []


def test_writing_a_period_again_replaces_it_and_old_rollups_expire(store: Store) -> None:
    store.add_rollups([rollup(A, 0.0, [200])], source="r1")
    store.add_rollups([rollup(A, 0.0, [200, 200])], source="r1")
    assert statistic(Metric.INVOCATIONS, "Sum", store.list_rollups("digits", 0.0)) == 2
    store.add_rollups([rollup(A, 10.0, [200])], source="r1")
    assert store.delete_rollups_before(10.0) == 1
    assert [r.start for r in store.list_rollups("digits", 0.0)] == [10.0]


def test_utilization_round_trips_and_may_be_absent(store: Store) -> None:
    key = VariantKey("digits", "digits-ab", "A")
    busy = Rollup(key, 0.0, PERIOD, 2, rollup(key, 0.0, []).window, 87.5, 1.25)
    unsampled = rollup(key, PERIOD, [200])
    store.add_rollups([busy, unsampled], "r1")
    got = store.list_rollups("digits", 0.0)
    assert [(r.cpu_percent, r.memory_percent) for r in got] == [(87.5, 1.25), (None, None)]
    assert statistic(Metric.CPU_UTILIZATION, "Maximum", got) == 87.5
    assert statistic(Metric.MEMORY_UTILIZATION, "p99", got) is None


def test_model_setup_time_round_trips_and_counts_without_invocations(store: Store) -> None:
    metrics = VariantMetrics(A)
    metrics.observe_setup(1_500_000.0)
    metrics.observe_setup(500_000.0)
    cold = Rollup(A, 0.0, PERIOD, 1, metrics.take_window())
    assert not cold.window.empty  # a period with cold starts only is still written
    store.add_rollups([cold, rollup(A, PERIOD, [200])], "r1")
    got = store.list_rollups("digits", 0.0)
    assert statistic(Metric.MODEL_SETUP_TIME, "SampleCount", got) == 2
    assert statistic(Metric.MODEL_SETUP_TIME, "Maximum", got) == 1_500_000.0
    assert statistic(Metric.MODEL_SETUP_TIME, "Sum", got[1:]) is None  # none in that period
    assert statistic(Metric.INVOCATIONS, "Sum", got) == 1


def alarm(name: str = "errors", endpoint: str = "digits") -> Alarm:
    return Alarm(
        name=name,
        metric=Metric.INVOCATION_5XX_ERRORS,
        statistic="Average",
        endpoint=endpoint,
        variant="B",
        config="digits-v2",
        threshold=0.05,
        comparison=Comparison.GREATER_OR_EQUAL,
        evaluation_periods=2,
        datapoints_to_alarm=1,
        treat_missing_data=MissingData.NOT_BREACHING,
    )


def test_alarms_are_stored_whole_and_start_with_insufficient_data(store: Store) -> None:
    store.add_alarm(alarm(), created_at=5.0)
    store.add_alarm(alarm("other", endpoint="elsewhere"), created_at=6.0)
    status = store.get_alarm("errors")
    assert status.alarm == alarm()
    assert status.state is AlarmState.INSUFFICIENT_DATA
    assert (status.created_at, status.state_updated_at) == (5.0, 5.0)
    assert [s.alarm.name for s in store.list_alarms()] == ["errors", "other"]
    assert [s.alarm.name for s in store.list_alarms(endpoint="digits")] == ["errors"]
    with pytest.raises(AlreadyExists):
        store.add_alarm(alarm(), created_at=7.0)


def test_state_changes_are_recorded_once_in_the_history(store: Store) -> None:
    store.add_alarm(alarm(), created_at=0.0)
    assert store.set_alarm_state("errors", AlarmState.OK, "fine", at=10.0)
    assert not store.set_alarm_state("errors", AlarmState.OK, "still fine", at=20.0)
    assert store.set_alarm_state("errors", AlarmState.ALARM, "0.3 >= 0.05", at=30.0)
    status = store.get_alarm("errors")
    assert (status.state, status.reason, status.state_updated_at) == (
        AlarmState.ALARM,
        "0.3 >= 0.05",
        30.0,
    )
    history = store.alarm_history("errors")
    assert [(t.old_state, t.new_state, t.at) for t in history] == [
        (AlarmState.OK, AlarmState.ALARM, 30.0),
        (AlarmState.INSUFFICIENT_DATA, AlarmState.OK, 10.0),
    ]
    store.delete_alarm("errors")
    with pytest.raises(NotFound):
        store.get_alarm("errors")
    with pytest.raises(NotFound):
        store.set_alarm_state("errors", AlarmState.OK, "gone", at=40.0)
    assert len(store.alarm_history("errors")) == 2  # history outlives the alarm


def test_put_alarm_creates_then_overwrites_the_definition_keeping_the_state(
    store: Store,
) -> None:
    assert store.put_alarm(alarm(), at=1.0)
    store.set_alarm_state("errors", AlarmState.ALARM, "0.3 >= 0.05", at=2.0)
    changed = dataclasses.replace(alarm(), threshold=0.2, description="five per cent")
    assert not store.put_alarm(changed, at=3.0)
    status = store.get_alarm("errors")
    assert status.alarm == changed
    assert (status.state, status.reason, status.created_at) == (
        AlarmState.ALARM, "0.3 >= 0.05", 1.0,
    )  # fmt: skip


def test_history_of_every_alarm_and_the_keys_with_rollups(store: Store) -> None:
    store.add_alarm(alarm("one"), created_at=0.0)
    store.add_alarm(alarm("two"), created_at=0.0)
    store.set_alarm_state("one", AlarmState.OK, "fine", at=10.0)
    store.set_alarm_state("two", AlarmState.ALARM, "bad", at=20.0)
    assert [(t.alarm, t.at) for t in store.alarm_history(None)] == [("two", 20.0), ("one", 10.0)]
    assert [t.alarm for t in store.alarm_history(None, limit=1)] == ["two"]
    other = VariantKey("other", "other-config", "A")
    store.add_rollups(
        [rollup(A, 100.0, [200]), rollup(B, 110.0, [200]), rollup(other, 0.0, [200])], "r1"
    )
    assert store.rollup_keys(since=100.0) == [A, B]
    assert store.rollup_keys(since=0.0) == [A, B, other]
