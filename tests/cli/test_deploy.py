"""`turnout endpoint update --canary/--linear ...` and `turnout deploy ...`: the policy
options, and a person steering deployments of a real `turnout serve` (pause on
INSUFFICIENT_DATA, resume, promote, rollback, watch), with one-line errors."""

from __future__ import annotations

import pytest
import typer

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, poll_until
from turnout.cli.background import BackgroundServer
from turnout.cli.deploy import deployment_config
from turnout.client import Client, DeploymentInfo, Variant

from .conftest import plain
from .test_commands import fails, turnout

NAME = "cli-deploy"


def policy(**options: object) -> dict[str, object] | None:
    given: dict[str, object] = {
        "canary": None, "linear": None, "bake": None, "termination_wait": None,
        "max_time": None, "alarms": [], "pause_on_insufficient_data": False,
    }  # fmt: skip
    return deployment_config(**{**given, **options})  # type: ignore[arg-type]


def test_the_policy_options_make_sagemakers_deployment_config() -> None:
    assert policy() is None  # all at once, as before
    config = policy(canary="10%", bake=60, alarms=["a", "b"], pause_on_insufficient_data=True)
    assert config == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 60,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            },
            "TerminationWaitInSeconds": 0,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}, {"AlarmName": "b"}]},
        "PauseOnInsufficientData": True,
    }
    linear = policy(linear="2", max_time=900)
    assert linear is not None
    blue_green = linear["BlueGreenUpdatePolicy"]
    assert blue_green["TrafficRoutingConfiguration"]["LinearStepSize"] == {  # type: ignore[index]
        "Type": "INSTANCE_COUNT",
        "Value": 2,
    }
    assert blue_green["MaximumExecutionTimeoutInSeconds"] == 900  # type: ignore[index]
    with pytest.raises(typer.BadParameter, match="not both"):
        policy(canary="10%", linear="25%")
    with pytest.raises(typer.BadParameter, match="not a size"):
        policy(canary="ten")


def current(client: Client) -> DeploymentInfo | None:
    return client.deployments(NAME)["current"]


def test_a_person_steers_deployments(
    server: BackgroundServer, client: Client, deploy: Deploy, artifacts: Artifacts
) -> None:
    deploy(NAME, [VariantOf("A", artifacts.sklearn)])
    client.create_model(f"{NAME}-b", str(artifacts.sklearn_slow_learner))
    client.create_endpoint_config(f"{NAME}-b", [Variant("A", f"{NAME}-b")])
    # No traffic: the alarm has INSUFFICIENT_DATA at the end of each bake.
    client.create_alarm(f"{NAME}-5xx", NAME, "Invocation5XXErrors", "Sum", 0,
                        "GreaterThanThreshold")  # fmt: skip
    assert "no deployment in progress" in fails(server, "deploy", "pause", NAME)

    turnout(server, "endpoint", "update", NAME, f"{NAME}-b", "--canary", "50%", "--bake", "1",
            "--alarm", f"{NAME}-5xx", "--pause-on-insufficient-data", "--no-wait")  # fmt: skip
    paused = poll_until(lambda: current(client), lambda d: d is not None and d["paused"], 60,
                        "paused on INSUFFICIENT_DATA")  # fmt: skip
    assert paused is not None and (paused["step"], paused["green_share"]) == (0, 0.5)
    status = plain(turnout(server, "deploy", "status", NAME).stdout)
    assert "(paused)" in status and "INSUFFICIENT_DATA" in status, status

    turnout(server, "deploy", "resume", NAME)
    poll_until(lambda: current(client),
               lambda d: d is not None and d["step"] == 1 and d["paused"], 60,
               "the 100% step, paused again")  # fmt: skip
    turnout(server, "deploy", "promote", NAME)
    watched = plain(turnout(server, "deploy", "watch", NAME, "--timeout", "60").stdout)
    assert "Succeeded" in watched, watched
    assert client.describe_endpoint(NAME)["config"] == f"{NAME}-b"

    # Back to the first config, then a rollback on request; watch fails with the reason.
    turnout(server, "endpoint", "update", NAME, f"{NAME}-config", "--canary", "10%",
            "--bake", "600", "--no-wait")  # fmt: skip
    poll_until(lambda: current(client), lambda d: d is not None and d["phase"] == "Baking",
               60, "baking")  # fmt: skip
    turnout(server, "deploy", "rollback", NAME)
    error = fails(server, "deploy", "watch", NAME, "--timeout", "60")
    assert "RolledBack" in error and "Rolled back on request" in error, error
    endpoint = client.describe_endpoint(NAME)
    assert (endpoint["status"], endpoint["config"]) == ("InService", f"{NAME}-b")

    # --wait (the default) watches a guarded update to its end.
    done = turnout(server, "endpoint", "update", NAME, f"{NAME}-config", "--linear", "50%",
                   "--bake", "0")  # fmt: skip
    assert "Succeeded" in plain(done.stdout)
    assert client.describe_endpoint(NAME)["config"] == f"{NAME}-config"
    assert "CanarySize" in fails(server, "endpoint", "update", NAME, f"{NAME}-b", "--canary", "60%")
