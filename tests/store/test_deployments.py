"""Deployments in the store: begun with the endpoint's update, compare-and-set steps, the
API's requests, an atomic finish, deleted with the endpoint; on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from turnout.deploy.shifting import steps
from turnout.domain.deployments import Deployment, Event, Phase, Request, RolloutPolicy
from turnout.domain.resources import EndpointStatus
from turnout.domain.shifting import (
    BlueGreenPolicy,
    CapacitySize,
    CapacityType,
    RoutingType,
    TrafficRouting,
)
from turnout.errors import Conflict
from turnout.store import Store

from .builders import config, endpoint, model, states

S = EndpointStatus
BLUE, GREEN = config("blue", "m1"), config("green", "m1", "m2")
ROUTING = TrafficRouting(
    RoutingType.LINEAR, 2, linear_step_size=CapacitySize(CapacityType.CAPACITY_PERCENT, 25)
)
POLICY = RolloutPolicy(BlueGreenPolicy(ROUTING, 30, 900), ("errors", "latency"), True)


@pytest.fixture
def store_with_e(store: Store) -> Store:
    store.add_model(model("m1"))
    store.add_model(model("m2"))
    store.add_endpoint_config(BLUE)
    store.add_endpoint_config(GREEN)
    store.add_endpoint(replace(endpoint("e", BLUE), status=S.IN_SERVICE))
    return store


def new_deployment() -> Deployment:
    return Deployment(
        id=0, endpoint="e", blue_config="blue", green_config="green", policy=POLICY,
        steps=tuple(steps(ROUTING, 3)), phase=Phase.PROVISIONING, step=0,
        step_started_at=None, started_at=100.0,
    )  # fmt: skip


def begun(store: Store) -> Deployment:
    assert store.begin_deployment(
        new_deployment(), Event(100.0, "started", "go"), expect_status=S.IN_SERVICE
    )
    d = store.active_deployment("e")
    assert d is not None
    return d


def test_begin_records_the_deployment_and_the_update(store_with_e: Store) -> None:
    d = begun(store_with_e)
    assert d == replace(new_deployment(), id=d.id)  # the policy round-trips exactly
    e = store_with_e.get_endpoint("e")
    assert (e.status, e.pending_config_name) == (S.UPDATING, "green")
    # A second one cannot begin while the endpoint is Updating.
    assert not store_with_e.begin_deployment(
        new_deployment(), Event(101.0, "started", "again"), expect_status=S.IN_SERVICE
    )


def test_steps_are_compare_and_set(store_with_e: Store) -> None:
    d = begun(store_with_e)
    step = replace(d, phase=Phase.BAKING, step_started_at=110.0, revision=1)
    assert store_with_e.record_deployment(d, step, Event(110.0, "shifted", "25%", 0, 0.25))
    assert not store_with_e.record_deployment(d, step, Event(111.0, "shifted", "stale"))
    # A request the API records meanwhile makes the reconciler's write fail: nothing lost.
    store_with_e.request_deployment("e", Request.PAUSE)
    later = replace(step, step=1, revision=2)
    assert not store_with_e.record_deployment(step, later, Event(112.0, "shifted", "50%"))
    fresh = store_with_e.active_deployment("e")
    assert fresh is not None and fresh.requested is Request.PAUSE
    rolling = replace(fresh, phase=Phase.ROLLING_BACK, requested=None, revision=3)
    assert store_with_e.record_deployment(
        fresh, rolling, Event(113.0, "rolling-back", "alarm"), S.ROLLING_BACK
    )
    assert store_with_e.get_endpoint("e").status is S.ROLLING_BACK
    with pytest.raises(Conflict, match="rolling back"):
        store_with_e.request_deployment("e", Request.PROMOTE)
    [(latest, events)] = store_with_e.deployment_history("e")
    assert latest == rolling
    assert [e.kind for e in events] == ["started", "shifted", "rolling-back"]
    assert events[1] == Event(110.0, "shifted", "25%", 0, 0.25)


@pytest.mark.parametrize("promote", [True, False])
def test_finish_switches_or_keeps_the_config_atomically(store_with_e: Store, promote: bool) -> None:
    d = begun(store_with_e)
    phase = Phase.SUCCEEDED if promote else Phase.ROLLED_BACK
    done = replace(d, phase=phase, revision=1, finished_at=200.0,
                   failure_reason=None if promote else "alarm errors")  # fmt: skip
    assert store_with_e.finish_deployment(
        d, done, Event(200.0, phase.value, "end"), status=S.IN_SERVICE,
        variants=states(GREEN if promote else BLUE), promote_pending=promote, at=200.0,
    )  # fmt: skip
    e = store_with_e.get_endpoint("e")
    assert (e.status, e.config_name, e.pending_config_name) == (
        S.IN_SERVICE, "green" if promote else "blue", None,
    )  # fmt: skip
    assert e.failure_reason == done.failure_reason
    assert store_with_e.active_deployment("e") is None
    assert store_with_e.latest_deployment("e") == done
    with pytest.raises(Conflict, match="no deployment in progress"):
        store_with_e.request_deployment("e", Request.PAUSE)


def test_deleting_the_endpoint_deletes_its_deployments(store_with_e: Store) -> None:
    begun(store_with_e)
    store_with_e.delete_endpoint("e")
    store_with_e.add_endpoint(replace(endpoint("e", BLUE), status=S.IN_SERVICE))
    assert store_with_e.deployment_history("e") == []
