"""The alarm evaluator over a real (SQLite) store and the router's live counters: fresh
counts trip an alarm at once, transitions are persisted with their reason and history."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.deploy.alarm_watch import AlarmWatch
from turnout.domain.alarms import Alarm, AlarmState, Comparison
from turnout.domain.rollups import PERIOD, Metric, VariantKey
from turnout.metrics.flusher import Flusher
from turnout.routing.router import Router, RouterLimits
from turnout.store import Store

T0 = 1_764_064_800.0  # 2025-11-25 10:00:00 UTC
A = VariantKey("ep", "ep-config", "A")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def errors_alarm(name: str, endpoint: str = "ep") -> Alarm:
    return Alarm(
        name=name,
        metric=Metric.INVOCATION_5XX_ERRORS,
        statistic="Average",
        endpoint=endpoint,
        threshold=0.1,
        comparison=Comparison.GREATER,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'turnout.db'}")


def invoke(router: Router, n: int, status: int) -> None:
    metrics = router._metrics(A)
    for _ in range(n):
        metrics.observe(status, status != 200, 800.0, 40.0)


async def test_the_open_window_trips_an_alarm_and_the_change_is_recorded(store: Store) -> None:
    clock = Clock(T0 + 2)
    router = Router(RouterLimits(), "123456789012")
    flusher = Flusher(router, store, clock=clock)
    watch = AlarmWatch(store, flusher, clock=clock)
    store.add_alarm(errors_alarm("ep-errors"), T0)
    store.add_alarm(errors_alarm("other-errors", endpoint="other"), T0)

    assert await watch.states(["ep-errors", "nope"]) == {"ep-errors": AlarmState.INSUFFICIENT_DATA}
    invoke(router, 7, 200)
    invoke(router, 3, 500)  # nothing flushed yet: 30% errors in the open window
    assert await watch.states(["ep-errors"]) == {"ep-errors": AlarmState.ALARM}
    status = store.get_alarm("ep-errors")
    assert status.reason == (
        "Threshold Crossed: 1 datapoint [0.3 (25/11/25 10:00:00)] was greater than the "
        "threshold (0.1)."
    )
    [change] = store.alarm_history("ep-errors")
    assert (change.old_state, change.new_state, change.at) == (
        AlarmState.INSUFFICIENT_DATA,
        AlarmState.ALARM,
        T0 + 2,
    )
    assert store.get_alarm("other-errors").state is AlarmState.INSUFFICIENT_DATA

    # the next period is healthy: once it has data it decides, and the alarm goes OK
    clock.now = T0 + PERIOD + 0.5
    await flusher.flush()
    assert (await watch.evaluate_all())["ep-errors"] is AlarmState.ALARM  # no data yet
    invoke(router, 20, 200)
    assert (await watch.evaluate_all())["ep-errors"] is AlarmState.OK
    assert [c.new_state for c in store.alarm_history("ep-errors")] == [
        AlarmState.OK,
        AlarmState.ALARM,
    ]


async def test_a_deleted_alarm_is_left_out(store: Store) -> None:
    clock = Clock(T0)
    router = Router(RouterLimits(), "123456789012")
    watch = AlarmWatch(store, Flusher(router, store, clock=clock), clock=clock)
    store.add_alarm(errors_alarm("gone"), T0)
    invoke(router, 5, 500)
    store.delete_alarm("gone")
    assert await watch.states(["gone"]) == {}
