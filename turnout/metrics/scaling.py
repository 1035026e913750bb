"""`turnout_scaling_activities_total{endpoint,variant,direction}`: the scaling activities
this process's autoscaler started (it runs on the controller's node; ADR 0036). Counted
from the autoscaler's thread, read at a scrape: a lock guards the tally."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from turnout.domain.scaling import Activity, ActivityStatus


class ScalingActivities(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def count(self, activity: Activity) -> None:
        """One more, unless it is a skip recorded as Failed (nothing was changed)."""
        if activity.status is ActivityStatus.FAILED:
            return
        with self._lock:
            self._counts[(activity.endpoint, activity.variant, activity.direction)] += 1

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "turnout_scaling_activities",
            "Scaling activities started by the autoscaler on this node, by direction (out, in).",
            labels=["endpoint", "variant", "direction"],
        )
        with self._lock:
            counts = dict(self._counts)
        for labels, value in sorted(counts.items()):
            family.add_metric(list(labels), value)
        yield family
