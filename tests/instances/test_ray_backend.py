"""The Ray backend against a real two-node Ray cluster on loopback (tests/support/ray_cluster):
instances spread over the nodes and answer at their node's address, reserve their instance
type, restart when the router reports them unresponsive, follow their actor when Ray
restarts it, fail when no node can take them, and end with their actor; `turnout serve`
explains in one line a cluster it cannot reach."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.cli.conftest import one_error_line
from tests.support.models import digits_rows, make_command_model, make_sklearn_model
from tests.support.processes import SeenProcess, still_alive
from tests.support.ray_cluster import RayCluster
from turnout.cli.background import free_port
from turnout.domain.resources import Model
from turnout.instances.backend import Instance, InstanceSpec, InstanceStartFailed
from turnout.instances.backends import BackendError
from turnout.instances.supervisor import HealthPolicy

ray = pytest.importorskip(
    "ray", reason="the Ray backend needs Ray: pip install 'turnout[ray]' (turnout[test] has it)"
)

from turnout.instances.ray.backend import RayBackend  # noqa: E402  (needs ray)
from turnout.instances.ray.cluster import connect  # noqa: E402

ROWS, LABELS = digits_rows(2)
START = 90  # s: an actor's worker process and the model's, on 2 busy cores


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    with RayCluster(tmp_path_factory.mktemp("ray")) as running:
        connect(running.address)  # this test process is the Ray driver
        try:
            yield running
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def sklearn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sklearn_model(tmp_path_factory.mktemp("sklearn"))


@pytest.fixture
async def backend(cluster: RayCluster, tmp_path: Path) -> AsyncIterator[RayBackend]:
    running = RayBackend(tmp_path, HealthPolicy(startup_timeout=60, ping_interval=0.5), 10**6)
    yield running
    await running.close()


def spec(artifact: Path, index: int = 0, instance_type: str | None = None) -> InstanceSpec:
    model = Model("digits", str(artifact))
    return InstanceSpec("ep", "ep-config", "A", index, model, instance_type)


async def invoke(instance: Instance, body: object) -> object:
    address = instance.address
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(f"http://{address.host}:{address.port}/invocations", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def reserved() -> tuple[float, float]:
    """CPUs and GiB of memory the cluster's actors hold now."""
    total, free = ray.cluster_resources(), ray.available_resources()
    return total["CPU"] - free.get("CPU", 0), (total["memory"] - free.get("memory", 0)) / 2**30


async def until(check: Callable[[], bool], timeout: float = START) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_instances_spread_over_the_nodes_reserve_their_type_and_answer(
    cluster: RayCluster, backend: RayBackend, sklearn: Path
) -> None:
    a, b = (backend.start(spec(sklearn, i, "ml.m5.large")) for i in (1, 2))
    await asyncio.wait_for(asyncio.gather(a.wait_started(), b.wait_started()), START)
    assert {a.address.host, b.address.host} == set(cluster.ips)
    assert a.placement != b.placement
    assert {a.placement, b.placement} <= {node["NodeID"] for node in ray.nodes()}
    assert [await invoke(i, ROWS) for i in (a, b)] == [LABELS, LABELS]
    # ml.m5.large: 2 vCPUs, 8 GiB each, out of 2 x 8 CPUs and 2 x 16 GiB.
    await until(lambda: reserved() == (4, 16), timeout=10)
    assert a.log.startswith(f"{a.address.host}:") and a.log.endswith("ep/ep-config/A-1.log")
    assert a.pid is not None and a.restarts == 0 and a.last_error is None
    await until(lambda: bool(a.usage), timeout=10)  # sampled on its node, every 0.5 s here
    assert a.usage[-1].memory_bytes > 0


async def test_an_instance_reported_unresponsive_restarts_on_its_node(
    backend: RayBackend, sklearn: Path
) -> None:
    instance = backend.start(spec(sklearn))
    await asyncio.wait_for(instance.wait_started(), START)
    before, node = SeenProcess.of(instance.pid or 0), instance.placement
    instance.report_unresponsive("no answer within the model timeout")
    assert not instance.ready
    await until(lambda: instance.ready)
    assert instance.restarts == 1 and "unresponsive" in (instance.last_error or "")
    assert instance.placement == node and instance.pid != before.pid
    assert not still_alive([before], 10)
    assert await invoke(instance, ROWS) == LABELS


async def test_when_its_actor_dies_ray_restarts_it_and_the_instance_follows(
    backend: RayBackend, sklearn: Path
) -> None:
    instance = backend.start(spec(sklearn))
    await asyncio.wait_for(instance.wait_started(), START)
    assert instance.pid is not None
    process = SeenProcess.of(instance.pid)
    os.kill(psutil.Process(instance.pid).ppid(), signal.SIGKILL)  # the actor's worker
    assert not still_alive([process], 10), "the instance outlived its actor"
    await until(lambda: not instance.ready, timeout=10)
    await until(lambda: instance.ready)
    assert instance.pid != process.pid and instance.restarts == 1
    assert await invoke(instance, ROWS) == LABELS


async def test_a_command_flavor_program_listens_on_its_nodes_address(
    cluster: RayCluster, backend: RayBackend, tmp_path: Path
) -> None:
    artifact = make_command_model(tmp_path / "echo")
    model = Model("echo", str(artifact), "command", command=(sys.executable, "serve"))
    instance = backend.start(InstanceSpec("ep", "ep-config", "B", 0, model))
    await asyncio.wait_for(instance.wait_started(), START)
    assert instance.address.host in cluster.ips
    assert await invoke(instance, [1]) == {"echo": [1]}


async def test_an_instance_no_node_can_take_fails_to_start(
    cluster: RayCluster, tmp_path: Path, sklearn: Path
) -> None:
    backend = RayBackend(tmp_path, HealthPolicy(startup_timeout=4), 10**6)
    try:
        instance = backend.start(spec(sklearn, 0, "ml.m5.24xlarge"))  # 96 vCPUs
        with pytest.raises(InstanceStartFailed, match="Ray placed no actor"):
            await asyncio.wait_for(instance.wait_started(), 30)
        assert instance.state.value == "Failed"
    finally:
        await backend.close()
    await until(lambda: reserved() == (0, 0), timeout=10)


async def test_stopping_ends_the_process_and_frees_the_resources(
    backend: RayBackend, sklearn: Path
) -> None:
    instance = backend.start(spec(sklearn))
    await asyncio.wait_for(instance.wait_started(), START)
    process = SeenProcess.of(instance.pid or 0)
    await backend.stop(instance)
    assert instance.state.value == "Stopped" and backend.instances() == []
    assert not still_alive([process], 10)
    await until(lambda: reserved() == (0, 0), timeout=10)


def test_connect_says_in_one_line_what_to_do() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(BackendError, match=r"cannot reach the Ray cluster.*ray start --head"):
        connect(f"127.0.0.1:{port}")
    with pytest.raises(BackendError, match="Ray Client addresses are not supported"):
        connect("ray://127.0.0.1:10001")
    with pytest.raises(BackendError, match="HOST:PORT"):
        connect("head-without-port")


def test_serve_with_an_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    argv = [
        sys.executable, "-m", "turnout.cli.main", "serve", "--port", str(free_port()),
        "--data-dir", str(tmp_path), "--backend", "ray", "--ray-address", nowhere,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "cannot reach the Ray cluster" in one_error_line(done.stderr)
