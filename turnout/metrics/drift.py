"""Drift in Prometheus' terms (ADR 0041): each variant's latest drift distance per feature
as a gauge named as Model Monitor names the metric, `feature_baseline_drift_<feature>`
(characters Prometheus does not allow in a name become `_`)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from turnout.domain.drift import DriftPoint, metric_name

_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_]")


def prometheus_name(feature: str) -> str:
    return _NOT_ALLOWED.sub("_", metric_name(feature))


class DriftCollector(Collector):
    """One scrape's drift gauges: `points` are (endpoint, point) of the newest reports."""

    def __init__(self, points: Sequence[tuple[str, DriftPoint]]) -> None:
        self._points = points

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for endpoint, p in self._points:
            name = prometheus_name(p.feature)
            if name not in families:
                families[name] = GaugeMetricFamily(
                    name,
                    f"Drift of feature {p.feature!r} from its baseline in the newest drift "
                    "report (KS statistic for numbers, L-infinity for categories).",
                    labels=("endpoint", "variant"),
                )
            families[name].add_metric((endpoint, p.variant), p.value)
        yield from families.values()
