"""What an instance process uses: CPU and memory of its process tree, sampled with psutil.

SageMaker's names and units: CPUUtilization is the sum over cores (100% per busy core, so
up to 200% on two cores), MemoryUtilization the share of the machine's memory in use by the
instance. The supervisor samples on its health-check tick, in a thread (psutil reads /proc:
blocking I/O, kept off the event loop); it keeps the latest samples of the last few minutes
in memory, on the loop, for the dashboard and `/metrics`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import psutil

HISTORY = 120  # samples kept per instance (10 minutes at the default 5 s tick)


@dataclass(frozen=True)
class Usage:
    at: float  # epoch seconds
    cpu_percent: float  # CPUUtilization: summed over cores
    memory_bytes: int  # RSS of the process tree
    memory_percent: float  # MemoryUtilization: RSS / the machine's memory


class UsageSampler:
    """Samples one process tree; CPU is measured between consecutive samples.

    `sample` blocks on /proc reads: call it from a thread, one call at a time. The sampler's
    state (the processes it saw last) is that thread's alone; what it returns is immutable.
    """

    def __init__(self, total_memory: int | None = None) -> None:
        self._total = total_memory  # read at the first sample (a /proc read too)
        self._processes: dict[int, psutil.Process] = {}  # kept: cpu_percent needs the last call

    def sample(self, pid: int) -> Usage | None:
        """Sample the tree rooted at `pid`; None if it is gone. The first sample's CPU is 0."""
        try:
            root = self._process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            self._processes.clear()
            return None
        cpu, rss = 0.0, 0
        alive: dict[int, psutil.Process] = {}
        for process in tree:
            known = self._processes.get(process.pid, process)
            with contextlib.suppress(psutil.Error):
                cpu += known.cpu_percent(interval=None)
                rss += known.memory_info().rss
                alive[process.pid] = known
        self._processes = alive
        if self._total is None:
            self._total = psutil.virtual_memory().total
        return Usage(time.time(), round(cpu, 1), rss, round(100 * rss / self._total, 2))

    def _process(self, pid: int) -> psutil.Process:
        known = self._processes.get(pid)
        return known if known is not None else psutil.Process(pid)
