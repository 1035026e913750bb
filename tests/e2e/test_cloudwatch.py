"""boto3's `cloudwatch` client against a real `turnout serve`, in each protocol CloudWatch
speaks (RPC v2 CBOR, botocore's default; AWS JSON 1.0; query): per-variant statistics equal
what a load generator sent, ListMetrics lists them, alarms made with put_metric_alarm are
turnout's alarms (one rolls a guarded deployment of a failing model back, made and driven
with boto3's sagemaker client), and bad requests get CloudWatch's error codes."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Artifacts, Deploy
from tests.support.cloudwatch import CONFIG, PROTOCOLS, REGION, cloudwatch, protocol_of
from tests.support.endpoints import VariantOf, canary, finished, poll_until
from tests.support.load import LoadProcess
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client

pytestmark = pytest.mark.e2e

ENDPOINT = "cw-digits"
SENT = {"A": 120, "B": 75}  # invocations per variant, each with TargetVariant
ROW = json.dumps(digits_rows(1)[0][0])
NAMESPACE = "AWS/SageMaker"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def dimensions(endpoint: str, variant: str | None = None, **more: str) -> list[dict[str, str]]:
    found = {"EndpointName": endpoint, **({"VariantName": variant} if variant else {}), **more}
    return [{"Name": k, "Value": v} for k, v in found.items()]


@pytest.fixture(scope="module")
def clients(server: BackgroundServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("botocore-data")
    made = {protocol: cloudwatch(server.url, protocol, root) for protocol in PROTOCOLS}
    assert {p: protocol_of(c) for p, c in made.items()} == {p: p for p in PROTOCOLS}
    return made


@pytest.fixture(scope="module")
def traffic(
    server: BackgroundServer, deploy: Deploy, artifacts: Artifacts, tmp_path_factory: Any
) -> datetime.datetime:
    """SENT invocations to each variant of ENDPOINT; the time before the first was sent."""
    deploy(ENDPOINT, [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    started = now()
    out = tmp_path_factory.mktemp("load")
    for variant, n in SENT.items():
        with LoadProcess(
            out / f"{variant}.json", server.url, ENDPOINT, requests=n, concurrency=4,
            duration=120, body=ROW, target_variant=variant,
        ) as load:  # fmt: skip
            result = load.finish(timeout=180)
        assert result.ok == n and result.by_variant == {variant: n}, result.describe()
    return started


def window(started: datetime.datetime) -> dict[str, Any]:
    return {"StartTime": started - datetime.timedelta(seconds=60), "EndTime": now()}


def statistics_sum(client: Any, started: datetime.datetime, variant: str, metric: str) -> float:
    answer = client.get_metric_statistics(
        Namespace=NAMESPACE, MetricName=metric, Dimensions=dimensions(ENDPOINT, variant),
        Period=60, Statistics=["Sum", "SampleCount"], **window(started),
    )  # fmt: skip
    return sum(p["Sum"] for p in answer["Datapoints"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_get_metric_statistics_per_variant_equal_what_was_sent(
    clients: dict[str, Any], traffic: datetime.datetime, protocol: str
) -> None:
    client = clients[protocol]
    for variant, n in SENT.items():
        # The counts include what the flusher has not written yet; poll only to be safe
        # against a flush in progress, then demand the exact count.
        total = poll_until(
            lambda v=variant: statistics_sum(client, traffic, v, "Invocations"),
            lambda found, n=n: found >= n, 30, f"{variant}: {n} invocations",
        )  # fmt: skip
        assert total == n, (variant, total)
    answer = client.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="ModelLatency", Dimensions=dimensions(ENDPOINT, "A"),
        Period=60, Statistics=["SampleCount", "Maximum"], ExtendedStatistics=["p50", "p99"],
        **window(traffic),
    )  # fmt: skip
    points = answer["Datapoints"]
    assert sum(p["SampleCount"] for p in points) == SENT["A"]
    for point in points:
        assert point["Unit"] == "Microseconds"
        assert 0 < point["ExtendedStatistics"]["p50"] <= point["ExtendedStatistics"]["p99"]
        assert point["ExtendedStatistics"]["p99"] <= point["Maximum"]
        assert point["Timestamp"].timestamp() % 60 == 0
    errors = statistics_sum(client, traffic, "A", "Invocation5XXErrors")
    assert errors == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_get_metric_data_per_variant_equal_what_was_sent(
    clients: dict[str, Any], traffic: datetime.datetime, protocol: str
) -> None:
    def query(variant: str, stat: str = "Sum", metric: str = "Invocations") -> dict[str, Any]:
        return {
            "Id": f"{variant.lower()}_{stat.lower()}",
            "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": metric,
                           "Dimensions": dimensions(ENDPOINT, variant)},
                "Period": 10,
                "Stat": stat,
            },
        }  # fmt: skip

    queries = [query("A"), query("B"), query("A", "p99", "ModelLatency")]
    poll_until(
        lambda: statistics_sum(clients[protocol], traffic, "B", "Invocations"),
        lambda found: found >= SENT["B"], 30, "the counts",
    )  # fmt: skip
    answer = clients[protocol].get_metric_data(MetricDataQueries=queries, **window(traffic))
    results = {r["Id"]: r for r in answer["MetricDataResults"]}
    assert sum(results["a_sum"]["Values"]) == SENT["A"]
    assert sum(results["b_sum"]["Values"]) == SENT["B"]
    latency = results["a_p99"]
    assert latency["Values"] and all(v > 0 for v in latency["Values"])
    stamps = results["a_sum"]["Timestamps"]
    assert stamps == sorted(stamps, reverse=True)  # TimestampDescending, CloudWatch's default
    assert {r["StatusCode"] for r in results.values()} == {"Complete"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_list_metrics_lists_each_variants_metrics(
    clients: dict[str, Any], traffic: datetime.datetime, protocol: str
) -> None:
    client = clients[protocol]
    found = client.list_metrics(
        Namespace=NAMESPACE, MetricName="Invocations",
        Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}],
    )["Metrics"]  # fmt: skip
    named = sorted(tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in found)
    config = f"{ENDPOINT}-config"
    assert named == sorted(
        tuple(sorted(d.items()))
        for v in SENT
        for d in (
            {"EndpointName": ENDPOINT, "VariantName": v},
            {"EndpointName": ENDPOINT, "VariantName": v, "EndpointConfigName": config},
        )
    )
    every = client.get_paginator("list_metrics").paginate(
        Dimensions=[{"Name": "VariantName", "Value": "B"}]
    )
    names = {m["MetricName"] for page in every for m in page["Metrics"]}
    assert {"Invocations", "ModelLatency", "Invocation5XXErrors", "CPUUtilization"} <= names


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bad_requests_get_cloudwatchs_error_codes(
    clients: dict[str, Any], traffic: datetime.datetime, protocol: str
) -> None:
    client = clients[protocol]

    def code(call: Any, **params: Any) -> str:
        with pytest.raises(ClientError) as raised:
            call(**params)
        error = raised.value.response["Error"]
        assert error["Message"], error
        return str(error["Code"])

    stats = {"Period": 60, "Statistics": ["Sum"], **window(traffic)}
    dims = dimensions(ENDPOINT, "A")
    get = client.get_metric_statistics
    assert code(get, Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=dims,
                **stats) == "InvalidParameterValue"  # fmt: skip
    assert code(get, Namespace=NAMESPACE, MetricName="Invocations", Dimensions=dims,
                **{**stats, "Period": 15}) == "InvalidParameterValue"  # fmt: skip
    assert code(get, Namespace=NAMESPACE, MetricName="Invocations", Dimensions=dims,
                Period=60, **window(traffic)) == "InvalidParameterCombination"  # fmt: skip
    assert code(get, Namespace=NAMESPACE, MetricName="Invocations", Dimensions=dims,
                ExtendedStatistics=["p95"], Period=60, **window(traffic)
                ) == "InvalidParameterValue"  # fmt: skip
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.get_metric_statistics(
            Namespace=NAMESPACE, MetricName="Invocations", Dimensions=dims,
            Period=60, Statistics=["Maximum"], **window(traffic),
        )  # fmt: skip
    expression = [{"Id": "e", "Expression": "SUM(METRICS())"}]
    assert code(client.get_metric_data, MetricDataQueries=expression, **window(traffic)) == (
        "InvalidParameterValue"
    )
    assert code(client.delete_alarms, AlarmNames=["no-such-alarm"]) == "ResourceNotFound"
    assert code(client.set_alarm_state, AlarmName="no-such-alarm", StateValue="OK",
                StateReason="x") == "ResourceNotFound"  # fmt: skip
    assert code(client.put_metric_alarm, AlarmName="x", Namespace=NAMESPACE,
                MetricName="Invocations", Dimensions=dims, Statistic="Sum", Period=10,
                EvaluationPeriods=1, Threshold=1,
                ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold"
                ) == "InvalidParameterValue"  # fmt: skip
    assert (
        code(
            client.put_metric_alarm,
            AlarmName="x",
            Namespace=NAMESPACE,
            MetricName="Invocations",
            Dimensions=dims,
            Period=10,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        == "MissingParameter"
    )
    alarm = {
        "AlarmName": "x", "Namespace": NAMESPACE, "MetricName": "Invocations",
        "Dimensions": dims, "Statistic": "Sum", "Period": 10, "EvaluationPeriods": 1,
        "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold",
    }  # fmt: skip
    put = client.put_metric_alarm
    math = [{"Id": "m", "Expression": "m1 * 2"}]
    assert code(put, **{**alarm, "Metrics": math}) == "InvalidParameterValue"
    assert code(put, **alarm, ExtendedStatistic="p99") == "InvalidParameterCombination"
    assert code(put, **{**alarm, "Unit": "Seconds"}) == "InvalidParameterValue"
    assert code(put, **{**alarm, "Period": 86400, "EvaluationPeriods": 2}) == (
        "InvalidParameterValue"  # longer than the metrics are kept
    )
    assert code(put, **{**alarm, "AlarmName": "x" * 256}) == "ValidationError"
    assert client.describe_alarms(AlarmNames=["x"])["MetricAlarms"] == []


@pytest.mark.parametrize("protocol", [PROTOCOLS[0], "query"])
def test_describe_alarms_pages(
    clients: dict[str, Any], traffic: datetime.datetime, protocol: str
) -> None:
    cw = clients[protocol]
    names = [f"cw-page-{protocol}-{i}" for i in range(5)]
    for name in names:
        cw.put_metric_alarm(
            AlarmName=name, Namespace=NAMESPACE, MetricName="Invocations",
            Dimensions=dimensions(ENDPOINT), Statistic="Sum", Period=10, EvaluationPeriods=1,
            Threshold=1, ComparisonOperator="LessThanThreshold",
        )  # fmt: skip
    prefix = f"cw-page-{protocol}-"
    first = cw.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=2)
    assert len(first["MetricAlarms"]) == 2 and first["NextToken"]
    pages = cw.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, PaginationConfig={"PageSize": 2}
    )
    assert [a["AlarmName"] for page in pages for a in page["MetricAlarms"]] == names
    with pytest.raises(ClientError) as raised:
        cw.describe_alarms(AlarmNamePrefix=prefix, NextToken="not-a-token")
    assert raised.value.response["Error"]["Code"] == "InvalidNextToken"
    cw.delete_alarms(AlarmNames=names)


def test_sagemaker_and_a_bare_form_post_still_reach_the_right_facade(
    server: BackgroundServer, traffic: datetime.datetime
) -> None:
    sagemaker = boto3.client(
        "sagemaker", endpoint_url=server.url, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=CONFIG,
    )  # fmt: skip
    assert ENDPOINT in {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}
    # curl -d sends a form content type; SageMaker's X-Amz-Target still decides.
    headers = {"X-Amz-Target": "SageMaker.ListEndpoints"}
    answer = httpx.post(server.url + "/", content=b"{}", headers=headers | {
        "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 200 and "Endpoints" in answer.json(), answer.text
    answer = httpx.post(server.url + "/", data={"Action": "Bogus", "Version": "2010-08-01"})
    assert answer.status_code == 400
    assert "<Code>InvalidAction</Code>" in answer.text
    assert answer.headers["content-type"].startswith("text/xml")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_alarm_lives_put_described_updated_and_deleted(
    clients: dict[str, Any], client: Client, traffic: datetime.datetime, protocol: str
) -> None:
    cw = clients[protocol]
    name = f"cw-latency-{protocol}"
    alarm = {
        "AlarmName": name,
        "AlarmDescription": "p99 model latency of A",
        "Namespace": NAMESPACE,
        "MetricName": "ModelLatency",
        "Dimensions": dimensions(ENDPOINT, "A"),
        "ExtendedStatistic": "p99",
        "Period": 10,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 5e6,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:ops"],  # accepted, not run
    }
    cw.put_metric_alarm(**alarm)
    # The same alarm in turnout's own API.
    assert client.describe_alarm(name)["metric"] == "ModelLatency"
    described = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert len(described) == 1
    shown = described[0]
    for key in ("AlarmName", "AlarmDescription", "Namespace", "MetricName", "ExtendedStatistic",
                "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
                "ComparisonOperator", "TreatMissingData"):  # fmt: skip
        assert shown[key] == alarm[key], key
    assert shown["Dimensions"] == alarm["Dimensions"]
    assert shown["ActionsEnabled"] is False and shown["AlarmActions"] == []
    assert shown["AlarmArn"].startswith("arn:aws:cloudwatch:")
    assert shown["AlarmArn"].endswith(f":alarm:{name}")
    # With no traffic now, notBreaching periods make it OK within a second or two.
    poll_until(
        lambda: cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"],
        lambda state: state == "OK", 30, f"{name} OK",
    )  # fmt: skip
    cw.put_metric_alarm(**{**alarm, "Threshold": 6e6})  # an update keeps the state
    updated = cw.describe_alarms(AlarmNamePrefix=name)["MetricAlarms"]
    assert [(a["Threshold"], a["StateValue"]) for a in updated] == [(6e6, "OK")]
    assert cw.describe_alarms(AlarmNames=[name], StateValue="ALARM")["MetricAlarms"] == []
    cw.delete_alarms(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_set_alarm_state_is_recorded_and_the_next_evaluation_sets_it_back(
    clients: dict[str, Any], traffic: datetime.datetime
) -> None:
    cw = clients[PROTOCOLS[0]]
    name = "cw-manual"
    cw.put_metric_alarm(
        AlarmName=name, Namespace=NAMESPACE, MetricName="Invocation5XXErrors",
        Dimensions=dimensions(ENDPOINT), Statistic="Sum", Period=10, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip

    def history() -> list[dict[str, Any]]:
        items = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
        return list(reversed(items["AlarmHistoryItems"]))  # oldest first

    poll_until(history, lambda items: len(items) == 1, 30, "the first evaluation")
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing the rollback")
    items = poll_until(history, lambda items: len(items) == 3, 30, "set and set back")
    summaries = [i["HistorySummary"] for i in items]
    assert summaries == [
        "Alarm updated from INSUFFICIENT_DATA to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
    ]
    assert json.loads(items[1]["HistoryData"])["newState"]["stateReason"] == (
        "testing the rollback"
    )
    cw.delete_alarms(AlarmNames=[name])


def test_an_alarm_made_with_put_metric_alarm_rolls_a_failing_deployment_back(
    server: BackgroundServer,
    clients: dict[str, Any],
    client: Client,
    deploy: Deploy,
    artifacts: Artifacts,
    tmp_path: Path,
) -> None:
    name, alarm = "cw-rollback", "cw-rollback-5xx"
    sagemaker = boto3.client(
        "sagemaker", endpoint_url=server.url, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=CONFIG,
    )  # fmt: skip
    deploy(name, [VariantOf("A", artifacts.sklearn)])
    green = f"{name}-green"
    sagemaker.create_model(ModelName=green, PrimaryContainer={"ModelDataUrl": str(artifacts.flaky)})
    sagemaker.create_endpoint_config(
        EndpointConfigName=green,
        ProductionVariants=[{"VariantName": "A", "ModelName": green, "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}],
    )  # fmt: skip
    cw = clients[PROTOCOLS[0]]
    # The green fleet's own error rate: 30% there, ~3% endpoint-wide at a 10% canary.
    # `ignore`: once rolled back, green has no data and the alarm stays in ALARM.
    cw.put_metric_alarm(
        AlarmName=alarm, Namespace=NAMESPACE, MetricName="Invocation5XXErrors",
        Dimensions=dimensions(name, EndpointConfigName=green), Statistic="Average",
        Period=10, EvaluationPeriods=1, Threshold=0.1, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="ignore",
    )  # fmt: skip
    with LoadProcess(
        tmp_path / "load.json", server.url, name, concurrency=4, duration=120, body=ROW
    ) as load:
        load.wait_for(50)
        sagemaker.update_endpoint(
            EndpointName=name, EndpointConfigName=green,
            DeploymentConfig=canary(10, 30, [alarm]),
        )  # fmt: skip
        deployment = finished(client, name)
        load.stop()
    assert deployment["phase"] == "RolledBack", deployment
    assert alarm in (deployment["failure_reason"] or "")
    endpoint = sagemaker.describe_endpoint(EndpointName=name)
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == (
        "InService", f"{name}-config",
    )  # fmt: skip
    shown = cw.describe_alarms(AlarmNames=[alarm], StateValue="ALARM")["MetricAlarms"]
    assert [a["AlarmName"] for a in shown] == [alarm]
    assert shown[0]["StateReason"].startswith("Threshold Crossed")
    items = cw.describe_alarm_history(AlarmName=alarm, ScanBy="TimestampAscending")
    transitions = [json.loads(i["HistoryData"]) for i in items["AlarmHistoryItems"]]
    assert transitions, "no state change recorded"
    assert transitions[-1]["newState"]["stateValue"] == "ALARM"
    assert transitions[0]["oldState"]["stateValue"] == "INSUFFICIENT_DATA"
    stamps = [i["Timestamp"] for i in items["AlarmHistoryItems"]]
    assert stamps == sorted(stamps)


def test_bad_bodies_get_cloudwatchs_errors_never_a_500(server: BackgroundServer) -> None:
    cbor_path = "/service/GraniteServiceVersion20100801/operation/ListMetrics"
    cbor = {"smithy-protocol": "rpc-v2-cbor", "content-type": "application/cbor"}
    json_target = {
        "x-amz-target": "GraniteServiceVersion20100801.ListMetrics",
        "content-type": "application/x-amz-json-1.0",
    }
    form = {"content-type": "application/x-www-form-urlencoded"}
    cases = [
        ("POST", cbor_path, cbor, b"\xff\x00 not cbor", 400, "InvalidParameterValue"),
        ("POST", cbor_path, cbor, b"\x81" * 100_000 + b"\xa0", 400, "InvalidParameterValue"),
        ("POST", cbor_path, cbor, b"\xa0" * (2 * 1024 * 1024), 413, "RequestEntityTooLarge"),
        ("GET", cbor_path, cbor, b"", 405, "InvalidAction"),
        ("POST", "/", json_target, b"[" * 100_000, 400, "InvalidParameterValue"),
        ("POST", "/", json_target, b'{"Namespace": 7}', 400, "InvalidParameterValue"),
        ("POST", "/", form, b"Action=ListMetrics&Dimensions.member.x.Name=a", 400,
         "InvalidParameterValue"),
    ]  # fmt: skip
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for method, path, headers, body, status, code in cases:
            answer = http.request(method, path, headers=headers, content=body)
            where = (method, path, body[:30])
            assert answer.status_code == status, (where, answer.text[:300])
            if "x-amz-target" in headers or "smithy-protocol" in headers:
                assert answer.headers["x-amzn-query-error"] == f"{code};Sender", where
            else:
                assert f"<Code>{code}</Code>" in answer.text, where
