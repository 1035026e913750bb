"""The controller and the node agent never wait on the store on the event loop (DESIGN
"Seams" 5): creating an endpoint that captures data reads its config, fleets and capture
settings in threads, and the route it publishes still captures."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from turnout import server
from turnout.domain.resources import (
    DataCapture,
    EndpointConfig,
    EndpointStatus,
    Model,
    ProductionVariant,
)
from turnout.instances import backends
from turnout.instances.backend import Address, Instance, InstanceSpec, InstanceState
from turnout.instances.usage import Usage
from turnout.settings import Settings
from turnout.store import Store


class ReadyInstance:
    """An instance that is ready at once and runs nothing."""

    def __init__(self, spec: InstanceSpec) -> None:
        self.spec = spec
        self.address = Address.tcp("127.0.0.1", 9)
        self.state = InstanceState.READY
        self.ready = True
        self.pid: int | None = None
        self.restarts = 0
        self.last_error: str | None = None
        self.log = ""
        self.placement: str | None = None
        self.usage: Sequence[Usage] = ()

    async def wait_started(self) -> None:
        return None

    def report_unresponsive(self, reason: str) -> None:
        pass


class ReadyBackend:
    def __init__(self, *args: object) -> None:
        self._instances: dict[str, Instance] = {}

    def start(self, spec: InstanceSpec) -> Instance:
        instance = self._instances[spec.id] = ReadyInstance(spec)
        return instance

    def instances(self) -> list[Instance]:
        return list(self._instances.values())

    async def stop(self, instance: Instance) -> None:
        self._instances.pop(instance.spec.id, None)

    async def close(self) -> None:
        self._instances.clear()


class WatchedStore:
    """The real store; each call made on an event loop's thread is written down."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.on_loop: list[str] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if not callable(found):
            return found

        @functools.wraps(found)
        def call(*args: Any, **kwargs: Any) -> Any:
            if _on_loop_thread():
                self.on_loop.append(f"{name} in thread {threading.current_thread().name}")
            return found(*args, **kwargs)

        return call


def _on_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> list[WatchedStore]:
    stores: list[WatchedStore] = []
    real_open: Callable[[str], Store] = server.open_store

    def open_watched(url: str) -> Store:
        stores.append(WatchedStore(real_open(url)))
        return stores[-1]  # type: ignore[return-value]

    monkeypatch.setattr(server, "open_store", open_watched)
    monkeypatch.setattr(backends, "LocalBackend", ReadyBackend)
    return stores


async def test_publishing_a_capturing_endpoint_reads_the_store_only_in_threads(
    watched: list[WatchedStore], tmp_path: Path
) -> None:
    runtime = server.Runtime(Settings(data_dir=tmp_path))
    store = watched[0]
    control = runtime.control
    capture = DataCapture(destination=(tmp_path / "capture").as_uri(), sampling_percentage=100)
    await asyncio.to_thread(
        control.create_model, Model("m", str(tmp_path), "command"), check_artifact=False
    )
    config = EndpointConfig("cfg", (ProductionVariant("A", "m"),), data_capture=capture)
    await asyncio.to_thread(control.create_endpoint_config, config)
    await asyncio.to_thread(control.create_endpoint, "ep", "cfg")
    running = [
        asyncio.create_task(runtime.agent.run()),
        asyncio.create_task(runtime.controller.run()),
    ]
    try:
        for _ in range(500):
            endpoint = await asyncio.to_thread(control.describe_endpoint, "ep")
            if endpoint.status is EndpointStatus.IN_SERVICE:
                break
            await asyncio.sleep(0.01)
        assert endpoint.status is EndpointStatus.IN_SERVICE
        route = runtime.router.table.endpoints["ep"].routes[0]
        assert route.capture is not None and route.capture.fraction == 1.0
        described = await asyncio.to_thread(control.data_capture, "ep")
        assert described is not None and described[1].started
        assert store.on_loop == []
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await runtime.agent.close()
        runtime.router.close()
        runtime.store.close()
