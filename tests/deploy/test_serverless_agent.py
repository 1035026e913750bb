"""The node agent and a serverless variant (ADR 0038), over a real SQLite store and router
with an instance backend that starts nothing but records what it is asked: no instance while
idle, one started on the router's demand (its cold start counted as ModelSetupTime) and
routed, stopped again once the variant's gate has been idle, started again on demand."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from turnout.deploy.agent import NodeAgent
from turnout.domain.plans import RoutingPlan, fleet_plan, serverless_variants
from turnout.domain.resources import (
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Model,
    ProductionVariant,
    ServerlessConfig,
    VariantState,
)
from turnout.domain.rollups import VariantKey
from turnout.instances.backend import (
    Address,
    Instance,
    InstanceSpec,
    InstanceStartFailed,
    InstanceState,
)
from turnout.instances.usage import Usage
from turnout.routing.router import Router, RouterLimits
from turnout.store import Store
from turnout.store.cluster import ClusterStore

KEY = VariantKey("ep", "cfg", "S")
IDLE = 0.3  # s


class StubInstance:
    """Starts at once (or fails to) after `delay` s; serves nothing."""

    def __init__(self, spec: InstanceSpec, delay: float, fail: bool) -> None:
        self.spec = spec
        self.state = InstanceState.STARTING
        self.address = Address.unix("/nonexistent")
        self.pid: int | None = None
        self.restarts = 0
        self.last_error: str | None = None
        self.log = "-"
        self.placement: str | None = None
        self.usage: Sequence[Usage] = ()
        self._delay, self._fail = delay, fail

    @property
    def ready(self) -> bool:
        return self.state is InstanceState.READY

    async def wait_started(self) -> None:
        if self.state is InstanceState.STARTING:
            await asyncio.sleep(self._delay)
            self.state = InstanceState.FAILED if self._fail else InstanceState.READY
        if self.state is InstanceState.FAILED:
            self.last_error = "the model would not load"
            raise InstanceStartFailed(self.last_error)

    def report_unresponsive(self, reason: str) -> None:
        pass


class StubBackend:
    def __init__(self) -> None:
        self.started: list[StubInstance] = []
        self.stopped: list[Instance] = []
        self.fail_next = False

    def start(self, spec: InstanceSpec) -> Instance:
        instance = StubInstance(spec, 0.05, self.fail_next)
        self.fail_next = False
        self.started.append(instance)
        return instance

    def instances(self) -> list[Instance]:
        return [i for i in self.started if i not in self.stopped]

    async def stop(self, instance: Instance) -> None:
        self.stopped.append(instance)

    async def close(self) -> None:
        pass


def serverless_store(path: Path, provisioned: int | None) -> tuple[Store, ClusterStore]:
    store = Store.open(f"sqlite:///{path / 'turnout.db'}")
    store.add_model(Model("m", "/models/m"))
    config = EndpointConfig(
        "cfg", (ProductionVariant("S", "m", serverless=ServerlessConfig(1024, 2, provisioned)),)
    )
    store.add_endpoint_config(config)
    store.add_endpoint(
        Endpoint("ep", "cfg", EndpointStatus.IN_SERVICE, (VariantState("S", 1.0, 1, 1.0, 1),))
    )
    cluster = ClusterStore(store)
    fleet = fleet_plan("cfg", 1.0, {"S": 1.0}, {"S": 1}, (), serverless_variants(config))
    cluster.write_plan(RoutingPlan("ep", 0, (fleet,), serving=True), at=time.time())
    return store, cluster


async def until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        await asyncio.sleep(0.01)


def routed(router: Router) -> int:
    """Instances the router's table sends the serverless variant's requests to."""
    route = router.table.endpoints.get("ep")
    return -1 if route is None else len(route.routes[0].upstreams)


@contextlib.asynccontextmanager
async def agent_running(
    tmp_path: Path, provisioned: int | None
) -> AsyncIterator[tuple[StubBackend, Router, NodeAgent]]:
    """A node agent applying the serverless endpoint's plan, its backend and its router."""
    store, cluster = serverless_store(tmp_path, provisioned)
    backend = StubBackend()
    router = Router(RouterLimits(), "123456789012")
    agent = NodeAgent(
        "n1", "http://127.0.0.1:1", store, cluster, backend, "local", router,
        drain_timeout=1.0, tick=0.05, serverless_idle=IDLE,
    )  # fmt: skip
    running = asyncio.create_task(agent.run())
    try:
        yield backend, router, agent
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        store.close()


async def scenario(tmp_path: Path) -> None:
    async with agent_running(tmp_path, None) as (backend, router, agent):
        await until(lambda: routed(router) == 0, "the endpoint routed with no instance")
        await asyncio.sleep(3 * IDLE)  # idle for longer than the idle time: nothing starts
        assert backend.started == []
        assert agent.report().applied == {"ep": 1}

        # A request finds no instance: the router asks; a second ask while it starts is one.
        gate = router.gates[KEY]
        assert gate.enter(time.monotonic())
        router.on_demand and router.on_demand(KEY)
        router.on_demand and router.on_demand(KEY)
        await until(lambda: routed(router) == 1, "the on-demand instance routed")
        assert len(backend.started) == 1 and backend.started[0].ready
        setup = router.metrics[KEY].window.model_setup
        assert setup.count == 1 and setup.total > 0

        await asyncio.sleep(2 * IDLE)  # a request in flight: it stays
        assert backend.stopped == [] and routed(router) == 1
        gate.leave(time.monotonic())
        await until(lambda: backend.stopped == backend.started, "the idle instance stopped")
        assert routed(router) == 0 and agent.instances("ep") == ()

        # Demand again: a new instance (a new cold start); one that fails is forgotten.
        backend.fail_next = True
        assert router.on_demand is not None
        router.on_demand(KEY)
        await until(lambda: len(backend.started) == 2, "a second start")
        await until(lambda: backend.started[1] in backend.stopped, "the failed one stopped")
        router.on_demand(KEY)
        await until(lambda: routed(router) == 1, "the third start routed")
        assert router.metrics[KEY].window.model_setup.count == 2


def test_a_serverless_variant_starts_on_demand_and_stops_when_idle(tmp_path: Path) -> None:
    asyncio.run(scenario(tmp_path))


def test_provisioned_concurrency_keeps_one_warm(tmp_path: Path) -> None:
    async def warm() -> None:
        async with agent_running(tmp_path, 1) as (backend, router, _):
            await until(lambda: routed(router) == 1, "the warm instance routed")
            router.gates[KEY].enter(time.monotonic())
            assert router.on_demand is not None
            router.on_demand(KEY)  # at most one per node: nothing more starts
            router.gates[KEY].leave(time.monotonic())
            await asyncio.sleep(4 * IDLE)
            assert len(backend.started) == 1 and backend.stopped == []
            assert routed(router) == 1

    asyncio.run(warm())
