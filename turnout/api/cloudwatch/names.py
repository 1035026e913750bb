"""SageMaker's metrics in CloudWatch's terms: namespaces, metric names, dimensions, units,
statistics (pure).

Invocation metrics live in `AWS/SageMaker`; SageMaker puts the instances' utilization in
`/aws/sagemaker/Endpoints`, and turnout accepts it in either. A metric is named by
EndpointName and VariantName; EndpointConfigName (turnout's, optional) narrows it to one
fleet. Without VariantName, turnout adds up every variant (CloudWatch would have no such
metric; the sum is what an endpoint-wide alarm wants).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from turnout.api.cloudwatch.errors import invalid_parameter, missing_parameter
from turnout.domain import drift
from turnout.domain.rollups import (
    LATENCIES,
    MODEL_TIMES,
    STATISTICS,
    UTILIZATIONS,
    Metric,
    VariantKey,
)

NAMESPACE = "AWS/SageMaker"
ENDPOINTS_NAMESPACE = "/aws/sagemaker/Endpoints"  # SageMaker's, for instance utilization
ENDPOINT, VARIANT, CONFIG = "EndpointName", "VariantName", "EndpointConfigName"
DIMENSIONS = (ENDPOINT, VARIANT, CONFIG)
DRIFT_ENDPOINT, SCHEDULE = "Endpoint", "MonitoringSchedule"  # Model Monitor's dimensions
EXTENDED = tuple(s for s in STATISTICS if s.startswith("p"))  # p50, p90, p99


@dataclass(frozen=True)
class Target:
    """One metric of one endpoint, perhaps of one variant and/or fleet."""

    metric: Metric
    endpoint: str
    variant: str | None = None
    config: str | None = None
    namespace: str = NAMESPACE
    feature: str | None = None  # a drift metric's feature (then `metric` is not read)

    def dimensions(self) -> list[dict[str, str]]:
        if self.feature is not None:  # Model Monitor's data-metrics dimensions
            named = {DRIFT_ENDPOINT: self.endpoint, VARIANT: self.variant}
            return [{"Name": k, "Value": v} for k, v in named.items() if v is not None]
        values = {ENDPOINT: self.endpoint, VARIANT: self.variant, CONFIG: self.config}
        return [{"Name": k, "Value": v} for k, v in values.items() if v is not None]


def unit(metric: Metric) -> str:
    if metric in LATENCIES or metric in MODEL_TIMES:
        return "Microseconds"
    return "Percent" if metric in UTILIZATIONS else "None"


def metric_of(namespace: str | None, name: str | None) -> Metric:
    if not namespace:
        raise missing_parameter("Namespace")
    if not name:
        raise missing_parameter("MetricName")
    if namespace not in (NAMESPACE, ENDPOINTS_NAMESPACE):
        raise invalid_parameter(
            f"Namespace {namespace} is not served here: turnout keeps SageMaker's endpoint "
            f"metrics, in {NAMESPACE} (and {ENDPOINTS_NAMESPACE} for utilization)."
        )
    try:
        metric = Metric(name)
    except ValueError:
        raise invalid_parameter(
            f"MetricName {name} is not one of {NAMESPACE}'s: {', '.join(m.value for m in Metric)}."
        ) from None
    if namespace == ENDPOINTS_NAMESPACE and metric not in UTILIZATIONS:
        raise invalid_parameter(f"{name} is in namespace {NAMESPACE}, not {namespace}.")
    return metric


def target(
    namespace: str | None, name: str | None, dimensions: Sequence[Mapping[str, Any]] | None
) -> Target:
    """The metric a Namespace, MetricName and Dimensions name; InvalidParameterValue with
    what to do for anything turnout does not keep."""
    if namespace == drift.DATA_METRICS_NAMESPACE:
        return drift_target(name, dimensions)
    metric = metric_of(namespace, name)
    assert namespace is not None  # metric_of checked it
    values: dict[str, str] = {}
    for dimension in dimensions or ():
        key, value = dimension["Name"], dimension["Value"]
        if key not in DIMENSIONS:
            raise invalid_parameter(
                f"Dimension {key} is not one of SageMaker's: {', '.join(DIMENSIONS)}."
            )
        if key in values:
            raise invalid_parameter(f"Dimension {key} is given twice.")
        values[key] = value
    if ENDPOINT not in values:
        raise invalid_parameter(
            f"Dimensions must name the endpoint: {{'Name': '{ENDPOINT}', 'Value': ...}}."
        )
    return Target(metric, values[ENDPOINT], values.get(VARIANT), values.get(CONFIG), namespace)


def listed(keys: Iterable[VariantKey], namespace: str | None = None) -> list[Target]:
    """The metrics ListMetrics shows for these variants (of one namespace, or all): each
    SageMaker metric by EndpointName + VariantName, and narrowed by EndpointConfigName."""
    per_variant = sorted({(k.endpoint, k.variant, None) for k in keys})
    per_fleet = sorted({(k.endpoint, k.variant, k.config) for k in keys})
    targets = []
    for endpoint, variant, config in per_variant + per_fleet:
        for metric in Metric:
            spaces = [NAMESPACE, ENDPOINTS_NAMESPACE] if metric in UTILIZATIONS else [NAMESPACE]
            targets += [
                Target(metric, endpoint, variant, config, space)
                for space in spaces
                if namespace in (None, space)
            ]
    return targets


def matches(found: Target, metric: str | None, filters: Sequence[Mapping[str, Any]]) -> bool:
    """ListMetrics' filters: a metric name, and dimensions by name (and value if given)."""
    if metric is not None and found.metric.value != metric:
        return False
    have = {d["Name"]: d["Value"] for d in found.dimensions()}
    return all(f["Name"] in have and f.get("Value") in (None, have[f["Name"]]) for f in filters)


def drift_target(name: str | None, dimensions: Sequence[Mapping[str, Any]] | None) -> Target:
    """Model Monitor's feature_baseline_drift_<feature> of an endpoint (ADR 0041): dimension
    Endpoint (or EndpointName), optionally VariantName; MonitoringSchedule is accepted."""
    feature = drift.feature_of(name or "")
    if feature is None:
        raise invalid_parameter(
            f"MetricName {name} is not a drift metric: use {drift.PREFIX}<feature> in "
            f"{drift.DATA_METRICS_NAMESPACE}."
        )
    values = {d["Name"]: d["Value"] for d in dimensions or ()}
    unknown = set(values) - {DRIFT_ENDPOINT, ENDPOINT, VARIANT, SCHEDULE}
    if unknown:
        raise invalid_parameter(
            f"Dimension {sorted(unknown)[0]} is not one of {DRIFT_ENDPOINT}, {VARIANT}, {SCHEDULE}."
        )
    endpoint = values.get(DRIFT_ENDPOINT) or values.get(ENDPOINT)
    if not endpoint:
        raise invalid_parameter(
            f"Dimensions must name the endpoint: {{'Name': '{DRIFT_ENDPOINT}', 'Value': ...}}."
        )
    return Target(
        Metric.INVOCATIONS,
        endpoint,
        values.get(VARIANT),
        None,
        drift.DATA_METRICS_NAMESPACE,
        feature,
    )
