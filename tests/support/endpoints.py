"""Helpers for e2e tests against a running `turnout serve`: deploy, describe, wait."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from turnout.client import Client, DeploymentInfo, EndpointInfo, InstanceInfo, Variant

T = TypeVar("T")


@dataclass(frozen=True)
class VariantOf:
    """A production variant to deploy: which artifact it serves, how many copies, its weight."""

    name: str
    artifact: Path
    instance_count: int = 1
    weight: float = 1.0


def deploy_endpoint(
    client: Client, name: str, variants: Sequence[VariantOf], timeout: float = 120.0
) -> EndpointInfo:
    """Register one model per variant (`<name>-<variant>`), a config, the endpoint; wait.

    Returns the endpoint once InService; raises EndpointFailed if it fails to start.
    """
    config = []
    for v in variants:
        model = f"{name}-{v.name}"
        client.create_model(model, str(v.artifact))
        config.append(Variant(v.name, model, v.instance_count, v.weight))
    client.create_endpoint_config(f"{name}-config", config)
    client.create_endpoint(name, f"{name}-config")
    return client.wait_for_endpoint(name, timeout=timeout)


def instances_of(endpoint: EndpointInfo, variant: str) -> list[InstanceInfo]:
    return next(v["instances"] for v in endpoint["variants"] if v["name"] == variant)


def poll_until(read: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str) -> T:
    """Call `read` until `done` holds for its value; AssertionError (with the last value) if
    `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached in {timeout:g} s; last seen: {value}")
        time.sleep(0.1)


def canary(percent: int, bake_s: int, alarms: Sequence[str] = ()) -> dict[str, Any]:
    """A DeploymentConfig: a canary of `percent`% of the traffic baking `bake_s` seconds,
    rolled back by `alarms`."""
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": percent},
                "WaitIntervalInSeconds": bake_s,
            }
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def bake_canary(
    client: Client, name: str, green: str, percent: int = 10, bake_s: int = 600
) -> None:
    """Deploy config `green` to endpoint `name` as a canary; return once its first step
    bakes (green carries its share)."""
    client.update_endpoint(name, green, canary(percent, bake_s))
    poll_until(
        lambda: client.deployments(name)["current"],
        lambda d: d is not None and d["phase"] == "Baking" and d["step_started_at"] is not None,
        timeout=120, what="the canary baking",
    )  # fmt: skip


def finished(client: Client, name: str, timeout: float = 120) -> DeploymentInfo:
    """The endpoint's last deployment once it has finished."""

    def last() -> DeploymentInfo | None:
        found = client.deployments(name, limit=1)
        return None if found["current"] is not None or not found["past"] else found["past"][0]

    deployment = poll_until(last, lambda d: d is not None, timeout, f"{name}: deployment done")
    assert deployment is not None
    return deployment
