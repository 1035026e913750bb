"""The service layer of alarms and metric queries, whichever facade asks.

Alarm definitions are synchronous (facades call them from worker threads, like the
ControlPlane). Metric queries are coroutines on the server's event loop: they read the
flusher's fresh view, the store's rollups plus this process's counts not written yet, so a
query right after traffic sees all of it.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from turnout.domain.alarms import Alarm, AlarmState, AlarmStatus, AlarmTransition
from turnout.domain.rollups import (
    LATENCIES,
    MODEL_TIMES,
    PERIOD,
    STATISTICS,
    UTILIZATIONS,
    Metric,
    Rollup,
    VariantKey,
    align,
    statistic,
)
from turnout.errors import InvalidRequest, NotFound
from turnout.metrics.flusher import Flusher
from turnout.metrics.series import Datapoint, period_starts, select, series
from turnout.store import Store

MAX_DATAPOINTS = 1440  # per query, as CloudWatch bounds GetMetricStatistics


@dataclass(frozen=True)
class VariantSummary:
    """Every statistic of every SageMaker metric of one variant of one fleet."""

    key: VariantKey
    statistics: dict[Metric, dict[str, float]]
    shadow: bool = False  # a shadow variant: its invocations are mirrored copies


class Monitoring:
    def __init__(
        self, store: Store, flusher: Flusher, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._flusher = flusher
        self._clock = clock

    # --- alarms -----------------------------------------------------------------------
    def create_alarm(self, alarm: Alarm) -> AlarmStatus:
        """InvalidRequest if the definition breaks a rule, AlreadyExists if the name is taken."""
        self._check(alarm)
        self._store.add_alarm(alarm, self._clock())
        return self._store.get_alarm(alarm.name)

    def put_alarm(self, alarm: Alarm) -> bool:
        """Create the alarm or overwrite the definition of the one of that name, which keeps
        its state (CloudWatch's PutMetricAlarm); True if it was created."""
        self._check(alarm)
        return self._store.put_alarm(alarm, self._clock())

    def _check(self, alarm: Alarm) -> None:
        alarm.validate()
        if alarm.feature is None:  # a drift alarm: every statistic has values (ADR 0041)
            check_statistic(alarm.metric, alarm.statistic)
        span = alarm.period_s * alarm.evaluation_periods
        if span > self._flusher.retention:
            raise InvalidRequest(
                f"Period * EvaluationPeriods is {span} s, longer than the metrics are kept "
                f"({self._flusher.retention:g} s); use fewer or shorter periods."
            )

    def set_alarm_state(self, name: str, state: AlarmState, reason: str) -> None:
        """Set the state by hand (a test of what watches it); the next evaluation, within a
        second, sets the state the data says again. NotFound if there is no such alarm."""
        self._store.set_alarm_state(name, state, reason, self._clock())

    def alarm_history(self, name: str | None, limit: int = 100) -> list[AlarmTransition]:
        """State changes of alarm `name` (None: of every alarm), newest first."""
        return self._store.alarm_history(name, limit)

    def list_alarms(self, endpoint: str | None = None) -> list[AlarmStatus]:
        return self._store.list_alarms(endpoint)

    def describe_alarm(self, name: str) -> tuple[AlarmStatus, list[AlarmTransition]]:
        """The alarm and its latest state changes, newest first."""
        return self._store.get_alarm(name), self._store.alarm_history(name)

    def delete_alarm(self, name: str) -> None:
        self._store.delete_alarm(name)

    # --- metrics ----------------------------------------------------------------------
    async def series(
        self,
        endpoint: str,
        metric: Metric,
        name: str,
        *,
        seconds: float,
        period: int = int(PERIOD),
        variant: str | None = None,
        config: str | None = None,
    ) -> list[Datapoint]:
        """One datapoint per `period` over the last `seconds`, oldest first."""
        check_statistic(metric, name)
        if period < PERIOD or period % PERIOD:
            raise InvalidRequest(f"period must be a multiple of {PERIOD:g} seconds.")
        if seconds / period > MAX_DATAPOINTS:
            raise InvalidRequest(
                f"since/period would give over {MAX_DATAPOINTS} datapoints; "
                "ask for a shorter span or a longer period."
            )
        now = self._clock()
        starts = period_starts(now - seconds, now, period)
        rollups = await self._rollups(endpoint, starts[0] if starts else now)
        return series(select(rollups, variant, config), metric, name, period, starts)

    async def rollups_since(self, endpoint: str, since: float) -> list[Rollup]:
        """Every rollup of `endpoint` from `since` on, fresh; none (no error) for an endpoint
        without metrics, as CloudWatch answers for a metric it has never seen."""
        return await self._flusher.rollups(endpoint, since)

    async def metric_keys(self) -> list[VariantKey]:
        """Every (endpoint, config, variant) with metrics kept, this process's unwritten too."""
        since = self._clock() - self._flusher.retention
        stored, endpoints = await asyncio.to_thread(
            lambda: (self._store.rollup_keys(since), self._store.list_endpoints())
        )
        local = {r.key for e in endpoints for r in self._flusher.unwritten(e.name)}
        return sorted(set(stored) | local, key=lambda k: (k.endpoint, k.config, k.variant))

    async def summary(self, endpoint: str, *, seconds: float) -> list[VariantSummary]:
        """Each variant's metrics over the last `seconds` (whole periods), by fleet."""
        rollups = await self._rollups(endpoint, align(self._clock() - seconds))
        by_key: dict[VariantKey, list[Rollup]] = defaultdict(list)
        for rollup in rollups:
            by_key[rollup.key].append(rollup)
        shadows = await asyncio.to_thread(self._shadows, {k.config for k in by_key})
        return [
            VariantSummary(key, _statistics(by_key[key]), (key.config, key.variant) in shadows)
            for key in sorted(by_key, key=lambda k: (k.config, k.variant))
        ]

    def _shadows(self, configs: set[str]) -> set[tuple[str, str]]:
        """(config, variant) of the shadow variants of these configs (deleted ones: none)."""
        found: set[tuple[str, str]] = set()
        for name in configs:
            try:
                config = self._store.get_endpoint_config(name)
            except NotFound:
                continue
            found |= {(name, v.name) for v in config.shadow_variants}
        return found

    async def _rollups(self, endpoint: str, since: float) -> list[Rollup]:
        """NotFound for an endpoint that neither exists nor has metrics (a typo, likely)."""
        rollups = await self._flusher.rollups(endpoint, since)
        if not rollups:
            await asyncio.to_thread(self._store.get_endpoint, endpoint)
        return rollups


def statistics_of(metric: Metric) -> tuple[str, ...]:
    """The statistics that have values for `metric` (counts are not kept per request)."""
    if metric in LATENCIES or metric in MODEL_TIMES:
        return STATISTICS
    if metric is Metric.INVOCATIONS_PER_INSTANCE:
        return ("Sum",)
    if metric in UTILIZATIONS or metric in (Metric.LOADED_MODEL_COUNT, Metric.MODEL_CACHE_HIT):
        # one value per rollup (or 0/1 per request): the extremes are kept too
        return ("Sum", "SampleCount", "Average", "Minimum", "Maximum")
    return ("Sum", "SampleCount", "Average")


def check_statistic(metric: Metric, name: str) -> None:
    """InvalidRequest unless statistic `name` has values for `metric` (it would never have a
    datapoint: an alarm on it would stay INSUFFICIENT_DATA for good)."""
    if name not in statistics_of(metric):
        raise InvalidRequest(
            f"Statistic {name!r} has no values for {metric.value}; use one of "
            f"{', '.join(statistics_of(metric))}."
        )


def _statistics(rollups: list[Rollup]) -> dict[Metric, dict[str, float]]:
    found: dict[Metric, dict[str, float]] = {}
    for metric in Metric:
        values = {name: statistic(metric, name, rollups) for name in STATISTICS}
        found[metric] = {name: value for name, value in values.items() if value is not None}
    return found
