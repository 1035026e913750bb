"""The three CloudWatch protocols against botocore's own serializers and parsers: what
botocore sends decodes to the parameters it was given, and what turnout answers parses to
the values it meant, errors included (Error.Code is the query code in all three)."""

from __future__ import annotations

import copy
import datetime
import functools
import urllib.parse
from typing import Any

import pytest
from botocore import parsers, serialize
from botocore.loaders import Loader
from botocore.model import OperationModel
from botocore.model import ServiceModel as BotoModel
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.api.cloudwatch import protocols
from turnout.api.cloudwatch.errors import CloudWatchError, invalid_parameter
from turnout.api.cloudwatch.protocols import Kind
from turnout.api.cloudwatch.servicemodel import cloudwatch

PROTOCOLS = {
    "smithy-rpc-v2-cbor": Kind.CBOR,
    "json": Kind.JSON,
    "query": Kind.QUERY,
}
START = datetime.datetime(2026, 12, 3, 10, 0, 0, tzinfo=datetime.UTC)
END = datetime.datetime(2026, 12, 3, 10, 5, 0, 500000, tzinfo=datetime.UTC)


@functools.cache
def _raw() -> dict[str, Any]:
    return Loader().load_service_model("cloudwatch", "service-2")


def operation(protocol: str, name: str) -> OperationModel:
    raw = copy.deepcopy(_raw())
    raw["metadata"]["protocol"] = protocol
    return BotoModel(raw, "cloudwatch").operation_model(name)


def decoded(protocol: str, name: str, params: dict[str, Any]) -> Any:
    """What turnout decodes from the request botocore makes of `params`."""
    request = serialize.create_serializer(protocol).serialize_to_request(
        params, operation(protocol, name)
    )
    body = request["body"]
    if isinstance(body, dict):  # query: botocore form-encodes the dict as it sends it
        body = urllib.parse.urlencode(body)
    body = body.encode() if isinstance(body, str) else body
    headers = {k.lower(): v for k, v in request["headers"].items()}
    kind = protocols.kind_of(request["url_path"], headers.get("x-amz-target", ""))
    assert kind is PROTOCOLS[protocol]
    form = protocols.parse_form(body) if kind is Kind.QUERY else {}
    target = headers.get("x-amz-target", "")
    assert protocols.operation_of(kind, request["url_path"], target, form) == name
    model = cloudwatch()
    return protocols.decode(kind, body, model, model.input_shape(name), form)


def parsed(protocol: str, name: str, reply: protocols.Reply) -> dict[str, Any]:
    """What botocore parses from turnout's reply."""
    op = operation(protocol, name)
    response = {
        "status_code": reply.status,
        "headers": {k.decode(): v.decode() for k, v in reply.headers},
        "body": reply.body,
    }
    result: dict[str, Any] = parsers.create_parser(protocol).parse(response, op.output_shape)
    result.pop("ResponseMetadata", None)
    return result


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_get_metric_statistics_request_decodes_to_botocores_parameters(protocol: str) -> None:
    params = {
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocations",
        "Dimensions": [
            {"Name": "EndpointName", "Value": "digits"},
            {"Name": "VariantName", "Value": "A & B"},
        ],
        "StartTime": START,
        "EndTime": END,
        "Period": 60,
        "Statistics": ["Sum", "SampleCount"],
        "ExtendedStatistics": ["p99"],
    }
    found = decoded(protocol, "GetMetricStatistics", params)
    assert found == {**params, "StartTime": START.timestamp(), "EndTime": END.timestamp()}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nested_lists_booleans_and_numbers_decode(protocol: str) -> None:
    params = {
        "MetricDataQueries": [
            {
                "Id": "a",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SageMaker",
                        "MetricName": "ModelLatency",
                        "Dimensions": [{"Name": "EndpointName", "Value": "e"}],
                    },
                    "Period": 10,
                    "Stat": "p50",
                },
                "ReturnData": False,
            },
            {"Id": "b", "Expression": "a * 2", "Label": "twice"},
        ],
        "StartTime": START,
        "EndTime": END,
        "MaxDatapoints": 500,
    }
    found = decoded(protocol, "GetMetricData", params)
    assert found == {**params, "StartTime": START.timestamp(), "EndTime": END.timestamp()}
    alarm = {"AlarmName": "x", "Threshold": 0.25, "EvaluationPeriods": 3, "ActionsEnabled": True}
    assert decoded(protocol, "PutMetricAlarm", alarm) == alarm


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_answers_parse_to_the_values_meant(protocol: str) -> None:
    model = cloudwatch()
    value = {
        "Label": "ModelLatency",
        "Datapoints": [
            {
                "Timestamp": START,
                "Sum": 12.5,
                "SampleCount": 3.0,
                "Unit": "Microseconds",
                "ExtendedStatistics": {"p99": 7.25, "p50": 1.0},
            }
        ],
    }
    reply = protocols.answer(PROTOCOLS[protocol], model, "GetMetricStatistics", value)
    assert reply.status == 200
    assert parsed(protocol, "GetMetricStatistics", reply) == value
    alarms = {
        "MetricAlarms": [
            {
                "AlarmName": "a<&>",
                "ActionsEnabled": False,
                "Threshold": 0.1,
                "Period": 10,
                "StateUpdatedTimestamp": END,
                "Dimensions": [{"Name": "EndpointName", "Value": "e"}],
                "AlarmActions": [],
            }
        ],
        "CompositeAlarms": [],
    }
    reply = protocols.answer(PROTOCOLS[protocol], model, "DescribeAlarms", alarms)
    assert parsed(protocol, "DescribeAlarms", reply) == alarms
    empty = protocols.answer(PROTOCOLS[protocol], model, "DeleteAlarms", {})
    assert parsed(protocol, "DeleteAlarms", empty) == {}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "err",
    [
        invalid_parameter("Namespace <x> & y is not served here."),
        CloudWatchError("ResourceNotFound", "Alarm a does not exist.", 404),
    ],
)
def test_errors_carry_the_query_code_in_every_protocol(protocol: str, err: CloudWatchError) -> None:
    reply = protocols.error(PROTOCOLS[protocol], err)
    assert reply.status == err.status
    response = {
        "status_code": reply.status,
        "headers": {k.decode(): v.decode() for k, v in reply.headers},
        "body": reply.body,
    }
    op = operation(protocol, "DescribeAlarms")
    found = parsers.create_parser(protocol).parse(response, op.output_shape)
    assert found["Error"]["Code"] == err.code
    assert found["Error"]["Message"] == err.message


def test_a_form_with_bad_numbers_or_list_indices_is_refused() -> None:
    model = cloudwatch()
    shape = model.input_shape("GetMetricStatistics")
    for form in (
        {"Action": "GetMetricStatistics", "Period": "ten"},
        {"Action": "GetMetricStatistics", "Dimensions.member.0.Name": "x"},
        {"Action": "GetMetricStatistics", "StartTime": "yesterday"},
        {"Action": "GetMetricStatistics", "Version": "2099-01-01"},
    ):
        with pytest.raises(CloudWatchError) as raised:
            protocols.decode(Kind.QUERY, b"", model, shape, form)
        assert raised.value.code == "InvalidParameterValue", form


@pytest.mark.parametrize("kind", [Kind.CBOR, Kind.JSON])
def test_bad_or_deeply_nested_bodies_are_invalid_parameters(kind: Kind) -> None:
    model = cloudwatch()
    deep = b"[" * 5000 + b"]" * 5000 if kind is Kind.JSON else b"\x81" * 5000 + b"\xa0"
    for body in (b"\xff\x00garbage", b"[1, 2]" if kind is Kind.JSON else b"\x82\x01\x02", deep):
        with pytest.raises(CloudWatchError) as raised:
            protocols.decode(kind, body, model, "ListMetricsInput", {})
        assert raised.value.code == "InvalidParameterValue", body[:20]


def test_a_form_of_five_hundred_queries_decodes_whole() -> None:
    queries = [
        {
            "Id": f"q{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SageMaker",
                    "MetricName": "Invocations",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": f"e{i}"},
                        {"Name": "VariantName", "Value": "A"},
                    ],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }
        for i in range(500)
    ]
    params = {"MetricDataQueries": queries, "StartTime": START, "EndTime": END}
    found = decoded("query", "GetMetricData", params)
    assert found["MetricDataQueries"] == queries


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(
    protocol=st.sampled_from(list(PROTOCOLS)),
    values=st.lists(st.tuples(_TEXT, _TEXT), max_size=5),
    period=st.integers(1, 10**6),
    statistics=st.lists(st.sampled_from(["Sum", "Average", "Maximum"]), min_size=1, max_size=3),
    seconds=st.floats(0, 2e9),
)
def test_any_request_botocore_makes_decodes_to_its_parameters(
    protocol: str,
    values: list[tuple[str, str]],
    period: int,
    statistics: list[str],
    seconds: float,
) -> None:
    start = datetime.datetime.fromtimestamp(round(seconds, 3), datetime.UTC)
    params = {
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocations",
        "Dimensions": [{"Name": name, "Value": value} for name, value in values],
        "StartTime": start,
        "EndTime": start,
        "Period": period,
        "Statistics": statistics,
    }
    found = decoded(protocol, "GetMetricStatistics", params)
    expected = {**params, "StartTime": start.timestamp(), "EndTime": start.timestamp()}
    assert found["Dimensions"] == expected["Dimensions"]
    assert found["StartTime"] == pytest.approx(expected["StartTime"], abs=1e-3)
    assert {k: v for k, v in found.items() if not k.endswith("Time")} == {
        k: v for k, v in expected.items() if not k.endswith("Time")
    }
