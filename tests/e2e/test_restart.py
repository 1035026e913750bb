"""After `turnout serve` restarts on the same store, every endpoint comes back InService with
the same config, weights and instance counts, and answers; after a graceful stop and after
SIGKILL; on SQLite and on PostgreSQL. A killed server takes its instances with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import binom

from tests.conftest import Artifacts
from tests.store.postgres import fresh_database
from tests.support.endpoints import VariantOf, deploy_endpoint, poll_until
from tests.support.models import digits_rows
from tests.support.processes import SeenProcess, still_alive
from turnout.cli.background import BackgroundServer
from turnout.client import Client, EndpointInfo

pytestmark = pytest.mark.e2e

ROWS, LABELS = digits_rows(2)
SPLIT_REQUESTS = 200
# What must survive a restart: per variant, weights and instance counts, current and desired.
State = dict[str, Any]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module (dropped at the end)."""
    with fresh_database("turnout_restart") as url:
        yield url.render_as_string(hide_password=False)


def state(endpoint: EndpointInfo) -> State:
    return {
        "config": endpoint["config"],
        "pending_config": endpoint["pending_config"],
        "created_at": endpoint["created_at"],
        "variants": {
            v["name"]: (
                v["current_weight"], v["desired_weight"],
                v["current_instance_count"], v["desired_instance_count"],
            )
            for v in endpoint["variants"]
        },
    }  # fmt: skip


def wait_ready(client: Client, name: str, wanted: dict[str, int]) -> None:
    """An endpoint is InService from the start (as stored); its instances come up behind it."""

    def ready() -> dict[str, int]:
        endpoint = client.describe_endpoint(name)
        return {v["name"]: sum(i["ready"] for i in v["instances"]) for v in endpoint["variants"]}

    poll_until(ready, lambda counts: counts == wanted, 120, f"{name}: instances ready")


def instance_processes(client: Client) -> set[SeenProcess]:
    return {
        SeenProcess.of(i["pid"])
        for e in client.list_endpoints()
        for v in e["variants"]
        for i in v["instances"]
        if i["pid"] is not None
    }


def deploy(client: Client, artifacts: Artifacts) -> dict[str, State]:
    """Two endpoints: one at non-default weights, one whose traffic changed live."""
    deploy_endpoint(
        client, "fixed",
        [VariantOf("A", artifacts.sklearn, weight=0.7),
         VariantOf("B", artifacts.sklearn_slow_learner, weight=0.3)],
    )  # fmt: skip
    deploy_endpoint(
        client, "live",
        [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn_slow_learner)],
    )  # fmt: skip
    client.update_traffic("live", {"A": 0.2, "B": 0.8}, {"B": 2})
    client.wait_for_endpoint("live", timeout=120)
    states = {name: state(client.describe_endpoint(name)) for name in ("fixed", "live")}
    assert states["fixed"]["variants"] == {"A": (0.7, 0.7, 1, 1), "B": (0.3, 0.3, 1, 1)}
    assert states["live"]["variants"] == {"A": (0.2, 0.2, 1, 1), "B": (0.8, 0.8, 2, 2)}
    return states


def assert_back(server: BackgroundServer, before: dict[str, State], old: set[SeenProcess]) -> None:
    """Every endpoint is InService as it was, on new instances, and routes by its weights."""
    with Client(server.url, timeout=30) as client:
        assert sorted(e["name"] for e in client.list_endpoints()) == sorted(before)
        for name, expected in before.items():
            endpoint = client.wait_for_endpoint(name, timeout=120)
            assert state(endpoint) == expected, name
            wait_ready(client, name, {v: n[3] for v, n in expected["variants"].items()})
            for variant in expected["variants"]:
                answer = client.invoke(name, ROWS, target_variant=variant)
                assert (answer.variant, answer.json()) == (variant, LABELS)
        assert not instance_processes(client) & old, "instances from before the restart"
        # The rebuilt routing table follows the stored weights (B has 0.8 of "live").
        served = [client.invoke("live", ROWS).variant for _ in range(SPLIT_REQUESTS)]
    low, high = binom.interval(0.999, SPLIT_REQUESTS, 0.8)
    assert set(served) == {"A", "B"}
    assert low <= served.count("B") <= high, f"B got {served.count('B')} of {SPLIT_REQUESTS}"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_endpoints_survive_restarts(
    backend: str, artifacts: Artifacts, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    args = ("--db", request.getfixturevalue("postgres_url")) if backend == "postgres" else ()
    data_dir = tmp_path / "serve"

    first = BackgroundServer(data_dir, extra_args=args).start()
    try:
        with Client(first.url, timeout=30) as client:
            before = deploy(client, artifacts)
            instances = instance_processes(client)
        assert len(instances) == 5
    finally:
        # A graceful stop exits 0; -SIGKILL would mean it hung and had to be killed.
        status = first.stop()
        assert status == 0, f"stop gave {status}: {first.log_tail(20)}"
    assert not still_alive(instances, timeout=10), "a graceful stop left instances running"

    second = BackgroundServer(data_dir, extra_args=args).start()
    try:
        assert_back(second, before, instances)
        with Client(second.url, timeout=30) as client:
            instances = instance_processes(client)
    finally:
        second.kill()  # as a crash would
    # PR_SET_PDEATHSIG: the kernel ends the instances of a server that died.
    assert not still_alive(instances, timeout=15), "instances outlived their killed server"

    with BackgroundServer(data_dir, extra_args=args) as third:
        assert_back(third, before, instances)
