"""A command-flavor instance listens on a loopback TCP port that was free when probed; when
another process holds it by the time the program binds, the instance is not fooled by that
process's /ping and starts again on another port, at first start and after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.impostor import ANSWER, impostor
from tests.support.models import make_command_model
from turnout.domain.resources import Model
from turnout.instances import local
from turnout.instances.backend import Address, Instance, InstanceSpec
from turnout.instances.listening import listens
from turnout.instances.local import LocalBackend
from turnout.instances.supervisor import HealthPolicy


@pytest.fixture
def taken() -> Iterator[int]:
    with impostor() as port:
        yield port


def spec(artifact: Path) -> InstanceSpec:
    model = Model("echo", str(artifact), "command", command=(sys.executable, "serve"))
    return InstanceSpec("ep", "ep-config", "A", 1, model)


def answer(instance: Instance) -> object:
    address = instance.address
    reply = httpx.post(f"http://{address.host}:{address.port}/invocations", json=[1], timeout=10)
    return reply.json()


async def test_a_port_taken_before_the_first_start_is_left_for_another(
    taken: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = iter([Address.tcp("127.0.0.1", taken)])
    real_free_address = local.free_address
    monkeypatch.setattr(local, "free_address", lambda: next(ports, None) or real_free_address())
    backend = LocalBackend(tmp_path, HealthPolicy(startup_timeout=30), 1_000_000)
    try:
        instance = backend.start(spec(make_command_model(tmp_path / "model")))
        await instance.wait_started()
        assert instance.address.port != taken
        assert instance.pid is not None and listens(instance.pid, instance.address.port)
        assert answer(instance) == {"echo": [1]}
        assert instance.restarts == 0  # a move is not a crash
    finally:
        await backend.close()


async def test_after_a_crash_the_instance_restarts_on_a_new_port(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, HealthPolicy(startup_timeout=30), 1_000_000)
    try:
        instance = backend.start(spec(make_command_model(tmp_path / "model")))
        await instance.wait_started()
        old_port, old_pid = instance.address.port, instance.pid
        assert old_port is not None and old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        with contextlib.ExitStack() as held:
            # Someone takes the port as soon as the dying process lets go of it.
            for _ in range(200):
                try:
                    held.enter_context(impostor(old_port))
                    break
                except OSError:
                    await asyncio.sleep(0.01)
            else:
                pytest.fail(f"port {old_port} stayed in use after the kill")
            for _ in range(300):
                if instance.ready and instance.pid != old_pid:
                    break
                await asyncio.sleep(0.1)
            assert instance.ready and instance.pid != old_pid
            assert instance.address.port != old_port
            assert answer(instance) == {"echo": [1]} != ANSWER
    finally:
        await backend.close()
