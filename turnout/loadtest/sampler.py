"""Each instance's CPU and memory during a load test, sampled every second in a thread.

The endpoint's description (GET /api/v1/endpoints/NAME) names its instances, their state
and process ids, and the CPU % and RSS the supervisor sampled at its last health check (every
5 s). When turnout runs on this machine (a loopback URL) and the instance's process is
visible, the sampler reads that process tree itself with psutil every second, as the
supervisor does (turnout/instances/usage.py), for a finer series; otherwise it records what
the description says (`source` tells which).

It runs in its own thread with its own HTTP client, so a slow describe never delays the
generator's event loop; the loop only reads the immutable samples it appended (a list only
this thread appends to) after the thread has stopped, or a copy for the live display.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from turnout.client import EndpointInfo, TurnoutClientError
from turnout.instances.usage import UsageSampler

LOCAL = "psutil"
API = "api"


@dataclass(frozen=True)
class InstanceSample:
    t: float  # seconds from the run's start
    instance: str
    variant: str
    state: str
    cpu_percent: float | None  # summed over cores (100 per busy core)
    rss_mb: float | None
    source: str  # LOCAL or API


class InstanceSampler:
    def __init__(
        self,
        describe: Callable[[], EndpointInfo],
        start: float,
        *,
        local: bool,
        interval: float = 1.0,
    ) -> None:
        """`describe` fetches the endpoint (called from the thread only); `start` is the
        run's start on the monotonic clock; `local`: the instances run on this machine."""
        self._describe = describe
        self._start = start
        self._local = local
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="instance-sampler", daemon=True)
        self._usage: dict[tuple[str, int], UsageSampler] = {}  # the thread's own
        self.samples: list[InstanceSample] = []  # appended by the thread only
        self.errors = 0  # describes that failed

    def start(self) -> InstanceSampler:
        self._thread.start()
        return self

    def stop(self) -> list[InstanceSample]:
        self._stop.set()
        self._thread.join(timeout=10)
        return list(self.samples)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_at += self._interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def sample_once(self) -> None:
        try:
            endpoint = self._describe()
        except (TurnoutClientError, OSError):
            self.errors += 1
            return
        now = time.monotonic() - self._start
        for variant in endpoint["variants"]:
            for instance in variant["instances"]:
                cpu, rss, source = instance["cpu_percent"], instance["memory_mb"], API
                pid = instance["pid"]
                if self._local and pid is not None:
                    usage = self._usage_of(instance["id"], pid)
                    if usage is not None:
                        cpu, rss, source = usage
                self.samples.append(
                    InstanceSample(
                        t=round(now, 3),
                        instance=instance["id"],
                        variant=variant["name"],
                        state=instance["state"],
                        cpu_percent=cpu,
                        rss_mb=rss,
                        source=source,
                    )
                )

    def _usage_of(self, instance: str, pid: int) -> tuple[float | None, float, str] | None:
        key = (instance, pid)
        sampler = self._usage.get(key)
        first = sampler is None
        if sampler is None:
            sampler = self._usage[key] = UsageSampler(psutil.virtual_memory().total)
        usage = sampler.sample(pid)
        if usage is None:
            return None
        # A tree's first CPU reading is 0 by construction (nothing to compare with): unknown.
        cpu = None if first else usage.cpu_percent
        return cpu, round(usage.memory_bytes / 2**20, 2), LOCAL
