"""Processes a test saw running, and waiting (bounded) until they are gone."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class SeenProcess:
    """A process seen running: its pid and start time (a pid alone may be reused)."""

    pid: int
    created: float

    @classmethod
    def of(cls, pid: int) -> SeenProcess:
        return cls(pid, psutil.Process(pid).create_time())

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return process.create_time() == self.created and process.status() != "zombie"
        except psutil.NoSuchProcess:
            return False


def still_alive(processes: Iterable[SeenProcess], timeout: float) -> set[SeenProcess]:
    """Wait up to `timeout` s for every process to end; return those still running."""
    deadline = time.monotonic() + timeout
    while (alive := {p for p in processes if p.alive()}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive
