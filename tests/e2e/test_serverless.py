"""Serverless endpoints (ADR 0038), the issue's acceptance test, with boto3 against a real
`turnout serve`: a serverless variant runs no instance until its first request, which waits
for a cold start (reported as ModelSetupTime in CloudWatch and Prometheus); after the idle
time its instance process is gone again; MaxConcurrency + 1 requests at once get exactly one
ThrottlingException."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import boto3
import psutil
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Artifacts
from tests.support.cloudwatch import CONFIG, REGION, cloudwatch
from tests.support.endpoints import instances_of, poll_until
from tests.support.prometheus import samples
from turnout.cli.background import BackgroundServer
from turnout.client import Client

pytestmark = pytest.mark.e2e

IDLE = 3.0  # s: the server's serverless idle time, short for the test
ENDPOINT = "sls"
MAX_CONCURRENCY = 2
HOLD = 1.5  # s each throttling-test request takes in the model, so that they overlap


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    return ("--serverless-idle", str(IDLE))


def aws(service: str, server: BackgroundServer) -> Any:
    # No retries: botocore retries ThrottlingException by default, which would hide it.
    return boto3.client(
        service, endpoint_url=server.url, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=CONFIG,
    )  # fmt: skip


@pytest.fixture(scope="module")
def runtime(server: BackgroundServer) -> Any:
    return aws("sagemaker-runtime", server)


@pytest.fixture(scope="module")
def serverless(server: BackgroundServer, client: Client, artifacts: Artifacts) -> Iterator[str]:
    """A serverless endpoint (MaxConcurrency 2, no provisioned concurrency), InService."""
    sagemaker = aws("sagemaker", server)
    sagemaker.create_model(
        ModelName="sls-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"ModelDataUrl": str(artifacts.faulty)},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="sls-config",
        ProductionVariants=[
            {
                "VariantName": "S",
                "ModelName": "sls-model",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": MAX_CONCURRENCY},
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="sls-config")
    poll_until(
        lambda: sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"],
        lambda status: status == "InService",
        30,
        "the serverless endpoint InService",
    )
    yield ENDPOINT


def invoke(runtime: Any, body: object) -> dict[str, Any]:
    answer = runtime.invoke_endpoint(
        EndpointName=ENDPOINT, Body=json.dumps(body), ContentType="application/json"
    )
    return json.loads(answer["Body"].read())


def running(client: Client) -> list[dict[str, Any]]:
    return instances_of(client.describe_endpoint(ENDPOINT), "S")


def setup_samples(server: BackgroundServer) -> dict[str, float]:
    found = samples(server.url, "turnout_model_setup_time_seconds", ENDPOINT)
    return {s.name: s.value for s in found if s.name.endswith(("_count", "_sum"))}


def test_cold_start_then_scale_to_zero(
    serverless: str, client: Client, runtime: Any, server: BackgroundServer, tmp_path: Any
) -> None:
    started = datetime.datetime.now(datetime.UTC)
    assert running(client) == []  # InService with no instance: nothing runs while idle
    sagemaker = aws("sagemaker", server)
    [variant] = sagemaker.describe_endpoint(EndpointName=serverless)["ProductionVariants"]
    assert variant["CurrentServerlessConfig"]["MaxConcurrency"] == MAX_CONCURRENCY
    assert "CurrentInstanceCount" not in variant

    assert invoke(runtime, {"hang": 0}) == {"slept": 0}  # the cold start, waited for

    [instance] = running(client)
    assert instance["ready"] and psutil.pid_exists(instance["pid"])
    assert [x.value for x in samples(server.url, "turnout_instance_ready", ENDPOINT)] == [1]
    prometheus = setup_samples(server)
    assert (
        prometheus["turnout_model_setup_time_seconds_count"] == 1
        and prometheus["turnout_model_setup_time_seconds_sum"] > 0
    ), prometheus
    metrics = cloudwatch(server.url, "json", tmp_path)
    answer = metrics.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="ModelSetupTime",
        Dimensions=[
            {"Name": "EndpointName", "Value": serverless}, {"Name": "VariantName", "Value": "S"}
        ],
        StartTime=started - datetime.timedelta(seconds=60),
        EndTime=datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60),
        Period=60, Statistics=["SampleCount", "Maximum"],
    )  # fmt: skip
    points = answer["Datapoints"]
    assert sum(p["SampleCount"] for p in points) == 1, points
    assert all(p["Unit"] == "Microseconds" and p["Maximum"] > 0 for p in points), points

    assert invoke(runtime, {"hang": 0}) == {"slept": 0}  # warm: the same instance
    assert [i["pid"] for i in running(client)] == [instance["pid"]]

    # Idle for IDLE seconds: the instance stops, its process is gone, the endpoint serves on.
    poll_until(lambda: running(client), lambda found: found == [], 10 * IDLE, "scale to zero")
    poll_until(
        lambda: psutil.pid_exists(instance["pid"]), lambda alive: not alive, 10, "the pid gone"
    )
    status = sagemaker.describe_endpoint(EndpointName=serverless)["EndpointStatus"]
    assert status == "InService"
    assert samples(server.url, "turnout_instance_ready", ENDPOINT) == []  # none in /metrics
    assert setup_samples(server)["turnout_model_setup_time_seconds_count"] == 1


def test_max_concurrency_plus_one_is_throttled(
    serverless: str, client: Client, runtime: Any
) -> None:
    invoke(runtime, {"hang": 0})  # warm, so that the three below overlap in the model
    barrier = Barrier(MAX_CONCURRENCY + 1)

    def call(_: int) -> str:
        barrier.wait(10)
        try:
            invoke(runtime, {"hang": HOLD})
        except ClientError as exc:
            error = exc.response["Error"]
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert "MaxConcurrency of 2" in error["Message"], error
            return str(error["Code"])
        return "ok"

    with ThreadPoolExecutor(MAX_CONCURRENCY + 1) as pool:
        outcomes = sorted(pool.map(call, range(MAX_CONCURRENCY + 1)))

    assert outcomes == ["ThrottlingException"] + ["ok"] * MAX_CONCURRENCY
    assert invoke(runtime, {"hang": 0}) == {"slept": 0}  # the gate let them all out again


def test_update_endpoint_to_instances_and_back_to_serverless(
    serverless: str, client: Client, runtime: Any, server: BackgroundServer
) -> None:
    sagemaker = aws("sagemaker", server)
    sagemaker.create_endpoint_config(
        EndpointConfigName="sls-always-on",
        ProductionVariants=[
            {"VariantName": "S", "ModelName": "sls-model", "InstanceType": "ml.m5.large",
             "InitialInstanceCount": 1}
        ],
    )  # fmt: skip
    for config, instances in (("sls-always-on", 1), ("sls-config", 0)):
        sagemaker.update_endpoint(EndpointName=serverless, EndpointConfigName=config)
        poll_until(
            lambda: sagemaker.describe_endpoint(EndpointName=serverless),
            lambda e, c=config: e["EndpointStatus"] == "InService" and e["EndpointConfigName"] == c,
            60,
            f"switched to {config}",
        )
        # Serverless again: the always-on fleet stopped, nothing runs until a request.
        assert len(running(client)) == instances
        assert invoke(runtime, {"hang": 0}) == {"slept": 0}
        assert len(running(client)) == 1
