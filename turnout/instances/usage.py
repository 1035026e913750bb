"""What an instance process uses: CPU and memory of its process tree, sampled with psutil.

SageMaker's names and units: CPUUtilization is the sum over cores (100% per busy core, so
up to 200% on two cores), MemoryUtilization the share of the machine's memory in use by the
instance. The supervisor samples on its health-check tick; the latest samples of the last
few minutes stay in memory for the dashboard and `/metrics`.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
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
    """Samples one process tree; CPU is measured between consecutive samples."""

    def __init__(self, total_memory: int | None = None) -> None:
        self._total = total_memory or psutil.virtual_memory().total
        self._processes: dict[int, psutil.Process] = {}  # kept: cpu_percent needs the last call
        self.history: deque[Usage] = deque(maxlen=HISTORY)

    @property
    def latest(self) -> Usage | None:
        return self.history[-1] if self.history else None

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
        usage = Usage(time.time(), round(cpu, 1), rss, round(100 * rss / self._total, 2))
        self.history.append(usage)
        return usage

    def _process(self, pid: int) -> psutil.Process:
        known = self._processes.get(pid)
        return known if known is not None else psutil.Process(pid)
