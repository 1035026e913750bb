"""Drift metrics as Model Monitor names them, and their datapoints (pure, ADR 0041).

A drift report (turnout.drift) gives each feature a distance from its baseline; Model
Monitor publishes it as `feature_baseline_drift_<feature>` in namespace
aws/sagemaker/Endpoints/data-metrics, and so do turnout's CloudWatch facade and Prometheus.
"""

from __future__ import annotations

import statistics as stats
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DATA_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
PREFIX = "feature_baseline_drift_"


@dataclass(frozen=True)
class DriftPoint:
    """One feature's drift distance in one report of one variant."""

    at: float
    variant: str
    feature: str
    value: float


def metric_name(feature: str) -> str:
    return PREFIX + feature


def feature_of(name: str) -> str | None:
    """The feature a drift metric name is about; None if it is not one."""
    return name[len(PREFIX) :] or None if name.startswith(PREFIX) else None


def points_of(at: float, variant: str, document: Mapping[str, Any]) -> list[DriftPoint]:
    """The datapoints of one stored report document."""
    return [
        DriftPoint(at, variant, str(f["name"]), float(f["distance"]))
        for f in document.get("features", ())
    ]


def statistic(name: str, values: Sequence[float]) -> float | None:
    """A CloudWatch statistic of one period's drift values (percentiles: nearest rank)."""
    if not values:
        return None
    if name == "Sum":
        return float(sum(values))
    if name == "SampleCount":
        return float(len(values))
    if name == "Average":
        return stats.fmean(values)
    if name == "Minimum":
        return min(values)
    if name == "Maximum":
        return max(values)
    ordered = sorted(values)  # p50, p90, p99
    rank = max(0, min(len(ordered) - 1, round(float(name[1:]) / 100 * len(ordered)) - 1))
    return ordered[rank]


def select(points: Iterable[DriftPoint], feature: str, variant: str | None) -> list[DriftPoint]:
    return [p for p in points if p.feature == feature and variant in (None, p.variant)]
