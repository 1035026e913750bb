"""The flusher: windows become rollups in a real (SQLite) store, failed writes wait bounded,
unrouted counters go away, and the fresh view counts everything exactly once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from turnout.domain.rollups import PERIOD, Metric, VariantKey, statistic
from turnout.instances.usage import Usage
from turnout.metrics.flusher import Flusher
from turnout.routing.router import Router, RouterLimits
from turnout.routing.table import EndpointRoute, RoutingTable, Upstream, VariantRoute
from turnout.store import Store

A = VariantKey("ep", "ep-config", "A")
B = VariantKey("ep", "ep-config", "B")
T0 = 1_000_000.0  # a period boundary


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FlakyStore(Store):
    """A real store whose rollup writes fail while `down` is set."""

    down = False

    def add_rollups(self, batch, source):  # type: ignore[no-untyped-def]
        if self.down:
            raise OSError("disk full")
        super().add_rollups(batch, source)


@pytest.fixture
def store(tmp_path: Path) -> FlakyStore:
    store = FlakyStore.open(f"sqlite:///{tmp_path / 'turnout.db'}")
    assert isinstance(store, FlakyStore)
    return store


@dataclass
class Sampled:
    """What the flusher reads of a routed instance: its usage samples."""

    usage: tuple[Usage, ...] = ()


def routed(router: Router, keys: dict[VariantKey, int], usage: tuple[Usage, ...] = ()) -> None:
    """Route `ep` to these variants, each with that many (stand-in) instances."""
    routes = [
        VariantRoute(
            key.config,
            key.variant,
            tuple(Upstream(Sampled(usage), None) for _ in range(n)),  # type: ignore[arg-type]
            router._metrics(key),
        )
        for key, n in keys.items()
    ]
    endpoint = EndpointRoute("ep", routes, [1.0] * len(routes))
    router.table = RoutingTable(router.table.version + 1, {"ep": endpoint})


def rig(store: Store, now: float, **options: object) -> tuple[Clock, Router, Flusher]:
    """A clock at `now`, a router routing `ep` to A (one instance), its flusher."""
    clock = Clock(now)
    router = Router(RouterLimits(), "123456789012")
    flusher = Flusher(router, store, clock=clock, **options)  # type: ignore[arg-type]
    routed(router, {A: 1})
    return clock, router, flusher


def invoke(router: Router, key: VariantKey, n: int, status: int = 200) -> None:
    for _ in range(n):
        router.metrics[key].observe(status, status != 200, 1000.0, 50.0)


def total(rollups, metric=Metric.INVOCATIONS) -> float | None:  # type: ignore[no-untyped-def]
    return statistic(metric, "Sum", rollups)


async def test_windows_become_rollups_of_their_period(store: FlakyStore) -> None:
    clock = Clock(T0 + 3)
    router = Router(RouterLimits(), "123456789012")
    flusher = Flusher(router, store, clock=clock)
    routed(router, {A: 2, B: 1})
    invoke(router, A, 5)
    invoke(router, A, 2, status=500)
    clock.now = T0 + PERIOD + 0.05
    await flusher.flush()
    rollups = store.list_rollups("ep", 0)
    assert [(r.key, r.start, r.instances, r.window.invocations) for r in rollups] == [(A, T0, 2, 7)]
    assert rollups[0].window.errors_5xx == 2
    assert flusher.source == f"{os.uname().nodename}:{os.getpid()}"
    # the counts stay in the totals Prometheus reads
    assert router.metrics[A].totals().invocations == 7
    invoke(router, B, 3)
    clock.now = T0 + 2 * PERIOD + 0.05
    await flusher.flush()
    assert [(r.key, r.start) for r in store.list_rollups("ep", T0 + PERIOD)] == [(B, T0 + PERIOD)]


async def test_failed_writes_are_retried_and_bounded(store: FlakyStore) -> None:
    clock, router, flusher = rig(store, T0, max_pending=2)
    store.down = True
    for period in range(3):  # three periods fail; only the last two stay pending
        invoke(router, A, period + 1)
        clock.now += PERIOD
        await flusher.flush()
    assert store.list_rollups("ep", 0) == []
    # the fresh view already counts what is pending
    assert total(await flusher.rollups("ep", 0)) == 2 + 3
    store.down = False
    clock.now += PERIOD
    await flusher.flush()
    rollups = store.list_rollups("ep", 0)
    assert [(r.start, r.window.invocations) for r in rollups] == [
        (T0 + PERIOD, 2),
        (T0 + 2 * PERIOD, 3),
    ]


async def test_unrouted_counters_are_dropped_after_the_grace(store: FlakyStore) -> None:
    clock = Clock(T0)
    router = Router(RouterLimits(), "123456789012")
    flusher = Flusher(router, store, clock=clock, grace=30)
    routed(router, {A: 1, B: 1})
    invoke(router, B, 4)
    routed(router, {A: 1})  # B withdrawn; a request in flight may still count on it
    clock.now += PERIOD
    await flusher.flush()
    assert B in router.metrics  # it had counts to flush
    for _ in range(4):
        clock.now += PERIOD
        await flusher.flush()
    assert set(router.metrics) == {A}  # routed, though idle: kept
    assert total(store.list_rollups("ep", 0, variant="B")) == 4


async def test_the_fresh_view_counts_each_invocation_once(store: FlakyStore) -> None:
    clock, router, flusher = rig(store, T0 + 1)
    invoke(router, A, 3)
    assert total(await flusher.rollups("ep", T0)) == 3  # the open window
    clock.now = T0 + PERIOD + 0.05
    await flusher.flush()
    invoke(router, A, 2)
    fresh = await flusher.rollups("ep", T0)
    assert total(fresh) == 5
    assert sorted(r.start for r in fresh) == [T0, T0 + PERIOD]
    assert total(await flusher.rollups("ep", T0 + PERIOD)) == 2  # since: only later periods
    assert await flusher.rollups("other", T0) == []


async def test_rollups_older_than_the_retention_expire(store: FlakyStore) -> None:
    clock, router, flusher = rig(store, T0, retention=3600)
    invoke(router, A, 1)
    clock.now += PERIOD
    await flusher.flush()
    clock.now = T0 + 3600 - 1  # the rollup of [T0, T0 + PERIOD) is younger than an hour
    await flusher.expire()
    assert len(store.list_rollups("ep", 0)) == 1
    clock.now = T0 + 3600 + 1
    await flusher.expire()
    assert store.list_rollups("ep", 0) == []


async def test_close_flushes_the_open_window(store: FlakyStore) -> None:
    _, router, flusher = rig(store, T0 + 4)
    invoke(router, A, 6)
    await flusher.close()
    assert [(r.start, r.window.invocations) for r in store.list_rollups("ep", 0)] == [(T0, 6)]


def test_idle_variants_still_roll_up_their_instances_cpu_and_memory(store: FlakyStore) -> None:
    clock, router, flusher = rig(store, T0 + 1)
    samples = (Usage(T0, 150.0, 200 << 20, 2.5),)
    routed(router, {A: 2, B: 1}, usage=samples)  # both instances of A report the same
    invoke(router, B, 3)
    clock.now = T0 + PERIOD + 1
    batch = {r.key: r for r in flusher.take()}
    assert set(batch) == {A, B}  # A served nothing, but it ran
    assert (batch[A].window.invocations, batch[A].cpu_percent) == (0, 150.0)
    assert batch[B].memory_percent == 2.5
    assert statistic(Metric.CPU_UTILIZATION, "Average", batch.values()) == 150.0
    assert statistic(Metric.INVOCATIONS, "Sum", [batch[A]]) is None  # still no datapoint
    # Stale samples (an instance that stopped sampling) are not reported as current.
    clock.now = T0 + 10 * PERIOD
    assert flusher.take() == []  # idle, and nothing current to report
