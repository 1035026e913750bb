"""SageMaker's asynchronous inference metrics, per endpoint (ADR 0031):
ApproximateBacklogSize, ApproximateBacklogSizePerInstance, ApproximateAgeOfOldestRequest and
HasBacklogWithoutCapacity.

They are gauges of the queue in the store, so no counter is kept for them: Prometheus reads
the worker's last look at the queue; CloudWatch's statistics over past periods are computed
from the queue's rows themselves (each request waits from `enqueued_at` to `finished_at`),
sampled every `STEP` seconds, as long as finished rows are kept (a day).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from turnout.domain.async_inference import Backlog, Wait

BACKLOG_SIZE = "ApproximateBacklogSize"
PER_INSTANCE = "ApproximateBacklogSizePerInstance"
OLDEST_AGE = "ApproximateAgeOfOldestRequest"
WITHOUT_CAPACITY = "HasBacklogWithoutCapacity"
ASYNC_METRICS = (BACKLOG_SIZE, PER_INSTANCE, OLDEST_AGE, WITHOUT_CAPACITY)
UNITS = {OLDEST_AGE: "Seconds"}  # the others: "None"
STEP = 10.0  # seconds between samples of the past backlog (turnout's rollup period)


def gauges(size: int, oldest_age: float, instances: int) -> dict[str, float]:
    """The four metrics for a backlog of `size` whose oldest request is `oldest_age` s old."""
    return {
        BACKLOG_SIZE: float(size),
        PER_INSTANCE: size / instances if instances else float(size),
        OLDEST_AGE: oldest_age if size else 0.0,
        WITHOUT_CAPACITY: 1.0 if size and not instances else 0.0,
    }


def sample(waits: Sequence[Wait], at: float) -> tuple[int, float]:
    """(backlog size, age of the oldest waiting request) at time `at`."""
    waiting = [
        w.enqueued_at
        for w in waits
        if w.enqueued_at <= at and (w.finished_at is None or w.finished_at > at)
    ]
    return len(waiting), (at - min(waiting)) if waiting else 0.0


def statistics(
    waits: Sequence[Wait], metric: str, start: float, period: float, instances: int
) -> dict[str, float] | None:
    """CloudWatch's statistics of `metric` over one period: Average, Sum, Minimum and
    SampleCount of samples every STEP seconds; Maximum also over the instants the backlog
    peaks (each arrival, and just before each departure), so a short burst between two
    samples still shows. None when no request waited in the period (no datapoint)."""
    end = start + period
    inside = [
        w for w in waits if w.enqueued_at < end and (w.finished_at is None or w.finished_at > start)
    ]
    if not inside:
        return None
    count = max(1, math.floor(period / STEP))
    values = [gauges(*sample(inside, start + i * STEP), instances)[metric] for i in range(count)]
    peaks = [w.enqueued_at for w in inside if w.enqueued_at >= start]
    peaks += [
        w.finished_at - 1e-6 for w in inside if w.finished_at is not None and w.finished_at < end
    ]
    highest = max(values + [gauges(*sample(inside, at), instances)[metric] for at in peaks])
    return {
        "Average": sum(values) / len(values),
        "Sum": sum(values),
        "Minimum": min(values),
        "Maximum": highest,
        "SampleCount": float(len(values)),
    }


class BacklogCollector(Collector):
    """Prometheus gauges of the worker's last look at the queue, per endpoint with requests
    waiting (labels: endpoint); `instances` gives each endpoint's ready instances."""

    def __init__(
        self, backlogs: Callable[[], Sequence[Backlog]], instances: Callable[[], Mapping[str, int]],
        now: Callable[[], float],
    ) -> None:  # fmt: skip
        self._backlogs = backlogs
        self._instances = instances
        self._now = now

    def collect(self) -> Iterator[Metric]:
        families = {
            BACKLOG_SIZE: GaugeMetricFamily(
                "turnout_async_backlog_size",
                "Asynchronous requests queued or running (SageMaker ApproximateBacklogSize).",
                labels=["endpoint"],
            ),
            PER_INSTANCE: GaugeMetricFamily(
                "turnout_async_backlog_size_per_instance",
                "The backlog over the ready instances (ApproximateBacklogSizePerInstance).",
                labels=["endpoint"],
            ),
            OLDEST_AGE: GaugeMetricFamily(
                "turnout_async_oldest_request_age_seconds",
                "Age of the oldest waiting request (ApproximateAgeOfOldestRequest).",
                labels=["endpoint"],
            ),
            WITHOUT_CAPACITY: GaugeMetricFamily(
                "turnout_async_backlog_without_capacity",
                "1 when requests wait and no instance is ready (HasBacklogWithoutCapacity).",
                labels=["endpoint"],
            ),
        }
        instances = self._instances()
        now = self._now()
        for backlog in self._backlogs():
            values = gauges(backlog.size, backlog.age(now), instances.get(backlog.endpoint, 0))
            for name, family in families.items():
                family.add_metric([backlog.endpoint], values[name])
        yield from families.values()
