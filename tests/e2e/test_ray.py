"""`turnout serve --backend ray` against a real two-node Ray cluster on loopback addresses
(tests/support/ray_cluster.py), driven with boto3 as against SageMaker: an endpoint of 4
instances spreads over both nodes; a LINEAR blue/green update fails no request; when a node
dies, Ray re-places its instances and the endpoint keeps serving, losing at most the
requests that were in flight on them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.sagemaker.conftest import clients
from tests.conftest import Artifacts
from tests.e2e.test_deployments import finished, linear
from tests.support.endpoints import instances_of, poll_until
from tests.support.load import LoadProcess
from tests.support.models import digits_rows
from tests.support.ray_cluster import RayCluster
from turnout.cli.background import BackgroundServer
from turnout.client import Client, InstanceInfo

pytestmark = pytest.mark.e2e

pytest.importorskip(
    "ray", reason="the Ray backend needs Ray: pip install 'turnout[ray]' (turnout[test] has it)"
)

ROLE = "arn:aws:iam::123456789012:role/turnout-tests"
FAST = {"Delay": 0.25, "MaxAttempts": 480}  # waiters poll every 0.25 s, at most 120 s
ROWS, LABELS = digits_rows(4)
CONCURRENCY = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    with RayCluster(tmp_path_factory.mktemp("ray")) as running:
        yield running


@pytest.fixture(scope="module")
def server_args(cluster: RayCluster) -> tuple[str, ...]:
    return ("--backend", "ray", "--ray-address", cluster.address)


@pytest.fixture(scope="module")
def aws(server: BackgroundServer) -> tuple[Any, Any]:
    return clients(server.url)


def create_endpoint(
    aws: tuple[Any, Any], name: str, artifact: Path, count: int, variant: str = "A"
) -> str:
    """Model, endpoint config and endpoint `name` through boto3; waits until InService."""
    sagemaker, _ = aws
    config = add_config(aws, name, artifact, count, variant)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)
    return config


def add_config(aws: tuple[Any, Any], name: str, artifact: Path, count: int, variant: str) -> str:
    sagemaker, _ = aws
    model = f"{name}-{variant}"
    sagemaker.create_model(
        ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelDataUrl": artifact.as_uri()}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=model,
        ProductionVariants=[
            {"VariantName": variant, "ModelName": model, "InitialInstanceCount": count,
             "InstanceType": "ml.t2.medium"},
        ],
    )  # fmt: skip
    return model


def invoke(aws: tuple[Any, Any], name: str) -> Any:
    _, runtime = aws
    answer = runtime.invoke_endpoint(
        EndpointName=name, Body=json.dumps(ROWS), ContentType="application/json"
    )
    return json.loads(answer["Body"].read())


def hosts(instances: list[InstanceInfo]) -> list[str]:
    """The node address of each instance (its log path is `<node address>:<path>`)."""
    return sorted(i["log"].split(":", 1)[0] for i in instances)


@pytest.fixture(scope="module")
def spread(aws: tuple[Any, Any], artifacts: Artifacts) -> str:
    create_endpoint(aws, "spread", artifacts.sklearn, 4)
    return "spread"


def test_an_endpoint_of_four_instances_spreads_over_both_nodes(
    aws: tuple[Any, Any], client: Client, cluster: RayCluster, spread: str
) -> None:
    assert all(invoke(aws, spread) == LABELS for _ in range(20))
    instances = instances_of(client.describe_endpoint(spread), "A")
    assert len(instances) == 4 and all(i["ready"] for i in instances)
    assert len({i["placement"] for i in instances}) == 2, instances  # two Ray node ids
    assert set(hosts(instances)) == set(cluster.ips)


def test_a_linear_update_on_ray_fails_no_request(
    aws: tuple[Any, Any], artifacts: Artifacts, client: Client, server: BackgroundServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    sagemaker, _ = aws
    name = "linear"
    create_endpoint(aws, name, artifacts.sklearn, 1)
    green = add_config(aws, name, artifacts.sklearn_slow_learner, 1, "B")
    with LoadProcess(
        tmp_path / "load.json", server.url, name, concurrency=CONCURRENCY, duration=120
    ) as load:
        load.wait_for(50)
        sagemaker.update_endpoint(
            EndpointName=name, EndpointConfigName=green, DeploymentConfig=linear(25, bake=1)
        )
        deployment = finished(client, name)
        load.wait_for(load.snapshot().total + 200)  # and green serves alone
        result = load.stop()
    assert deployment["phase"] == "Succeeded", deployment
    assert [s["green_share"] for s in deployment["steps"]] == [0.25, 0.5, 0.75, 1.0]
    assert result.failed == 0, result.describe()
    assert result.by_variant.get("A") and result.by_variant.get("B"), result.describe()
    described = sagemaker.describe_endpoint(EndpointName=name)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", green)


def test_when_a_node_dies_its_instances_are_replaced_and_the_endpoint_keeps_serving(
    aws: tuple[Any, Any], client: Client, cluster: RayCluster, server: BackgroundServer,
    spread: str, tmp_path: Path,
) -> None:  # fmt: skip
    head, second = cluster.ips
    before = instances_of(client.describe_endpoint(spread), "A")
    assert hosts(before) == [head, head, second, second]
    with LoadProcess(
        tmp_path / "during.json", server.url, spread, concurrency=CONCURRENCY, duration=120
    ) as load:
        load.wait_for(200)
        killed_at = time.monotonic()
        cluster.kill(cluster.nodes[1])
        after = poll_until(
            lambda: instances_of(client.describe_endpoint(spread), "A"),
            lambda found: hosts(found) == [head] * 4 and all(i["ready"] for i in found),
            90, "all 4 instances ready on the surviving node",
        )  # fmt: skip
        replaced_in = time.monotonic() - killed_at
        load.wait_for(load.snapshot().total + 200)
        during = load.stop()
    # Only the requests in flight on the lost instances may fail: at most one per worker.
    assert during.failed <= CONCURRENCY, during.describe()
    assert sum(i["restarts"] for i in after) >= 2, after
    with LoadProcess(
        tmp_path / "after.json", server.url, spread, concurrency=CONCURRENCY, requests=500
    ) as load:
        result = load.finish(60)
    assert (result.total, result.failed) == (500, 0), result.describe()
    print(
        f"node death: re-placed in {replaced_in:.1f} s; {during.failed} of {during.total} "
        f"requests failed meanwhile ({during.by_error}); 500 of 500 after"
    )
