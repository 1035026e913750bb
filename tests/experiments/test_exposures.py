"""The exposure log: bounded, skips users already written, drops (and counts) what the
store refuses, so the router never waits and memory stays bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

from turnout.domain.rollups import VariantKey
from turnout.experiments.exposures import ExposureLog
from turnout.experiments.store import ExperimentStore
from turnout.metrics.counters import VariantMetrics
from turnout.routing.table import VariantRoute
from turnout.store.experiments import ExposureRow

A = VariantRoute("c", "A", (), VariantMetrics(VariantKey("ep", "c", "A")))


class FakeStore:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[ExposureRow]] = []
        self.fail = fail

    def add_exposures(self, batch: Sequence[ExposureRow]) -> None:
        if self.fail:
            raise OSError("store down")
        self.batches.append(list(batch))


def log_over(store: FakeStore, max_buffer: int = 100) -> ExposureLog:
    return ExposureLog(cast(ExperimentStore, store), max_buffer=max_buffer, clock=lambda: 7.0)


def test_a_users_later_requests_are_not_written_again_but_inference_ids_are() -> None:
    store = FakeStore()
    log = log_over(store)
    for _ in range(50):
        log.offer("ep", "alice", A, None, True)
    log.offer("ep", "alice", A, b"req-1", True)
    log.offer("ep", None, A, b"req-2", True)
    asyncio.run(log.flush())
    [batch] = store.batches
    assert [(e.user, e.inference_id) for e in batch] == [
        ("alice", None), ("alice", "req-1"), (None, "req-2"),
    ]  # fmt: skip
    assert batch[0] == ExposureRow("ep", "alice", "A", "c", None, True, 7.0)


def test_a_full_buffer_drops_and_counts() -> None:
    log = log_over(FakeStore(), max_buffer=10)
    for i in range(25):
        log.offer("ep", f"u{i}", A, None, True)
    assert log.dropped == 15


def test_a_failed_write_is_dropped_and_its_users_offered_again() -> None:
    store = FakeStore(fail=True)
    log = log_over(store)
    log.offer("ep", "bob", A, None, True)
    asyncio.run(log.flush())
    assert log.dropped == 1
    store.fail = False
    log.offer("ep", "bob", A, None, True)
    asyncio.run(log.flush())
    assert [e.user for e in store.batches[0]] == ["bob"]
