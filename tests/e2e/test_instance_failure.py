"""A dying instance costs at most the requests in flight on it: the variant keeps answering
from its other instance, and the supervisor brings the dead one back."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf, instances_of, poll_until
from tests.support.impostor import impostor
from tests.support.load import LoadProcess
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client, InstanceInfo, ModelError

pytestmark = pytest.mark.e2e

CONCURRENCY = 8
RECOVERY_TIMEOUT = 60.0
MEMORY_LIMIT_MB = 400  # a worker with sklearn loaded holds ~130 MB


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    return ("--instance-memory-limit", str(MEMORY_LIMIT_MB))


def instance(client: Client, endpoint: str, variant: str, instance_id: str) -> InstanceInfo:
    found = instances_of(client.describe_endpoint(endpoint), variant)
    return next(i for i in found if i["id"] == instance_id)


def wait_until_back(client: Client, endpoint: str, variant: str, dead: InstanceInfo) -> None:
    """Poll until the instance runs again: a new process, ready, one restart more."""
    back = poll_until(
        lambda: instance(client, endpoint, variant, dead["id"]),
        lambda i: i["ready"] and i["pid"] not in (None, dead["pid"]),
        RECOVERY_TIMEOUT,
        f"instance {dead['id']} restarted",
    )
    assert back["state"] == "Ready"
    assert back["restarts"] == dead["restarts"] + 1


@pytest.mark.parametrize("flavor", ["sklearn", "command"])
def test_kill_9_fails_at_most_the_requests_in_flight(
    server: BackgroundServer,
    client: Client,
    deploy: Deploy,
    artifacts: Artifacts,
    tmp_path: Path,
    flavor: str,
):
    # sklearn instances listen on a Unix socket; a command model on a loopback TCP port.
    name = f"kill-{flavor}"
    deploy(name, [VariantOf("A", getattr(artifacts, flavor), instance_count=2)])
    with LoadProcess(
        tmp_path / "load.json", server.url, name, concurrency=CONCURRENCY, duration=120
    ) as load:
        load.wait_for(500)
        victim, survivor = instances_of(client.describe_endpoint(name), "A")
        assert victim["pid"] is not None and victim["ready"]

        os.kill(victim["pid"], signal.SIGKILL)
        at_kill = load.snapshot()
        wait_until_back(client, name, "A", victim)
        at_recovery = load.snapshot()
        load.wait_for(at_recovery.total + 500)  # and it goes on serving after
        result = load.stop()

    # Requests on the killed process die with it (ModelError, original status 0); a
    # request that was not yet sent goes to the other instance. Nothing else fails.
    assert result.failed <= CONCURRENCY, result.describe()
    assert set(result.by_error) <= {"ModelError"}, result.describe()
    assert at_recovery.ok > at_kill.ok, "the variant stopped answering while one instance was down"
    assert instance(client, name, "A", survivor["id"])["pid"] == survivor["pid"]


def test_a_crashing_model_takes_down_only_its_own_instance(
    server: BackgroundServer, client: Client, deploy: Deploy, artifacts: Artifacts
):
    deploy("crash", [VariantOf("F", artifacts.faulty, instance_count=2)])
    deploy("bystander", [VariantOf("A", artifacts.sklearn)])
    bystander = instances_of(client.describe_endpoint("bystander"), "A")[0]
    first, second = instances_of(client.describe_endpoint("crash"), "F")

    with pytest.raises(ModelError) as crashed:
        client.invoke("crash", {"crash": True})
    assert crashed.value.original_status == 0

    # Exactly one of the two instances died: the one the request reached.
    def died(i: InstanceInfo) -> bool:
        now = instance(client, "crash", "F", i["id"])
        return now["pid"] != i["pid"] or not now["ready"]

    dead = poll_until(
        lambda: [i for i in (first, second) if died(i)],
        lambda found: len(found) > 0,
        RECOVERY_TIMEOUT,
        "an instance noticed as dead",
    )
    assert len(dead) == 1
    alive = second if dead[0] is first else first
    wait_until_back(client, "crash", "F", dead[0])
    assert instance(client, "crash", "F", alive["id"])["pid"] == alive["pid"]
    assert instance(client, "crash", "F", alive["id"])["restarts"] == alive["restarts"]
    assert instance(client, "bystander", "A", bystander["id"])["pid"] == bystander["pid"]

    rows, labels = digits_rows(3)
    assert client.invoke("crash", rows).json() == client.invoke("bystander", rows).json()
    assert len(client.invoke("bystander", rows).json()) == len(labels)


def test_a_leaking_model_is_restarted_alone(
    server: BackgroundServer, client: Client, deploy: Deploy, artifacts: Artifacts
):
    deploy("leak", [VariantOf("F", artifacts.faulty, instance_count=2)])
    first, second = instances_of(client.describe_endpoint("leak"), "F")
    # The watchdog samples memory on its own clock: it may end the instance before or after
    # the answer goes out (on a busy machine, allocating takes long enough to straddle a
    # sample). Either is right; what must hold is the restart below.
    try:
        leaked = client.invoke("leak", {"leak_mb": MEMORY_LIMIT_MB + 100}, target_variant="F")
        assert leaked.json() == {"leaked_mb": MEMORY_LIMIT_MB + 100}
    except ModelError as ended:
        assert ended.original_status == 0, ended
        assert "closed the connection" in str(ended), ended

    # Which instance took the request is the router's choice: find the one that restarts.
    def current(i: InstanceInfo) -> InstanceInfo:
        return instance(client, "leak", "F", i["id"])

    restarted = poll_until(
        lambda: [i for i in (first, second) if current(i)["restarts"] > 0],
        lambda found: len(found) > 0,
        RECOVERY_TIMEOUT,
        "the leaking instance restarted",
    )
    assert len(restarted) == 1
    assert "memory limit exceeded" in (current(restarted[0])["last_error"] or "")
    wait_until_back(client, "leak", "F", restarted[0])
    untouched = second if restarted[0] is first else first
    assert current(untouched)["pid"] == untouched["pid"]
    assert current(untouched)["restarts"] == 0


def test_a_model_error_does_not_restart_the_instance(
    server: BackgroundServer, client: Client, deploy: Deploy, artifacts: Artifacts
):
    deploy("raises", [VariantOf("F", artifacts.faulty)])
    before = instances_of(client.describe_endpoint("raises"), "F")[0]
    response = httpx.post(
        f"{server.url}/endpoints/raises/invocations",
        content=json.dumps({"raise": "boom"}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 424
    after = instances_of(client.describe_endpoint("raises"), "F")[0]
    assert (after["pid"], after["restarts"], after["ready"]) == (before["pid"], 0, True)


def test_a_command_instance_whose_port_is_taken_while_down_comes_back_elsewhere(
    server: BackgroundServer, client: Client, deploy: Deploy, artifacts: Artifacts
) -> None:
    """The router follows the instance to its new port, never to the port's new owner."""
    name = "port-taken"
    deploy(name, [VariantOf("A", artifacts.command)])
    [victim] = instances_of(client.describe_endpoint(name), "A")
    old_port = listening_port(victim["pid"])
    assert client.invoke(name, [1]).json() == {"echo": [1]}
    os.kill(victim["pid"], signal.SIGKILL)
    with contextlib.ExitStack() as held:
        for _ in range(200):  # another process takes the port as soon as it is free
            try:
                held.enter_context(impostor(old_port))
                break
            except OSError:
                time.sleep(0.01)
        else:
            pytest.fail(f"port {old_port} stayed in use after the kill")
        wait_until_back(client, name, "A", victim)
        [back] = instances_of(client.describe_endpoint(name), "A")
        assert listening_port(back["pid"]) != old_port
        answers = [client.invoke(name, [i]).json() for i in range(20)]
    assert answers == [{"echo": [i]} for i in range(20)]


def listening_port(pid: int | None) -> int:
    assert pid is not None
    ports = {
        c.laddr.port
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }
    assert len(ports) == 1, ports
    return ports.pop()
