"""Routing plans, node reports and the controller lease in the store (SQLite and PostgreSQL),
and PostgreSQL's notices reaching a listener."""

from __future__ import annotations

import queue

import pytest
from sqlalchemy.engine import URL

from turnout.domain.nodes import InstanceReport, NodeReport
from turnout.domain.plans import PlannedFleet, PlannedVariant, RoutingPlan
from turnout.store import Store
from turnout.store.cluster import CONTROLLER, Channel, ClusterStore
from turnout.store.notices import NoticeListener

from .postgres import fresh_schema


def plan(version: int, share: float = 1.0) -> RoutingPlan:
    fleet = PlannedFleet("cfg", share, (PlannedVariant("A", 2.0, 1), PlannedVariant("B", 1.0, 2)))
    return RoutingPlan("ep", version, (fleet,), serving=True)


def test_plans_are_written_version_after_version(store: Store) -> None:
    cluster = ClusterStore(store)
    assert cluster.plan("ep") is None
    first = cluster.write_plan(plan(0), at=1.0)
    assert first is not None and first.version == 1
    assert cluster.plan("ep") == first
    second = cluster.write_plan(plan(1, share=0.5), at=2.0)
    assert second is not None and second.version == 2
    assert cluster.plan_versions() == {"ep": 2}
    # A writer that read version 1 (a controller that lost its lease) changes nothing.
    assert cluster.write_plan(plan(1, share=0.0), at=3.0) is None
    assert cluster.write_plan(plan(0), at=3.0) is None
    assert cluster.plan("ep") == second
    assert not cluster.delete_plan("ep", 1)
    assert cluster.delete_plan("ep", 2)
    assert cluster.plan("ep") is None


def test_a_node_report_replaces_the_last(store: Store) -> None:
    cluster = ClusterStore(store)
    instance = InstanceReport("ep", "cfg", "A", 1, "Ready", "unix:/tmp/x.sock", 42)
    cluster.report("n1", "http://127.0.0.1:1", "local", 10.0, NodeReport({"ep": 3}), at=11.0)
    cluster.report(
        "n1", "http://127.0.0.1:1", "local", 10.0, NodeReport({"ep": 4}, (instance,)), at=12.0
    )
    cluster.report("n2", "http://127.0.0.1:2", "ray", 10.5, NodeReport(), at=12.5)
    n1, n2 = cluster.nodes()
    assert (n1.name, n1.heartbeat_at, n1.report.applied, n1.report.instances) == (
        "n1", 12.0, {"ep": 4}, (instance,),
    )  # fmt: skip
    assert n2.backend == "ray" and n2.alive(now=20.0, timeout=10.0)
    assert not n2.alive(now=23.0, timeout=10.0)
    assert not cluster.forget_node("n2", heartbeat_before=12.0)
    assert cluster.forget_node("n2", heartbeat_before=13.0)
    assert [n.name for n in cluster.nodes()] == ["n1"]


def test_one_holder_at_a_time_until_its_lease_lapses(store: Store) -> None:
    cluster = ClusterStore(store)
    assert cluster.acquire(CONTROLLER, "n1", now=100.0, ttl=10.0)
    assert not cluster.acquire(CONTROLLER, "n2", now=105.0, ttl=10.0)
    assert cluster.acquire(CONTROLLER, "n1", now=108.0, ttl=10.0)  # renewed to 118
    assert not cluster.acquire(CONTROLLER, "n2", now=117.9, ttl=10.0)
    lease = cluster.lease(CONTROLLER)
    assert lease is not None and (lease.holder, lease.acquired_at, lease.expires_at) == (
        "n1", 100.0, 118.0,
    )  # fmt: skip
    assert cluster.acquire(CONTROLLER, "n2", now=118.5, ttl=10.0)  # lapsed: n2 takes it
    lease = cluster.lease(CONTROLLER)
    assert lease is not None and (lease.holder, lease.acquired_at) == ("n2", 118.5)
    assert not cluster.acquire(CONTROLLER, "n1", now=119.0, ttl=10.0)
    cluster.release(CONTROLLER, "n1")  # not n1's: nothing happens
    assert cluster.lease(CONTROLLER) is not None
    cluster.release(CONTROLLER, "n2")
    assert cluster.lease(CONTROLLER) is None
    assert cluster.acquire(CONTROLLER, "n1", now=119.5, ttl=10.0)
    assert cluster.acquire(CONTROLLER, "n3", now=120.0, ttl=10.0, force=True)  # sole node
    lease = cluster.lease(CONTROLLER)
    assert lease is not None and lease.holder == "n3"


@pytest.mark.postgres
def test_postgres_notices_reach_a_listener(postgres_database: URL) -> None:
    store = Store.open(fresh_schema(postgres_database))
    cluster = ClusterStore(store)
    assert cluster.shared
    heard: queue.Queue[tuple[Channel, str]] = queue.Queue()
    listener = NoticeListener(
        store.database.engine.url, [Channel.PLANS, Channel.CHANGES], lambda c, p: heard.put((c, p))
    )
    listener.start()
    try:
        assert listener.connected.wait(10)
        written = cluster.write_plan(plan(0), at=1.0)
        assert written is not None
        assert heard.get(timeout=10) == (Channel.PLANS, "ep")
        cluster.notify(Channel.CHANGES, "ep")
        assert heard.get(timeout=10) == (Channel.CHANGES, "ep")
        cluster.report("n1", "http://x", "local", 1.0, NodeReport(), at=2.0)  # not listened to
        cluster.notify(Channel.CHANGES, "again")
        assert heard.get(timeout=10) == (Channel.CHANGES, "again")
    finally:
        listener.close()
        store.close()
