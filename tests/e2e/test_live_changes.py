"""Live weight and instance-count changes (UpdateEndpointWeightsAndCapacities) under steady
load from a second process: the endpoint goes Updating → InService and no request fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, instances_of
from tests.support.load import LoadProcess
from turnout.cli.background import BackgroundServer
from turnout.client import Client, EndpointInfo

pytestmark = pytest.mark.e2e

ENDPOINT = "live"
CONCURRENCY = 8


@pytest.fixture(scope="module")
def endpoint(deploy: Deploy, artifacts: Artifacts) -> str:
    deploy(
        ENDPOINT,
        [
            VariantOf("A", artifacts.sklearn, weight=0.5),
            VariantOf("B", artifacts.sklearn_slow_learner, weight=0.5),
        ],
    )
    return ENDPOINT


@pytest.fixture
def load(server: BackgroundServer, endpoint: str, tmp_path: Path) -> Iterator[LoadProcess]:
    """Steady load for the whole test (bounded at 120 s), warmed up before the test starts."""
    with LoadProcess(
        tmp_path / "load.json", server.url, endpoint, concurrency=CONCURRENCY, duration=120
    ) as running:
        running.wait_for(200)
        yield running


def variant(endpoint: EndpointInfo, name: str) -> dict[str, object]:
    """The variant's weights and instance counts (not its instances, model or batching)."""
    found = next(v for v in endpoint["variants"] if v["name"] == name)
    return {k: v for k, v in found.items() if k not in ("instances", "model", "batching")}


def apply_and_watch(
    client: Client,
    load: LoadProcess,
    weights: dict[str, float] | None = None,
    instance_counts: dict[str, int] | None = None,
) -> list[EndpointInfo]:
    """Make a live change; return every state seen until InService (the call's answer first),
    after requests kept flowing during it."""
    before = load.snapshot().total
    seen = [client.update_traffic(ENDPOINT, weights, instance_counts)]
    seen.append(client.wait_for_endpoint(ENDPOINT, timeout=60, on_poll=seen.append))
    load.wait_for(before + 200)  # traffic crossed the change
    return seen


def test_a_weight_change_fails_no_request(client: Client, load: LoadProcess):
    seen = apply_and_watch(client, load, weights={"A": 0.2, "B": 0.8})

    updating = seen[0]
    assert updating["status"] == "Updating"
    assert variant(updating, "A") == {
        "name": "A", "current_weight": 0.5, "desired_weight": 0.2,
        "current_instance_count": 1, "desired_instance_count": 1,
    }  # fmt: skip
    final = seen[-1]
    assert final["status"] == "InService"
    assert variant(final, "A")["current_weight"] == 0.2
    assert variant(final, "B")["current_weight"] == 0.8

    result = load.stop()
    assert result.failed == 0, result.describe()
    assert set(result.by_variant) == {"A", "B"}


def test_instance_count_changes_fail_no_request(client: Client, load: LoadProcess):
    # B carries most of the traffic (0.8 after the test above), so the instance drained on
    # the way back has requests in flight when it leaves.
    seen = apply_and_watch(client, load, instance_counts={"B": 2})
    assert any(
        e["status"] == "Updating"
        and variant(e, "B")["current_instance_count"] == 1
        and variant(e, "B")["desired_instance_count"] == 2
        for e in seen
    ), [e["status"] for e in seen]
    scaled = seen[-1]
    assert variant(scaled, "B")["current_instance_count"] == 2
    assert [i["ready"] for i in instances_of(scaled, "B")] == [True, True]

    seen = apply_and_watch(client, load, instance_counts={"B": 1})
    assert any(
        e["status"] == "Updating"
        and variant(e, "B")["current_instance_count"] == 2
        and variant(e, "B")["desired_instance_count"] == 1
        for e in seen
    ), [e["status"] for e in seen]
    back = seen[-1]
    assert variant(back, "B")["current_instance_count"] == 1
    assert len(instances_of(back, "B")) == 1

    result = load.stop()
    assert result.failed == 0, result.describe()
    assert set(result.by_variant) == {"A", "B"}
