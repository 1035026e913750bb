"""A serverless variant at 0 instances (ADR 0038) reads as idle in the dashboard's fleet rows
and in `turnout top`, not as a variant with none of its instances ready."""

from __future__ import annotations

from turnout.api.dashboard.fleets import fleets
from turnout.cli.top import fleet_cells
from turnout.domain.plans import OnDemand, PlannedFleet, PlannedVariant, RoutingPlan
from turnout.domain.resources import Endpoint, EndpointStatus, VariantState


def test_an_idle_serverless_variant_is_shown_idle() -> None:
    endpoint = Endpoint("ep", "cfg", EndpointStatus.IN_SERVICE, (VariantState("S", 1, 1, 1, 1),))
    plan = RoutingPlan(
        "ep", 3, (PlannedFleet("cfg", 1.0, (PlannedVariant("S", 1.0, 0, OnDemand(4)),)),), True
    )
    [fleet] = fleets(endpoint, plan, [])
    [row] = fleet["variants"]
    assert row["serverless"] == {"max_concurrency": 4} and row["instances"] == []
    assert fleet_cells(fleet, row, {})[4] == "0 idle"
    always_on = {**row, "serverless": None}
    assert fleet_cells(fleet, always_on, {})[4] == "0/0"
