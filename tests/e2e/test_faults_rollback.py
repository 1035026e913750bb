"""`kill -9` of `turnout serve` in the middle of a rollback (ADR 0033).

A guarded blue/green deployment is rolled back on request while green's instance refuses
to stop (it ignores SIGTERM: the rollback waits out the stop grace), and the server is
killed with SIGKILL while the deployment is RollingBack. Then:

- green's instance process does not outlive the killed server (the lifeline's SIGKILL: a
  SIGTERM, which it ignores, would leave it running for good);
- a new `turnout serve` on the same data directory finishes the rollback: the deployment
  is RolledBack, the endpoint InService on blue's config, every request answered by blue,
  and no green instance runs.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Artifacts
from tests.e2e.test_deployments import add_green, canary
from tests.support.endpoints import VariantOf, deploy_endpoint, finished, poll_until
from tests.support.models import digits_rows, make_command_model
from tests.support.processes import SeenProcess, still_alive
from turnout.cli.background import BackgroundServer
from turnout.client import Client, DeploymentInfo

pytestmark = pytest.mark.e2e

ROWS, LABELS = digits_rows(1)
NAME = "rollback-killed"


def current(client: Client) -> DeploymentInfo | None:
    return client.deployments(NAME)["current"]


def instances(client: Client, server: BackgroundServer) -> list[dict[str, Any]]:
    """The endpoint's instances as `server`'s node reports them (with their config)."""
    return [
        dict(i)
        for node in client.nodes()["nodes"]
        if node["url"] == server.url
        for i in node["instances"]
        if i["endpoint"] == NAME
    ]


def green_processes(client: Client, server: BackgroundServer, green: str) -> set[SeenProcess]:
    return {
        SeenProcess.of(i["pid"])
        for i in instances(client, server)
        if i["config"] == green and i["pid"] is not None
    }


def test_a_restart_finishes_a_rollback_interrupted_by_kill_9(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    stubborn = make_command_model(tmp_path / "stubborn", ignore_sigterm=True)
    data_dir = tmp_path / "serve"
    first = BackgroundServer(data_dir).start()
    try:
        with Client(first.url, timeout=30) as client:
            deploy_endpoint(client, NAME, [VariantOf("A", artifacts.sklearn)])
            green = add_green(client, NAME, "B", stubborn)
            client.update_endpoint(NAME, green, canary(50, bake=600))
            poll_until(
                lambda: current(client),
                lambda d: d is not None and d["phase"] == "Baking" and d["green_share"] == 0.5,
                120, f"{NAME}: baking the canary",
            )  # fmt: skip
            greens = green_processes(client, first, green)
            assert len(greens) == 1, greens
            client.request_deployment(NAME, "rollback")
            # Green ignores SIGTERM: its stop takes the whole grace (10 s), in RollingBack.
            rolling = poll_until(
                lambda: current(client),
                lambda d: d is not None and d["phase"] == "RollingBack",
                30, f"{NAME}: rolling back",
            )  # fmt: skip
    finally:
        first.kill()
    assert rolling is not None and rolling["phase"] == "RollingBack"
    # The lifeline: an instance dies with its server, even one that ignores SIGTERM.
    survivors = still_alive(greens, timeout=10)
    for orphan in survivors:  # leave no process behind, even when failing
        os.kill(orphan.pid, signal.SIGKILL)
    assert not survivors, "green's instance outlived its killed server"

    with BackgroundServer(data_dir) as second, Client(second.url, timeout=30) as client:
        deployment = finished(client, NAME)
        endpoint = client.wait_for_endpoint(NAME, timeout=60)
        answers = [client.invoke(NAME, ROWS) for _ in range(20)]
        assert not green_processes(client, second, green), "green instances after the rollback"
        running = {(i["config"], i["variant"]) for i in instances(client, second)}
    assert deployment["phase"] == "RolledBack", deployment
    assert deployment["id"] == rolling["id"]
    kinds = [e["kind"] for e in deployment["events"]]
    assert kinds[: len(rolling["events"])] == [e["kind"] for e in rolling["events"]], kinds
    assert kinds[-1] == "rolled-back", kinds
    assert endpoint["status"] == "InService"
    assert (endpoint["config"], endpoint["pending_config"]) == (f"{NAME}-config", None)
    assert running == {(f"{NAME}-config", "A")}
    assert {(a.variant, str(a.json())) for a in answers} == {("A", str(LABELS))}
