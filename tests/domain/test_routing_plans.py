"""Routing plans: their weights, equality but for the version, and their JSON form."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from turnout.domain.plans import (
    OnDemand,
    PlannedFleet,
    PlannedVariant,
    RoutingPlan,
    fleet_plan,
    planned_shadows,
    serverless_variants,
)
from turnout.domain.resources import EndpointConfig, ProductionVariant, ServerlessConfig


def test_a_fleet_splits_its_share_by_weight() -> None:
    fleet = fleet_plan("cfg", 0.25, {"A": 3.0, "B": 1.0}, {"A": 1, "B": 2})
    assert fleet.weights() == {"A": 0.1875, "B": 0.0625}
    assert [(v.name, v.instances) for v in fleet.variants] == [("A", 1), ("B", 2)]
    assert fleet_plan("cfg", 1.0, {"A": 0.0}, {"A": 1}).weights() == {"A": 0.0}


def test_same_as_ignores_only_the_version() -> None:
    fleet = fleet_plan("cfg", 1.0, {"A": 1.0}, {"A": 1})
    plan = RoutingPlan("ep", 3, (fleet,), serving=True)
    assert plan.same_as(RoutingPlan("ep", 7, (fleet,), serving=True))
    assert not plan.same_as(RoutingPlan("ep", 3, (fleet,), serving=False))
    assert not plan.same_as(RoutingPlan("ep", 3, ()))
    assert not plan.same_as(None)


variants = st.lists(
    st.builds(
        PlannedVariant,
        st.text(min_size=1, max_size=8),
        st.floats(0, 1000, allow_nan=False),
        st.integers(0, 20),
        st.none() | st.builds(OnDemand, st.integers(1, 200), st.integers(1, 4)),
    ),
    max_size=4,
)
fleets = st.lists(
    st.builds(PlannedFleet, st.text(min_size=1, max_size=8), st.floats(0, 1), variants.map(tuple)),
    max_size=3,
)


@given(fleets, st.booleans(), st.integers(1, 10**6))
def test_a_plan_survives_its_json_document(
    found: list[PlannedFleet], serving: bool, version: int
) -> None:
    plan = RoutingPlan("ep", version, tuple(found), serving)
    document = json.loads(json.dumps(plan.document()))
    assert RoutingPlan.of_document("ep", version, document) == plan


def test_shadow_variants_are_planned_counted_and_round_trip() -> None:
    config = EndpointConfig(
        "cfg",
        (ProductionVariant("A", "m1", 1, 2.0),),
        shadow_variants=(ProductionVariant("S", "m2", 3, 0.5),),
    )
    shadows = planned_shadows(config)
    assert [(s.name, s.sampling, s.instances) for s in shadows] == [("S", 0.25, 3)]
    plan = RoutingPlan("e", 4, (fleet_plan("cfg", 1.0, {"A": 2.0}, {"A": 1}, shadows),))
    assert list(plan.counts()) == [("cfg", "A", 1), ("cfg", "S", 3)]
    assert RoutingPlan.of_document("e", 4, plan.document()) == plan
    # A weight at or above production's mirrors every request.
    heavy = EndpointConfig(
        "c", config.variants, shadow_variants=(ProductionVariant("S", "m", 1, 5.0),)
    )
    assert planned_shadows(heavy)[0].sampling == 1.0


def test_serverless_variants_are_planned_on_demand_above_their_warm_floor() -> None:
    config = EndpointConfig(
        "cfg",
        (
            ProductionVariant("A", "m1", 3),
            ProductionVariant("S", "m2", 1, serverless=ServerlessConfig(1024, 5)),
            ProductionVariant("W", "m2", 1, serverless=ServerlessConfig(1024, 8, 2)),
        ),
    )
    serverless = serverless_variants(config)
    assert serverless == {"S": (OnDemand(5), 0), "W": (OnDemand(8), 1)}
    fleet = fleet_plan(
        "cfg", 1.0, {"A": 1, "S": 1, "W": 1}, {"A": 3, "S": 1, "W": 1}, (), serverless
    )
    assert [(v.name, v.instances, v.on_demand) for v in fleet.variants] == [
        ("A", 3, None), ("S", 0, OnDemand(5)), ("W", 1, OnDemand(8)),
    ]  # fmt: skip
    plan = RoutingPlan("e", 2, (fleet,))
    assert RoutingPlan.of_document("e", 2, plan.document()) == plan
    # A plan written before serverless variants were planned reads as it did.
    assert "on_demand" not in plan.document()["fleets"][0]["variants"][0]
