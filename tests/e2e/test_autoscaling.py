"""Autoscaling through boto3's `application-autoscaling` client against a real `turnout
serve` (ADR 0036): a target-tracking policy scales a variant out under load and back in once
it stops, with no failed request; every operation answers as AWS's does, errors included.

The server judges 10-s datapoints (1 in a row scales out or in) so that the
acceptance test takes well under a minute; the decision rules are AWS's (tests/deploy)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, poll_until
from tests.support.load import LoadProcess
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client, Variant

pytestmark = pytest.mark.e2e

SCALED = "as-scaled"
API = "as-api"
NS = "sagemaker"
DIM = "sagemaker:variant:DesiredInstanceCount"
BOTO = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20)
ROW = json.dumps(digits_rows(1)[0][0])


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    return (
        "--scaling-period", "10", "--scaling-out-datapoints", "1",
        "--scaling-in-datapoints", "1",
    )  # fmt: skip


@pytest.fixture(scope="module")
def aas(server: BackgroundServer) -> Any:
    return boto3.client(
        "application-autoscaling", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="k", aws_secret_access_key="s", config=BOTO,
    )  # fmt: skip


def rid(endpoint: str, variant: str = "AllTraffic") -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def count(client: Client, endpoint: str) -> tuple[str, int | None]:
    described = client.describe_endpoint(endpoint)
    return described["status"], described["variants"][0]["current_instance_count"]


class Trickle:
    """One invocation every `interval` s from a thread (light traffic during a scale-in),
    counting failures: requests in flight on a drained instance must still succeed."""

    def __init__(self, url: str, endpoint: str, interval: float = 2.0) -> None:
        self._url = f"{url}/endpoints/{endpoint}/invocations"
        self._interval = interval
        self._stop = threading.Event()
        self.sent = self.failed = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.wait(self._interval):
                self.sent += 1
                try:
                    answer = http.post(
                        self._url, content=ROW, headers={"Content-Type": "application/json"}
                    )
                    self.failed += answer.status_code != 200
                except httpx.HTTPError:
                    self.failed += 1

    def __enter__(self) -> Trickle:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)


def test_target_tracking_scales_out_under_load_and_back_in(
    aas: Any, client: Client, deploy: Deploy, artifacts: Artifacts, server: BackgroundServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    deploy(SCALED, [VariantOf("AllTraffic", artifacts.sklearn)])
    aas.register_scalable_target(
        ServiceNamespace=NS, ResourceId=rid(SCALED), ScalableDimension=DIM,
        MinCapacity=1, MaxCapacity=3,
    )  # fmt: skip
    aas.put_scaling_policy(
        PolicyName="invocations", ServiceNamespace=NS, ResourceId=rid(SCALED),
        ScalableDimension=DIM, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleOutCooldown": 5, "ScaleInCooldown": 5,
        },
    )  # fmt: skip
    # Bounded load (2 workers back to back, at most 45 s) until the variant runs 3.
    with LoadProcess(
        tmp_path / "load.json", server.url, SCALED, concurrency=2, duration=60
    ) as load:
        poll_until(
            lambda: count(client, SCALED), lambda s: s == ("InService", 3), 40, "scaled out to 3"
        )
        # A lower MaxCapacity scales in under full load: the drained instance's requests
        # in flight must finish (counted below with the rest).
        aas.register_scalable_target(
            ServiceNamespace=NS, ResourceId=rid(SCALED), ScalableDimension=DIM, MaxCapacity=2
        )
        poll_until(
            lambda: count(client, SCALED), lambda s: s == ("InService", 2), 25, "drained to 2"
        )
        heavy = load.stop()
    assert heavy.total > 0 and heavy.failed == 0, heavy.describe()
    with Trickle(server.url, SCALED) as trickle:  # ~30/min: below 90% of 50 per instance
        poll_until(
            lambda: count(client, SCALED), lambda s: s == ("InService", 1), 45, "scaled in to 1"
        )
    assert trickle.sent > 0 and trickle.failed == 0, (trickle.sent, trickle.failed)

    def successful() -> list[dict[str, Any]]:  # oldest first
        found = aas.describe_scaling_activities(ServiceNamespace=NS, ResourceId=rid(SCALED))
        return [a for a in reversed(found["ScalingActivities"]) if a["StatusCode"] == "Successful"]

    # The activity ends once the autoscaler sees the endpoint InService at the new count.
    done = poll_until(
        successful, lambda d: d[-1]["Description"].endswith(" 1."), 10, "the scale-in finished"
    )
    assert [a["Description"] for a in done] == [
        f"Setting desired instance count to {n}." for n in (3, 2, 1)
    ]
    out, capped, back = done
    assert "the instance count 3 is outside the MaxCapacity 2" in capped["Cause"]
    assert "AlarmHigh in state ALARM triggered policy invocations" in out["Cause"]
    assert "above the target 50" in out["Cause"]
    assert "AlarmLow in state ALARM triggered policy invocations" in back["Cause"]
    assert "below 90% of the target 50" in back["Cause"]
    assert out["StartTime"] <= out["EndTime"] <= back["StartTime"] <= back["EndTime"]
    scraped = httpx.get(f"{server.url}/metrics", timeout=10).text
    for direction, times in (("out", 1), ("in", 2)):
        labels = f'direction="{direction}",endpoint="{SCALED}",variant="AllTraffic"'
        assert f"turnout_scaling_activities_total{{{labels}}} {times:.1f}" in scraped


def test_a_guarded_deployment_keeps_the_autoscaled_size_and_is_not_scaled_meanwhile(
    aas: Any, client: Client, deploy: Deploy, artifacts: Artifacts
) -> None:
    name = "as-deploy"
    deploy(name, [VariantOf("AllTraffic", artifacts.sklearn, instance_count=2)])
    target = {"ServiceNamespace": NS, "ResourceId": rid(name), "ScalableDimension": DIM}
    aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=3)
    client.create_model(f"{name}-green", str(artifacts.sklearn_slow_learner))
    client.create_endpoint_config(f"{name}-green", [Variant("AllTraffic", f"{name}-green", 1)])
    bake = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 11}  # spans a judged period
    client.update_endpoint(
        name, f"{name}-green",
        {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": bake,
                                   "TerminationWaitInSeconds": 0}},
    )  # fmt: skip
    aas.register_scalable_target(**target, MinCapacity=3)  # asks for 3 while Updating
    poll_until(
        lambda: client.describe_endpoint(name),
        lambda e: e["status"] == "InService" and e["config"] == f"{name}-green",
        40, "the deployment finished",
    )  # fmt: skip

    def activities() -> list[dict[str, Any]]:  # oldest first
        found = aas.describe_scaling_activities(ServiceNamespace=NS, ResourceId=rid(name))
        return list(reversed(found["ScalingActivities"]))

    seen = poll_until(activities, lambda a: len(a) == 2, 15, "a scale-out after the deployment")
    skipped, last = seen
    assert skipped["StatusCode"] == "Failed", seen
    assert skipped["StatusMessage"].startswith(
        "Not scaled: the endpoint is Updating (a deployment is in progress)"
    )
    assert last["Description"] == "Setting desired instance count to 3."
    # Green started at blue's 2 (its config says 1); only then did the new minimum apply.
    assert "the instance count 2 is outside the MinCapacity 3" in last["Cause"]


# --- every operation, through boto3 ---------------------------------------------------
@pytest.fixture(scope="module")
def api_endpoint(deploy: Deploy, artifacts: Artifacts) -> str:
    deploy(API, [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    return API


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def test_targets_register_describe_update_deregister(aas: Any, api_endpoint: str) -> None:
    arn = aas.register_scalable_target(
        ServiceNamespace=NS, ResourceId=rid(API, "A"), ScalableDimension=DIM,
        MinCapacity=1, MaxCapacity=4,
    )["ScalableTargetARN"]  # fmt: skip
    assert arn.startswith("arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/")
    # Registering again changes the range, keeps the rest.
    aas.register_scalable_target(
        ServiceNamespace=NS, ResourceId=rid(API, "A"), ScalableDimension=DIM, MaxCapacity=2,
        SuspendedState={"DynamicScalingInSuspended": True},
    )  # fmt: skip
    targets = aas.describe_scalable_targets(ServiceNamespace=NS, ResourceIds=[rid(API, "A")])[
        "ScalableTargets"
    ]
    assert len(targets) == 1
    target = targets[0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)
    assert target["ScalableTargetARN"] == arn
    assert target["SuspendedState"]["DynamicScalingInSuspended"] is True
    assert target["ScalableDimension"] == DIM and target["ResourceId"] == rid(API, "A")
    aas.deregister_scalable_target(
        ServiceNamespace=NS, ResourceId=rid(API, "A"), ScalableDimension=DIM
    )
    assert (
        aas.describe_scalable_targets(ServiceNamespace=NS, ResourceIds=[rid(API, "A")])[
            "ScalableTargets"
        ]
        == []
    )
    code, message = error_of(
        aas.deregister_scalable_target,
        ServiceNamespace=NS, ResourceId=rid(API, "A"), ScalableDimension=DIM,
    )  # fmt: skip
    assert code == "ObjectNotFoundException"
    assert message == (
        f"No scalable target registered for service namespace: sagemaker, resource ID: "
        f"{rid(API, 'A')}, scalable dimension: {DIM}"
    )


def test_policies_put_describe_delete(aas: Any, api_endpoint: str) -> None:
    aas.register_scalable_target(
        ServiceNamespace=NS, ResourceId=rid(API, "B"), ScalableDimension=DIM,
        MinCapacity=1, MaxCapacity=2,
    )  # fmt: skip
    tracking = aas.put_scaling_policy(
        PolicyName="latency", ServiceNamespace=NS, ResourceId=rid(API, "B"),
        ScalableDimension=DIM, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 200000.0,
            "CustomizedMetricSpecification": {
                "MetricName": "ModelLatency", "Namespace": "AWS/SageMaker",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": API}, {"Name": "VariantName", "Value": "B"}
                ],
                "Statistic": "Average",
            },
            "DisableScaleIn": True,
        },
    )  # fmt: skip
    assert ":scalingPolicy:" in tracking["PolicyARN"]
    assert tracking["PolicyARN"].endswith(f":resource/sagemaker/{rid(API, 'B')}:policyName/latency")
    step = aas.put_scaling_policy(
        PolicyName="steps", ServiceNamespace=NS, ResourceId=rid(API, "B"),
        ScalableDimension=DIM, PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity", "Cooldown": 30,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
        },
    )  # fmt: skip
    policies = aas.describe_scaling_policies(ServiceNamespace=NS, ResourceId=rid(API, "B"))[
        "ScalingPolicies"
    ]
    by_name = {p["PolicyName"]: p for p in policies}
    assert set(by_name) == {"latency", "steps"}
    latency = by_name["latency"]["TargetTrackingScalingPolicyConfiguration"]
    assert latency["TargetValue"] == 200000.0 and latency["DisableScaleIn"] is True
    assert latency["CustomizedMetricSpecification"]["MetricName"] == "ModelLatency"
    assert by_name["steps"]["PolicyARN"] == step["PolicyARN"]
    assert by_name["steps"]["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}
    ]
    only = aas.describe_scaling_policies(ServiceNamespace=NS, PolicyNames=["steps"])
    assert [p["PolicyName"] for p in only["ScalingPolicies"]] == ["steps"]
    aas.delete_scaling_policy(
        PolicyName="steps", ServiceNamespace=NS, ResourceId=rid(API, "B"), ScalableDimension=DIM
    )
    code, message = error_of(
        aas.delete_scaling_policy,
        PolicyName="steps", ServiceNamespace=NS, ResourceId=rid(API, "B"), ScalableDimension=DIM,
    )  # fmt: skip
    assert code == "ObjectNotFoundException"
    assert message.endswith("policy name: steps")


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ({"ServiceNamespace": "ecs"}, "ValidationException", "Unsupported service namespace"),
        ({"ResourceId": "endpoint/x"}, "ValidationException", "Unsupported resource ID"),
        (
            {"ScalableDimension": "ecs:service:DesiredCount"},
            "ValidationException",
            "Unsupported scalable dimension",
        ),
        ({"ResourceId": rid("nope")}, "ValidationException", 'Could not find endpoint "nope"'),
        ({"ResourceId": rid(API, "Z")}, "ValidationException", "has no production variant Z"),
        ({"MinCapacity": 3, "MaxCapacity": 2}, "ValidationException", "MinCapacity (3)"),
        ({"MaxCapacity": None}, "ValidationException", "MinCapacity and MaxCapacity are required"),
        ({"MinCapacity": "one"}, "SerializationException", "Expected"),
    ],
)
def test_register_errors(
    aas: Any, api_endpoint: str, params: dict[str, Any], code: str, words: str
) -> None:
    request = {
        "ServiceNamespace": NS, "ResourceId": rid(API, "A"), "ScalableDimension": DIM,
        "MinCapacity": 1, "MaxCapacity": 2, **params,
    }  # fmt: skip
    request = {k: v for k, v in request.items() if v is not None}
    if code == "SerializationException":  # boto3 refuses it itself: send it raw
        answer = httpx.post(
            aas.meta.endpoint_url,
            json=request,
            headers={"X-Amz-Target": "AnyScaleFrontendService.RegisterScalableTarget",
                     "Content-Type": "application/x-amz-json-1.1"},
        )  # fmt: skip
        assert answer.status_code == 400
        assert answer.json()["__type"] == code and words in answer.json()["message"]
        return
    assert words in error_of(aas.register_scalable_target, **request)[1]
    assert error_of(aas.register_scalable_target, **request)[0] == code


def test_put_policy_errors(aas: Any, api_endpoint: str) -> None:
    base = {"ServiceNamespace": NS, "ResourceId": rid(API, "A"), "ScalableDimension": DIM}
    with contextlib.suppress(ClientError):  # whatever the tests before left
        aas.deregister_scalable_target(**base)
    code, message = error_of(
        aas.put_scaling_policy, PolicyName="p", PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 5.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        }, **base,
    )  # fmt: skip
    assert code == "ObjectNotFoundException"  # A is not registered
    assert message.startswith("No scalable target registered")
    aas.register_scalable_target(**base, MinCapacity=1, MaxCapacity=2)
    cases = [
        ({"PolicyType": "TargetTrackingScaling"}, "TargetTrackingScalingPolicyConfiguration"),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 5.0,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    },
                },
            },
            "Unsupported predefined metric type",
        ),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 5.0,
                    "CustomizedMetricSpecification": {
                        "MetricName": "GPUUtilization",
                        "Namespace": "AWS/SageMaker",
                        "Statistic": "Average",
                    },
                },
            },
            "turnout serves no metric GPUUtilization",
        ),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 0.0,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                    },
                },
            },
            "TargetValue must be greater than 0",
        ),
        (
            {
                "PolicyType": "StepScaling",
                "StepScalingPolicyConfiguration": {
                    "AdjustmentType": "ChangeInCapacity",
                    "StepAdjustments": [
                        {"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1},
                        {"MetricIntervalLowerBound": 5.0, "ScalingAdjustment": 2},
                    ],
                },
            },
            "must not overlap",
        ),
        ({"PolicyType": "PredictiveScaling"}, "Unsupported policy type"),
    ]
    for extra, words in cases:
        code, message = error_of(aas.put_scaling_policy, PolicyName="p", **base, **extra)
        assert code == "ValidationException", (extra, message)
        assert words in message, (extra, message)


def test_activities_page_and_filter(aas: Any, api_endpoint: str) -> None:
    empty = aas.describe_scaling_activities(ServiceNamespace=NS, ResourceId=rid(API, "B"))
    assert empty["ScalingActivities"] == []
    code, _ = error_of(aas.describe_scaling_activities, ServiceNamespace=NS, NextToken="x")
    assert code == "InvalidNextTokenException"
    code, message = error_of(aas.describe_scaling_activities, ServiceNamespace="ecs")
    assert code == "ValidationException" and "Unsupported service namespace" in message


def test_people_see_activities_in_the_cli_rest_api_and_dashboard(
    aas: Any, client: Client, api_endpoint: str, server: BackgroundServer
) -> None:
    aas.register_scalable_target(
        ServiceNamespace=NS, ResourceId=rid(API, "B"), ScalableDimension=DIM,
        MinCapacity=2, MaxCapacity=2,
    )  # fmt: skip
    found = poll_until(
        lambda: client.scaling_activities(API, "B"), bool, 15, "an activity (B raised to 2)"
    )
    assert found[0]["to_count"] == 2 and found[0]["direction"] == "out"
    assert "outside the MinCapacity 2" in found[0]["cause"]

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "turnout.cli.main", "scaling", *args, "--url", server.url],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "250"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    table = cli("activities", API)
    assert "1 → 2" in table and "outside the MinCapacity 2" in table
    targets = json.loads(cli("targets", "--json"))
    mine = next(t for t in targets if t["resource_id"] == rid(API, "B"))
    assert (mine["min_capacity"], mine["max_capacity"]) == (2, 2)
    assert rid(API, "B").split("/")[3] in cli("targets")

    view = httpx.get(f"{server.url}/dashboard/api/endpoints/{API}", timeout=10).json()
    assert [a["id"] for a in view["scaling"]["activities"]][:1] == [found[0]["id"]]
    assert any(t["variant"] == "B" for t in view["scaling"]["targets"])
    page = httpx.get(f"{server.url}/dashboard/endpoints/{API}", timeout=10).text
    assert 'data-testid="scaling-activities"' in page


def test_step_scaling_runs_when_an_alarm_naming_the_policy_fires(
    aas: Any, api_endpoint: str, server: BackgroundServer
) -> None:
    base = {"ServiceNamespace": NS, "ResourceId": rid(API, "A"), "ScalableDimension": DIM}
    aas.register_scalable_target(**base, MinCapacity=1, MaxCapacity=2)
    arn = aas.put_scaling_policy(
        PolicyName="busy", PolicyType="StepScaling", **base,
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity", "Cooldown": 60,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
        },
    )["PolicyARN"]  # fmt: skip
    cloudwatch = boto3.client(
        "cloudwatch", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="k", aws_secret_access_key="s", config=BOTO,
    )  # fmt: skip
    cloudwatch.put_metric_alarm(
        AlarmName="as-busy", Namespace="AWS/SageMaker", MetricName="Invocations",
        Dimensions=[{"Name": "EndpointName", "Value": API}, {"Name": "VariantName", "Value": "A"}],
        Statistic="Sum", Period=10, EvaluationPeriods=1, Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[arn, "arn:aws:sns:us-east-1:123456789012:ops"],
    )  # fmt: skip
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["as-busy"])["MetricAlarms"]
    assert alarm["AlarmActions"] == [arn] and alarm["ActionsEnabled"] is True  # the one it runs
    policy = aas.describe_scaling_policies(ServiceNamespace=NS, PolicyNames=["busy"])
    assert policy["ScalingPolicies"][0]["Alarms"][0]["AlarmName"] == "as-busy"
    url = f"{server.url}/endpoints/{API}/invocations"
    headers = {"Content-Type": "application/json", "X-Amzn-SageMaker-Target-Variant": "A"}
    with httpx.Client(timeout=10) as http:
        for _ in range(20):
            assert http.post(url, content=ROW, headers=headers).status_code == 200

    def activities() -> list[dict[str, Any]]:
        found = aas.describe_scaling_activities(ServiceNamespace=NS, ResourceId=rid(API, "A"))
        return found["ScalingActivities"]

    (activity,) = poll_until(activities, bool, 25, "a step-scaling activity")
    assert activity["Description"] == "Setting desired instance count to 2."
    cause = re.fullmatch(
        r"monitor alarm as-busy in state ALARM triggered policy busy: Invocations was "
        r"(\d+), threshold 5",
        activity["Cause"],
    )
    assert cause is not None and 5 < int(cause[1]) <= 20, activity["Cause"]
    cloudwatch.delete_alarms(AlarmNames=["as-busy"])
    assert (
        aas.describe_scaling_policies(ServiceNamespace=NS, PolicyNames=["busy"])["ScalingPolicies"][
            0
        ]["Alarms"]
        == []
    )


def test_a_serverless_variant_is_not_a_scalable_target(
    aas: Any, server: BackgroundServer, artifacts: Artifacts
) -> None:
    sagemaker = boto3.client(
        "sagemaker", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="k", aws_secret_access_key="s", config=BOTO,
    )  # fmt: skip
    sagemaker.create_model(
        ModelName="aas-sls", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"ModelDataUrl": str(artifacts.sklearn)},
    )  # fmt: skip
    sagemaker.create_endpoint_config(
        EndpointConfigName="aas-sls",
        ProductionVariants=[{
            "VariantName": "S", "ModelName": "aas-sls",
            "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 2},
        }],
    )  # fmt: skip
    sagemaker.create_endpoint(EndpointName="aas-sls", EndpointConfigName="aas-sls")
    code, message = error_of(
        aas.register_scalable_target, ServiceNamespace=NS, ResourceId=rid("aas-sls", "S"),
        ScalableDimension=DIM, MinCapacity=1, MaxCapacity=2,
    )  # fmt: skip
    assert code == "ValidationException"
    assert "is serverless" in message, message
