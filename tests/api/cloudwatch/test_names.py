"""SageMaker's metrics in CloudWatch's terms: which Namespace/MetricName/Dimensions name a
metric turnout keeps, and what ListMetrics lists and filters."""

from __future__ import annotations

import pytest

from turnout.api.cloudwatch.errors import CloudWatchError
from turnout.api.cloudwatch.names import (
    ENDPOINTS_NAMESPACE,
    NAMESPACE,
    Target,
    listed,
    matches,
    target,
    unit,
)
from turnout.domain.rollups import Metric, VariantKey


def dims(**values: str) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in values.items()]


def test_dimensions_name_the_endpoint_variant_and_fleet() -> None:
    found = target(
        NAMESPACE,
        "Invocation5XXErrors",
        dims(EndpointConfigName="green", EndpointName="e", VariantName="A"),
    )
    assert found == Target(Metric.INVOCATION_5XX_ERRORS, "e", "A", "green")
    assert found.dimensions() == dims(EndpointName="e", VariantName="A", EndpointConfigName="green")
    assert target(NAMESPACE, "Invocations", dims(EndpointName="e")).variant is None
    utilization = target(ENDPOINTS_NAMESPACE, "CPUUtilization", dims(EndpointName="e"))
    assert utilization.namespace == ENDPOINTS_NAMESPACE
    assert unit(Metric.MODEL_LATENCY) == "Microseconds"
    assert unit(Metric.MEMORY_UTILIZATION) == "Percent"
    assert unit(Metric.INVOCATIONS) == "None"


@pytest.mark.parametrize(
    ("namespace", "metric", "dimensions", "code"),
    [
        ("AWS/EC2", "Invocations", dims(EndpointName="e"), "InvalidParameterValue"),
        (NAMESPACE, "DiskUtilization", dims(EndpointName="e"), "InvalidParameterValue"),
        (ENDPOINTS_NAMESPACE, "Invocations", dims(EndpointName="e"), "InvalidParameterValue"),
        (NAMESPACE, "Invocations", dims(VariantName="A"), "InvalidParameterValue"),
        (NAMESPACE, "Invocations", dims(EndpointName="e", Host="h"), "InvalidParameterValue"),
        (NAMESPACE, "Invocations", dims(EndpointName="e") * 2, "InvalidParameterValue"),
        (None, "Invocations", dims(EndpointName="e"), "MissingParameter"),
        (NAMESPACE, None, dims(EndpointName="e"), "MissingParameter"),
    ],
)
def test_what_turnout_does_not_keep_is_a_clear_error(
    namespace: str | None, metric: str | None, dimensions: list[dict[str, str]], code: str
) -> None:
    with pytest.raises(CloudWatchError) as raised:
        target(namespace, metric, dimensions)
    assert raised.value.code == code
    assert raised.value.message


def test_list_metrics_lists_each_variant_and_fleet_and_filters() -> None:
    keys = [VariantKey("e", "blue", "A"), VariantKey("e", "green", "A"), VariantKey("f", "c", "B")]
    found = listed(keys)
    per_variant = {(t.endpoint, t.variant) for t in found if t.config is None}
    assert per_variant == {("e", "A"), ("f", "B")}
    assert {t.config for t in found if t.endpoint == "e"} == {None, "blue", "green"}
    # every metric once per dimension set, utilization in both namespaces
    assert len(found) == 5 * (len(Metric) + 2)
    assert {t.namespace for t in listed(keys, ENDPOINTS_NAMESPACE)} == {ENDPOINTS_NAMESPACE}
    chosen = [t for t in found if matches(t, "Invocations", dims(VariantName="A"))]
    assert {(t.endpoint, t.config) for t in chosen} == {("e", None), ("e", "blue"), ("e", "green")}
    by_name_only = [t for t in found if matches(t, None, [{"Name": "EndpointConfigName"}])]
    assert {t.config for t in by_name_only} == {"blue", "green", "c"}


DATA = "aws/sagemaker/Endpoints/data-metrics"


def test_model_monitor_drift_metrics_name_a_feature_of_an_endpoint() -> None:
    found = target(DATA, "feature_baseline_drift_x1", dims(Endpoint="ep", MonitoringSchedule="s"))
    assert (found.feature, found.endpoint, found.variant, found.namespace) == (
        "x1",
        "ep",
        None,
        DATA,
    )
    assert found.dimensions() == dims(Endpoint="ep")
    assert (
        target(DATA, "feature_baseline_drift_a b", dims(EndpointName="ep", VariantName="A")).variant
        == "A"
    )


@pytest.mark.parametrize(
    ("name", "dimensions", "words"),
    [
        ("feature_baseline_drift_", dims(Endpoint="ep"), "not a drift metric"),
        ("Invocations", dims(Endpoint="ep"), "not a drift metric"),
        ("feature_baseline_drift_x", dims(Host="h", Endpoint="ep"), "Dimension Host"),
        ("feature_baseline_drift_x", dims(VariantName="A"), "must name the endpoint"),
    ],
)
def test_bad_drift_metrics_say_what_to_do(
    name: str, dimensions: list[dict[str, str]], words: str
) -> None:
    with pytest.raises(CloudWatchError, match=words):
        target(DATA, name, dimensions)
