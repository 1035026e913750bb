"""Two `turnout serve` processes (routers) on one PostgreSQL database (ADR 0019).

Both serve the endpoint by the same weights and assign a user the same variant; their
counters add up, in the store, to exactly what the load generator counted; an alarm fires
once; and a canary deployment started through router 1 finishes when router 1 is killed
with -9 mid-bake: router 2 takes the controller lease over within the lease time, resumes
the same deployment from the store and fails no request meanwhile.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from scipy.stats import binom

from tests.conftest import Artifacts
from tests.e2e.test_deployments import add_green, canary, finished
from tests.store.postgres import fresh_database
from tests.support.endpoints import VariantOf, deploy_endpoint, poll_until
from tests.support.load import LoadProcess
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer, ServerDidNotStart
from turnout.client import Client

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

LEASE_S = 3.0
NAME = "shared"
ROWS, LABELS = digits_rows(1)
CONFIDENCE = 0.9999  # two-sided binomial bounds per check


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with fresh_database("turnout_scale") as url:
        yield url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def routers(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BackgroundServer, BackgroundServer]]:
    def start(node: str) -> BackgroundServer:
        args = ("--db", database, "--node", node, "--lease-seconds", str(LEASE_S))
        return BackgroundServer(tmp_path_factory.mktemp(node), extra_args=args).start()

    one = start("r1")
    try:
        # r1 leads: it is up (and holds the lease) before r2 starts.
        with Client(one.url) as client:
            poll_until(client.nodes, lambda n: n["controller"] is not None, 10, "a controller")
        two = start("r2")
        try:
            with Client(two.url) as client:  # a node answering has reported itself
                assert {n["name"] for n in client.nodes()["nodes"]} == {"r1", "r2"}
            yield one, two
        finally:
            two.stop()
    finally:
        one.stop()


@pytest.fixture(scope="module")
def deployed(routers: tuple[BackgroundServer, BackgroundServer], artifacts: Artifacts) -> None:
    one, _ = routers
    with Client(one.url, timeout=30) as client:
        deploy_endpoint(
            client,
            NAME,
            [VariantOf("A", artifacts.sklearn, weight=3.0), VariantOf("B", artifacts.sklearn)],
        )


def within(count: int, total: int, share: float) -> bool:
    low, high = binom.interval(CONFIDENCE, total, share)
    return bool(low <= count <= high)


def test_both_routers_run_their_instances_and_agree_on_the_controller(
    routers: tuple[BackgroundServer, BackgroundServer], deployed: None
) -> None:
    one, two = routers
    with Client(two.url) as client:
        installation = client.nodes()
    nodes = {n["name"]: n for n in installation["nodes"]}
    assert installation["controller"] is not None
    assert installation["controller"]["holder"] == "r1"
    assert {"r1", "r2"} <= set(nodes)
    for name, server in (("r1", one), ("r2", two)):
        node = nodes[name]
        assert node["alive"] and node["url"] == server.url
        mine = [i for i in node["instances"] if i["endpoint"] == NAME]
        assert sorted(i["variant"] for i in mine) == ["A", "B"]
        assert all(i["state"] == "Ready" for i in mine), mine
    assert nodes["r1"]["applied"][NAME] == nodes["r2"]["applied"][NAME]


def test_a_second_process_cannot_take_a_running_nodes_name(
    routers: tuple[BackgroundServer, BackgroundServer],
    database: str,
    tmp_path: Path,
) -> None:
    args = ("--db", database, "--node", "r2")
    with pytest.raises(ServerDidNotStart) as refused:
        BackgroundServer(tmp_path / "r2-again", extra_args=args, timeout=30).start()
    assert "node r2 is already running" in str(refused.value)
    assert "another name with --node" in str(refused.value)


def test_load_through_both_follows_the_weights_and_metrics_sum_exactly(
    routers: tuple[BackgroundServer, BackgroundServer], deployed: None, tmp_path: Path
) -> None:
    one = routers[0]
    sent = 1200
    loads = [
        LoadProcess(tmp_path / f"load-{i}.json", r.url, NAME, concurrency=4, requests=sent)
        for i, r in enumerate(routers)
    ]
    for load in loads:
        load.start()
    results = [load.finish() for load in loads]
    for result in results:
        assert (result.total, result.failed) == (sent, 0), result.describe()
        assert within(result.by_variant.get("A", 0), sent, 0.75), result.by_variant

    # Each router flushes its counts every 10 s period; once both have, the store holds all.
    def invocations() -> dict[str, float]:
        with Client(one.url) as client:
            summary = client.metrics_summary(NAME, since=600)
        return {
            v["variant"]: v["metrics"].get("Invocations", {}).get("Sum", 0.0)
            for v in summary["variants"]
        }

    expected = {
        variant: float(sum(r.by_variant.get(variant, 0) for r in results)) for variant in ("A", "B")
    }
    counted = poll_until(invocations, lambda c: c == expected, 30, "both routers' counts")
    assert counted == expected


def test_a_user_gets_the_same_variant_from_either_router(
    routers: tuple[BackgroundServer, BackgroundServer], deployed: None
) -> None:
    users = [f"user-{i}" for i in range(200)]
    seen: list[dict[str, str]] = []
    for router in routers:
        with httpx.Client(base_url=router.url, timeout=30) as http:
            assigned = {}
            for user in users:
                response = http.post(
                    f"/endpoints/{NAME}/invocations",
                    json=ROWS,
                    headers={"X-Turnout-User": user},
                )
                assert response.status_code == 200, response.text
                assigned[user] = response.headers["x-amzn-invoked-production-variant"]
            seen.append(assigned)
    assert seen[0] == seen[1]
    assert within(list(seen[0].values()).count("A"), len(users), 0.75)


def test_an_alarm_fires_once_not_once_per_router(
    routers: tuple[BackgroundServer, BackgroundServer], deployed: None, tmp_path: Path
) -> None:
    one, two = routers
    with Client(two.url) as client:
        client.create_alarm("busy", NAME, "Invocations", "Sum", 50, "GreaterThanThreshold")
        with (
            LoadProcess(tmp_path / "a.json", one.url, NAME, concurrency=2, requests=400),
            LoadProcess(tmp_path / "b.json", two.url, NAME, concurrency=2, requests=400),
        ):
            poll_until(
                lambda: client.describe_alarm("busy"),
                lambda a: a["state"] == "ALARM",
                30, "the alarm in ALARM",
            )  # fmt: skip
        time.sleep(3 * 1.0)  # three more evaluations by whichever node evaluates
        history = client.describe_alarm("busy")["history"]
        client.delete_alarm("busy")
    into_alarm = [h for h in history if h["new_state"] == "ALARM"]
    assert len(into_alarm) == 1, history


def test_a_canary_finishes_when_router_1_is_killed_mid_bake(
    routers: tuple[BackgroundServer, BackgroundServer],
    deployed: None,
    artifacts: Artifacts,
    tmp_path: Path,
) -> None:
    one, two = routers
    with Client(one.url, timeout=30) as client:
        green = add_green(client, NAME, "C", artifacts.sklearn_slow_learner)
    with (
        Client(two.url, timeout=30) as client,
        LoadProcess(tmp_path / "load.json", two.url, NAME, concurrency=4, duration=120) as load,
    ):
        load.wait_for(200)
        with Client(one.url, timeout=30) as first:
            first.update_endpoint(NAME, green, canary(50, bake=10))
        poll_until(
            lambda: client.deployments(NAME)["current"],
            lambda d: d is not None and d["phase"] == "Baking" and d["green_share"] == 0.5,
            120, "baking the canary",
        )  # fmt: skip
        before = client.deployments(NAME)["current"]
        assert before is not None
        assert one.process is not None
        os.kill(one.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        one.process.wait(10)
        poll_until(
            client.nodes,
            lambda n: n["controller"] is not None and n["controller"]["holder"] == "r2",
            2 * LEASE_S + 5, "r2 holding the controller lease",
        )  # fmt: skip
        took_over_in = time.monotonic() - killed_at
        deployment = finished(client, NAME)
        load.wait_for(load.snapshot().total + 200)  # green serves on r2 alone now
        result = load.stop()
        endpoint = client.wait_for_endpoint(NAME, timeout=60)
        answer = client.invoke(NAME, ROWS)

    # The lease lapses at most LEASE_S after the last renewal; r2 tries every LEASE_S / 5.
    assert took_over_in <= LEASE_S + LEASE_S / 5 + 1.0, took_over_in
    assert result.failed == 0, result.describe()
    assert result.by_variant.get("C", 0) > 0, result.by_variant
    assert deployment["phase"] == "Succeeded", deployment
    assert deployment["id"] == before["id"]
    assert deployment["events"][: len(before["events"])] == before["events"], "history lost"
    assert (endpoint["config"], answer.variant, answer.json()) == (green, "C", LABELS)
