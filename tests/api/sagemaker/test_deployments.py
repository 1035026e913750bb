"""UpdateEndpoint with a DeploymentConfig through boto3: SageMaker's validation messages,
the deployment's fields in DescribeEndpoint while it runs, and the endpoint_in_service
waiter at the end."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.endpoints import poll_until
from turnout.cli.background import BackgroundServer

from .conftest import Tarballs

pytestmark = pytest.mark.e2e

ROLE = "arn:aws:iam::123456789012:role/turnout-tests"
FAST = {"Delay": 0.25, "MaxAttempts": 240}


def config(percent: int, bake: int = 1) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": percent},
                "WaitIntervalInSeconds": bake,
            },
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": 600,
        }
    }


@pytest.fixture(scope="module")
def endpoint(sm: Any, tarballs: Tarballs) -> str:
    """Endpoint "bg" InService on config bg-1 (variant A); config bg-2 (variant A, another
    model) to deploy."""
    for model, artifact in (("bg-a", "sklearn"), ("bg-b", "sklearn_slow_learner")):
        sm.create_model(
            ModelName=model,
            PrimaryContainer={"Image": "turnout/sklearn", "ModelDataUrl": tarballs.url(artifact)},
            ExecutionRoleArn=ROLE,
        )
    for name, model in (("bg-1", "bg-a"), ("bg-2", "bg-b")):
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {"VariantName": "A", "ModelName": model, "InitialInstanceCount": 1,
                 "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}
            ],
        )  # fmt: skip
    sm.create_endpoint(EndpointName="bg", EndpointConfigName="bg-1")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="bg", WaiterConfig=FAST)
    return "bg"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 60}}, "CanarySize"),
        ({"Type": "LINEAR"}, "LinearStepSize must be specified"),
        ({"WaitIntervalInSeconds": 3601}, "less than or equal to 3600"),
    ],
)
def test_sagemaker_limits_apply(
    sm: Any, endpoint: str, change: dict[str, Any], message: str
) -> None:
    bad = config(10)
    bad["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"].update(change)
    with pytest.raises(ClientError) as raised:
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName="bg-2", DeploymentConfig=bad)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException" and message in error["Message"], error
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"


def test_describe_shows_the_deployment_and_the_waiter_waits_for_it(
    sm: Any, endpoint: str, server: BackgroundServer
) -> None:
    sm.update_endpoint(
        EndpointName=endpoint, EndpointConfigName="bg-2", DeploymentConfig=config(50, bake=3)
    )
    baking = poll_until(
        lambda: sm.describe_endpoint(EndpointName=endpoint),
        lambda d: "PendingDeploymentSummary" in d
        and d["PendingDeploymentSummary"]["ProductionVariants"][0]["VariantStatus"][0]["Status"]
        == "Baking",
        60, "the canary baking",
    )  # fmt: skip
    assert baking["EndpointStatus"] == "Updating"
    assert baking["EndpointConfigName"] == "bg-1"
    pending = baking["PendingDeploymentSummary"]
    assert pending["EndpointConfigName"] == "bg-2"
    [green] = pending["ProductionVariants"]
    assert (green["VariantName"], green["CurrentWeight"], green["DesiredWeight"]) == ("A", 0.5, 1.0)
    assert "Step 1 of 2" in green["VariantStatus"][0]["StatusMessage"]
    assert baking["LastDeploymentConfig"] == config(50, bake=3)

    sm.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig=FAST)
    done = sm.describe_endpoint(EndpointName=endpoint)
    assert done["EndpointConfigName"] == "bg-2"
    assert "PendingDeploymentSummary" not in done and "FailureReason" not in done
    assert done["LastDeploymentConfig"] == config(50, bake=3)
    assert [v["CurrentWeight"] for v in done["ProductionVariants"]] == [1.0]
