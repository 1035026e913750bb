"""The supervisor samples an instance's CPU and memory (psutil: /proc reads) in a thread:
the event loop keeps running while a sample is slow, and the samples reach `usage`."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

from tests.support.models import make_command_model
from turnout.domain.resources import Model
from turnout.instances.backend import InstanceSpec
from turnout.instances.local import LocalBackend
from turnout.instances.supervisor import HealthPolicy
from turnout.instances.usage import Usage, UsageSampler

TICKS = 20  # the loop must turn this many times while one sample waits


async def test_a_slow_sample_does_not_hold_up_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticked = threading.Event()  # set by the loop once it turned TICKS times
    samples: list[tuple[str, bool]] = []  # (thread, whether the loop turned meanwhile)
    real_sample = UsageSampler.sample

    def slow_sample(self: UsageSampler, pid: int) -> Usage | None:
        # As slow as it takes the loop to turn TICKS times: if this ran on the loop's
        # thread, the loop could not turn and the wait would time out.
        turned = ticked.wait(timeout=5)
        samples.append((threading.current_thread().name, turned))
        return real_sample(self, pid)

    monkeypatch.setattr(UsageSampler, "sample", slow_sample)
    model = Model("echo", str(make_command_model(tmp_path / "model")), "command",
                  command=(sys.executable, "serve"))  # fmt: skip
    backend = LocalBackend(tmp_path, HealthPolicy(startup_timeout=30, ping_interval=0.05), 10**6)
    try:
        instance = backend.start(InstanceSpec("ep", "ep-config", "A", 1, model))
        await instance.wait_started()
        for _ in range(TICKS):
            await asyncio.sleep(0.005)
        ticked.set()
        for _ in range(1000):
            if instance.usage:
                break
            await asyncio.sleep(0.01)
        assert samples and samples[0][0] != threading.current_thread().name
        assert samples[0][1], "the event loop stood still while the sample ran"
        assert instance.usage and instance.usage[-1].memory_bytes > 0
    finally:
        await backend.close()
