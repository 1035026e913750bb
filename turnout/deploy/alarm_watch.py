"""The alarm evaluator: every second, each alarm's state from fresh datapoints, persisted.

Datapoints come from the store's rollups plus this process's unwritten counts (the flusher's
`rollups`), so the period still open counts as soon as it has invocations (ADR 0009). A state
change goes to the store with a CloudWatch-style reason and into the alarm's history.

`states(names)` is what a deployment's bake asks: those alarms evaluated now.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from turnout.deploy import alarm_data
from turnout.domain import drift
from turnout.domain.alarms import AlarmState, AlarmStatus, evaluate
from turnout.domain.rollups import Rollup
from turnout.errors import NotFound, StoreUnavailable
from turnout.metrics.flusher import Flusher
from turnout.store import Store
from turnout.store.drift import DriftStore

log = logging.getLogger("turnout.alarms")


class AlarmWatch:
    def __init__(
        self,
        store: Store,
        flusher: Flusher,
        *,
        tick: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._flusher = flusher
        self._tick = tick
        self._clock = clock
        # One evaluation at a time: two at once could both record the same transition.
        self._lock = asyncio.Lock()

    async def states(self, names: Sequence[str]) -> dict[str, AlarmState]:
        """Evaluate these alarms now (fresh data), persist changes, return their states.

        Names of alarms that do not exist are absent from the result.
        """
        wanted = set(names)
        statuses = await asyncio.to_thread(self._store.list_alarms)
        return await self._evaluate([s for s in statuses if s.alarm.name in wanted])

    async def evaluate_all(self) -> dict[str, AlarmState]:
        return await self._evaluate(await asyncio.to_thread(self._store.list_alarms))

    async def run(self) -> None:
        """Evaluate every alarm every `tick` seconds until cancelled."""
        while True:
            try:
                await self.evaluate_all()
            except StoreUnavailable as exc:  # an outage: one line, as the controller's
                log.warning("alarm evaluation: %s; will retry", exc)
            except Exception:  # the loop must outlive a bad pass
                log.exception("alarm evaluation failed; will retry")
            await asyncio.sleep(self._tick)

    async def _evaluate(self, statuses: Sequence[AlarmStatus]) -> dict[str, AlarmState]:
        async with self._lock:
            by_endpoint: dict[str, list[AlarmStatus]] = defaultdict(list)
            for status in statuses:
                by_endpoint[status.alarm.endpoint].append(status)
            states = {}
            for endpoint, watched in by_endpoint.items():
                now = self._clock()
                since = min(alarm_data.since(s.alarm, now) for s in watched)
                rollups = await self._flusher.rollups(endpoint, since)
                drifts = []
                if any(s.alarm.feature is not None for s in watched):
                    drifts = await asyncio.to_thread(self._drift_points, endpoint, since)
                for status in watched:
                    state = await self._judge(status, rollups, now, drifts)
                    if state is not None:
                        states[status.alarm.name] = state
            return states

    def _drift_points(self, endpoint: str, since: float) -> list[drift.DriftPoint]:
        """The endpoint's drift datapoints since `since` (blocking: in a thread)."""
        reports = DriftStore(self._store).reports(endpoint, since)
        return [p for r in reports for p in drift.points_of(r.computed_at, r.variant, r.document)]

    async def _judge(
        self,
        status: AlarmStatus,
        rollups: list[Rollup],
        now: float,
        drifts: list[drift.DriftPoint] | None = None,
    ) -> AlarmState | None:
        """The alarm's state now, recorded if it changed; None if it was deleted meanwhile."""
        alarm = status.alarm
        if alarm.feature is not None:
            points = alarm_data.drift_datapoints(alarm, drifts or [], now)
        else:
            points = alarm_data.datapoints(alarm, rollups, now)
        state = evaluate(alarm, [p.value for p in points], status.state)
        if state is status.state:
            return state
        reason = alarm_data.reason(alarm, points, state)
        try:
            await asyncio.to_thread(self._store.set_alarm_state, alarm.name, state, reason, now)
        except NotFound:
            return None
        log.info("alarm %s: %s -> %s: %s", alarm.name, status.state, state, reason)
        return state
