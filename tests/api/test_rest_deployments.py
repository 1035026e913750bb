"""The native REST API's deployment routes: a refused deployment leaves the endpoint as it
was, with one-line errors in the documented shape (SageMaker's limits and wording)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf
from turnout.cli.background import BackgroundServer
from turnout.client import Client, Variant

from .test_rest import error_of

pytestmark = pytest.mark.e2e

NAME = "rest-deploy"


@pytest.fixture(scope="module")
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as session:
        yield session


@pytest.fixture(scope="module")
def endpoint(deploy: Deploy, client: Client, artifacts: Artifacts) -> str:
    deploy(NAME, [VariantOf("A", artifacts.sklearn)])
    client.create_endpoint_config(f"{NAME}-2", [Variant("A", f"{NAME}-A")])
    return NAME


def canary(percent: int = 10, **blue_green: Any) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": percent},
                "WaitIntervalInSeconds": 1,
            },
            **blue_green,
        }
    }


@pytest.mark.parametrize(
    ("config", "deployment", "message"),
    [
        (f"{NAME}-2", canary(60), "CanarySize (60 CAPACITY_PERCENT) must be at most 50%"),
        (f"{NAME}-2", canary(MaximumExecutionTimeoutInSeconds=100), "between 600 and 28800"),
        (
            f"{NAME}-2",
            {**canary(), "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "nope"}]}},
            "Alarm nope of AutoRollbackConfiguration does not exist",
        ),
        (f"{NAME}-config", canary(), "already serves endpoint config"),
        (f"{NAME}-2", {"BlueGreenUpdatePolicy": {}}, "TrafficRoutingConfiguration"),
    ],
)
def test_a_refused_deployment_changes_nothing(
    http: httpx.Client, endpoint: str, config: str, deployment: dict[str, Any], message: str
) -> None:
    body = {"config": config, "deployment_config": deployment}
    assert message in error_of(http.patch(f"/endpoints/{endpoint}", json=body), 400,
                               "ValidationError")  # fmt: skip
    after = http.get(f"/endpoints/{endpoint}").json()
    assert (after["status"], after["config"], after["deployment"]) == (
        "InService", f"{NAME}-config", None,
    )  # fmt: skip
    assert http.get(f"/endpoints/{endpoint}/deployment").json() == {"current": None, "past": []}


def test_requests_without_a_deployment(http: httpx.Client, endpoint: str) -> None:
    assert "no deployment in progress" in error_of(
        http.post(f"/endpoints/{endpoint}/deployment/pause"), 409, "Conflict"
    )
    error_of(http.post(f"/endpoints/{endpoint}/deployment/jump"), 400, "ValidationError")
    error_of(http.get("/endpoints/nope/deployment"), 404, "NotFound")
    error_of(http.post("/endpoints/nope/deployment/rollback"), 404, "NotFound")
