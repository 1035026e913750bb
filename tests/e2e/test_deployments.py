"""Guarded blue/green deployments against a real `turnout serve`, under load from a second
process: the traffic share of each step follows the plan (binomial bounds), a good model
deploys with no failed request, a model failing 30% of requests trips an
Invocation5XXErrors error-rate alarm on its own fleet during the canary bake and is rolled
back, and a deployment
survives `kill -9` of the server mid-bake."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import binom

from tests.conftest import Artifacts
from tests.support.endpoints import VariantOf, deploy_endpoint, finished, poll_until
from tests.support.load import LoadProcess
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client, DeploymentEventInfo, TurnoutAPIError, Variant

pytestmark = pytest.mark.e2e

BAKE_S = 2
# Requests sent this soon after a step was recorded may still have been routed by the
# table before it: the controller records the step, then writes the plan, which the node
# agent applies (milliseconds on a quiet machine; more when other suites share the cores).
SETTLE_S = 1.0
CONFIDENCE = 0.9999  # two-sided, per step: ~6 such checks, so a false alarm is ~1 in 1700 runs
ROWS, LABELS = digits_rows(1)


def canary(percent: int, bake: int = BAKE_S, alarms: Sequence[str] = ()) -> dict[str, Any]:
    return policy({"Type": "CANARY", "CanarySize": size(percent)}, bake, alarms)


def linear(percent: int, bake: int = BAKE_S) -> dict[str, Any]:
    return policy({"Type": "LINEAR", "LinearStepSize": size(percent)}, bake)


def size(percent: int) -> dict[str, Any]:
    return {"Type": "CAPACITY_PERCENT", "Value": percent}


def policy(routing: dict[str, Any], bake: int, alarms: Sequence[str] = ()) -> dict[str, Any]:
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {**routing, "WaitIntervalInSeconds": bake},
            "TerminationWaitInSeconds": 0,
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def add_green(client: Client, name: str, variant: str, artifact: Path) -> str:
    """A second config for endpoint `name`: one variant of `artifact`."""
    client.create_model(f"{name}-green", str(artifact))
    client.create_endpoint_config(f"{name}-green", [Variant(variant, f"{name}-green")])
    return f"{name}-green"


Trace = list[tuple[float, float, str, str | None]]


def routed_in(trace: Trace, start: float, end: float) -> list[str | None]:
    """Invoked variants of the requests sent and answered within [start, end]."""
    return [variant for sent, done, _, variant in trace if start <= sent and done <= end]


def check_shares(trace: Trace, events: list[DeploymentEventInfo], green: str) -> list[str]:
    """Per step: green's observed share against the share published (binomial bounds)."""
    report = []
    shifts = [e for e in events if e["green_share"] is not None]
    ends = [e["at"] for e in shifts[1:]] + [max(done for _, done, _, _ in trace)]
    for event, end in zip(shifts, ends, strict=True):
        served = routed_in(trace, event["at"] + SETTLE_S, end)
        n, hits, p = len(served), served.count(green), event["green_share"]
        assert p is not None
        low, high = binom.interval(CONFIDENCE, n, p) if n else (0, 0)
        report.append(f"{event['kind']} {p:.0%}: {hits}/{n}")
        assert n == 0 or low <= hits <= high, f"step {event['message']}: {hits} of {n} on green"
    return report


@pytest.mark.parametrize(
    ("kind", "config", "steps"),
    [("canary", canary(10), [0.1, 1.0]), ("linear", linear(25), [0.25, 0.5, 0.75, 1.0])],
)
def test_a_good_model_deploys_step_by_step_with_no_failed_request(
    client: Client,
    artifacts: Artifacts,
    server: BackgroundServer,
    tmp_path: Path,
    kind: str,
    config: dict[str, Any],
    steps: list[float],
) -> None:
    name = f"good-{kind}"
    deploy_endpoint(client, name, [VariantOf("A", artifacts.sklearn)])
    green = add_green(client, name, "B", artifacts.sklearn_slow_learner)
    trace_path = tmp_path / "trace.jsonl"
    with LoadProcess(
        tmp_path / "load.json", server.url, name, concurrency=4, duration=120, trace=trace_path
    ) as load:
        load.wait_for(50)
        client.update_endpoint(name, green, config)
        updating = client.describe_endpoint(name)
        assert updating["status"] == "Updating"
        in_progress = updating["deployment"]
        assert in_progress is not None and in_progress["green_config"] == green
        deployment = finished(client, name)
        load.wait_for(load.snapshot().total + 1000)  # a second or two after the switch
        result = load.stop()
    assert deployment["phase"] == "Succeeded", deployment
    assert [s["green_share"] for s in deployment["steps"]] == steps
    assert result.failed == 0, result.describe()
    report = check_shares(load.trace(), deployment["events"], "B")
    shifted = [e["green_share"] for e in deployment["events"] if e["kind"] == "shifted"]
    assert shifted == steps, report
    endpoint = client.describe_endpoint(name)
    assert (endpoint["status"], endpoint["config"], endpoint["pending_config"]) == (
        "InService", green, None,
    )  # fmt: skip
    assert endpoint["deployment"] is None
    print(f"{kind}: {result.total} requests, 0 failed; green per step: {report}")


