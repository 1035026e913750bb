"""The controller lease between two nodes on one store: one leads at a time, a graceful stop
hands over at the other's next try, and a sole node takes the lease over at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from turnout.deploy.lease import Leadership
from turnout.store import Store
from turnout.store.cluster import CONTROLLER, ClusterStore

TTL = 0.5  # s: renewals every ~0.17 s, tries every 0.1 s


class Lead:
    """A stand-in for the controller's work: counts how often it started and is running."""

    def __init__(self) -> None:
        self.started = 0
        self.running = False

    async def __call__(self) -> None:
        self.started += 1
        self.running = True
        try:
            await asyncio.Event().wait()
        finally:
            self.running = False


async def until(condition: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_one_node_leads_and_hands_over_when_it_stops(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'turnout.db'}")
    cluster = ClusterStore(store)
    leads = {"a": Lead(), "b": Lead()}
    nodes = {name: Leadership(cluster, name, TTL, lead) for name, lead in leads.items()}
    a = asyncio.create_task(nodes["a"].run())
    await until(lambda: leads["a"].running)
    b = asyncio.create_task(nodes["b"].run())
    try:
        await asyncio.sleep(3 * TTL)  # renewals keep a's lease; b keeps trying in vain
        assert (leads["a"].started, leads["b"].started, leads["b"].running) == (1, 0, False)
        assert nodes["a"].leading and not nodes["b"].leading
        a.cancel()  # a graceful stop: releases the lease
        await asyncio.gather(a, return_exceptions=True)
        assert not leads["a"].running
        await until(lambda: leads["b"].running, timeout=TTL)
        lease = cluster.lease(CONTROLLER)
        assert lease is not None and lease.holder == "b"
    finally:
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)
        store.close()
    assert cluster_lease_released(tmp_path)


def cluster_lease_released(tmp_path: Path) -> bool:
    store = Store.open(f"sqlite:///{tmp_path / 'turnout.db'}")
    try:
        return ClusterStore(store).lease(CONTROLLER) is None
    finally:
        store.close()


async def test_a_sole_node_takes_the_lease_of_the_process_it_replaces(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'turnout.db'}")
    cluster = ClusterStore(store)
    assert cluster.acquire(CONTROLLER, "killed", now=time.time(), ttl=3600)
    lead = Lead()
    task = asyncio.create_task(Leadership(cluster, "new", 3600, lead, sole=True).run())
    try:
        await until(lambda: lead.running, timeout=2.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        store.close()