def test_a_failing_model_trips_the_alarm_during_the_canary_and_is_rolled_back(
    client: Client, artifacts: Artifacts, server: BackgroundServer, tmp_path: Path
) -> None:
    name = "rollback"
    deploy_endpoint(client, name, [VariantOf("A", artifacts.sklearn)])
    # The same variant name in both fleets: the invoked-variant header cannot tell them
    # apart, the routes (by config and variant) and the alarm's metrics still do.
    green = add_green(client, name, "A", artifacts.flaky)
    # The green fleet's own error rate (EndpointConfigName): 30% on green, while the whole
    # endpoint's, at a 10% canary, is ~3% and would stay under the threshold.
    client.create_alarm(
        f"{name}-5xx", name, "Invocation5XXErrors", "Average", 0.1, "GreaterThanThreshold",
        config=green, treat_missing_data="notBreaching",
    )  # fmt: skip
    trace_path = tmp_path / "trace.jsonl"
    with LoadProcess(
        tmp_path / "load.json", server.url, name, concurrency=4, duration=120, trace=trace_path
    ) as load:
        load.wait_for(50)
        client.update_endpoint(name, green, canary(10, bake=30, alarms=[f"{name}-5xx"]))
        deployment = finished(client, name)
        load.wait_for(load.snapshot().total + 50)  # and blue serves on, alone
        result = load.stop()
    assert deployment["phase"] == "RolledBack", deployment
    kinds = [e["kind"] for e in deployment["events"]]
    assert kinds == ["started", "shifted", "rolling-back", "rolled-back"], kinds
    shift, rollback = deployment["events"][1], deployment["events"][2]
    assert rollback["step"] == 0, "rolled back during the canary bake"
    assert f"{name}-5xx" in (deployment["failure_reason"] or "")
    endpoint = client.describe_endpoint(name)
    assert (endpoint["status"], endpoint["config"], endpoint["pending_config"]) == (
        "InService", f"{name}-config", None,
    )  # fmt: skip
    assert f"{name}-5xx" in (endpoint["failure_reason"] or "")
    # Failures only while the canary had traffic, and at most the canary's share of them.
    trace = load.trace()
    failed_at = [sent for sent, _, status, _ in trace if status != "200"]
    # (with a margin for requests in the server's queue when the table changed)
    assert failed_at and min(failed_at) >= shift["at"] - 1.0, "failures before the shift"
    assert max(failed_at) <= rollback["at"] + 2.0, "failures after the rollback"
    during = routed_in(trace, shift["at"] - 1.0, rollback["at"] + 2.0)
    high = binom.ppf(CONFIDENCE, len(during), 0.1)
    assert result.failed <= high, f"{result.failed} failed of {len(during)} during the canary"
    print(
        f"rollback: {result.failed} failed of {result.total} ({len(during)} during the canary "
        f"of {rollback['at'] - shift['at']:.1f} s); reason: {deployment['failure_reason']}"
    )


def test_a_deployment_survives_kill_9_mid_bake(artifacts: Artifacts, tmp_path: Path) -> None:
    data_dir = tmp_path / "serve"
    name = "survivor"
    first = BackgroundServer(data_dir).start()
    try:
        with Client(first.url, timeout=30) as client:
            deploy_endpoint(client, name, [VariantOf("A", artifacts.sklearn)])
            green = add_green(client, name, "B", artifacts.sklearn_slow_learner)
            client.update_endpoint(name, green, canary(50, bake=8))
            poll_until(
                lambda: client.deployments(name)["current"],
                lambda d: d is not None and d["phase"] == "Baking" and d["green_share"] == 0.5,
                120, f"{name}: baking the canary",
            )  # fmt: skip
            before = client.deployments(name)["current"]
    finally:
        first.kill()
    assert before is not None
    with BackgroundServer(data_dir) as second, Client(second.url, timeout=30) as client:
        deployment = finished(client, name)
        endpoint = client.wait_for_endpoint(name, timeout=60)
        answer = client.invoke(name, ROWS)
    assert deployment["phase"] == "Succeeded", deployment
    assert deployment["id"] == before["id"]
    assert deployment["events"][: len(before["events"])] == before["events"], "history lost"
    kinds = [e["kind"] for e in deployment["events"]]
    assert kinds[len(before["events"]) :][:2] == ["interrupted", "restarted"], kinds
    assert (endpoint["config"], answer.variant, answer.json()) == (green, "B", LABELS)


def test_a_green_fleet_that_cannot_start_is_rolled_back_before_any_traffic(
    client: Client, artifacts: Artifacts
) -> None:
    name = "unstartable"
    deploy_endpoint(client, name, [VariantOf("A", artifacts.sklearn)])
    green = add_green(client, name, "B", artifacts.broken)
    client.update_endpoint(name, green, canary(10))
    deployment = finished(client, name)
    assert deployment["phase"] == "RolledBack"
    assert [e["kind"] for e in deployment["events"]] == ["started", "rolling-back", "rolled-back"]
    assert "failed to start" in (deployment["failure_reason"] or "")
    endpoint = client.wait_for_endpoint(name, timeout=60)
    assert (endpoint["config"], endpoint["pending_config"]) == (f"{name}-config", None)
    assert client.invoke(name, ROWS).variant == "A"


def test_deleting_an_endpoint_mid_deployment(client: Client, artifacts: Artifacts) -> None:
    name = "deleted-mid-way"
    deploy_endpoint(client, name, [VariantOf("A", artifacts.sklearn)])
    green = add_green(client, name, "B", artifacts.sklearn_slow_learner)
    client.update_endpoint(name, green, canary(50, bake=600))
    poll_until(
        lambda: client.deployments(name)["current"],
        lambda d: d is not None and d["phase"] == "Baking", 60, "baking",
    )  # fmt: skip
    client.delete_endpoint(name)
    client.wait_for_deleted(name, timeout=60)
    with pytest.raises(TurnoutAPIError) as raised:
        client.deployments(name)
    assert raised.value.status == 404
