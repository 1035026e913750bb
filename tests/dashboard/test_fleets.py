"""Each fleet's own weights and shares, a deployment's progress, an alarm's row (pure)."""

from __future__ import annotations

import pytest

from turnout.api.dashboard.alarms import alarm_row
from turnout.api.dashboard.fleets import canary_share, fleets
from turnout.api.dashboard.progress import progress
from turnout.api.dashboard.views import totals
from turnout.domain.alarms import Alarm, AlarmState, AlarmStatus, Comparison
from turnout.domain.deployments import Deployment, Phase, RolloutPolicy
from turnout.domain.plans import PlannedFleet, PlannedShadow, PlannedVariant, RoutingPlan
from turnout.domain.resources import Endpoint, EndpointStatus, VariantState
from turnout.domain.rollups import PERIOD, Metric, Rollup, VariantKey
from turnout.domain.shifting import BlueGreenPolicy, RoutingType, Step, TrafficRouting
from turnout.metrics.counters import VariantMetrics

NOW = 1_000_000.0 + 4.0


def endpoint(pending: str | None = "green") -> Endpoint:
    return Endpoint(
        "ep", "blue", EndpointStatus.UPDATING,
        (VariantState("A", 1.0, 1, 1.0, 1), VariantState("B", 0.5, 1, 1.0, 1)),
        pending_config_name=pending,
    )  # fmt: skip


def plan(*fleets: PlannedFleet) -> RoutingPlan:
    return RoutingPlan("ep", 3, fleets, serving=True)


BLUE = PlannedFleet("blue", 0.9, (PlannedVariant("A", 1.0, 1), PlannedVariant("B", 1.0, 1)))
GREEN = PlannedFleet(
    "green", 0.1, (PlannedVariant("A", 3.0, 1), PlannedVariant("B", 1.0, 1)),
    (PlannedShadow("S", 0.5, 1),),
)  # fmt: skip


def by_key(found: list[dict[str, object]]) -> dict[tuple[str, str], dict[str, object]]:
    return {(v["config"], v["variant"]): v for f in found for v in f["variants"]}  # type: ignore[attr-defined]


def test_each_fleet_has_its_own_weights_and_shares() -> None:
    found = fleets(endpoint(), plan(GREEN, BLUE), [])
    assert [(f["config"], f["role"], f["share"]) for f in found] == [
        ("blue", "blue", 0.9), ("green", "green", 0.1),
    ]  # fmt: skip
    rows = by_key(found)
    # Blue: routed at its current weights; desired as the endpoint's last update asked.
    assert (rows[("blue", "A")]["current_weight"], rows[("blue", "A")]["desired_weight"]) == (1, 1)
    assert (rows[("blue", "B")]["current_weight"], rows[("blue", "B")]["desired_weight"]) == (
        1.0, 0.5,
    )  # fmt: skip
    # Green: its own config's weights, not blue's of the same variant name.
    assert (rows[("green", "A")]["current_weight"], rows[("green", "A")]["desired_weight"]) == (
        3,
        3,
    )
    shares = {k: v["share"] for k, v in rows.items()}
    assert shares == pytest.approx(
        {("blue", "A"): 0.45, ("blue", "B"): 0.45, ("green", "A"): 0.075, ("green", "B"): 0.025,
         ("green", "S"): 0.0}
    )  # fmt: skip
    assert rows[("green", "S")]["shadow"] is True
    assert canary_share(found, "green") == 0.1 and canary_share(found, "nope") is None


def test_a_fleet_no_longer_planned_that_served_lately_is_retired_without_weights() -> None:
    after = Endpoint("ep", "green", EndpointStatus.IN_SERVICE, (VariantState("A", 3.0, 1, 3.0, 1),))
    only_green = PlannedFleet("green", 1.0, (PlannedVariant("A", 3.0, 1),))
    found = fleets(after, plan(only_green), [], recent=[("blue", "A"), ("green", "A")])
    assert [(f["config"], f["role"]) for f in found] == [("green", "serving"), ("blue", "retired")]
    rows = by_key(found)
    assert rows[("blue", "A")]["current_weight"] is None and rows[("blue", "A")]["share"] == 0
    assert rows[("green", "A")]["share"] == 1.0


def test_without_a_plan_the_endpoint_weights_serve_everything() -> None:
    found = fleets(endpoint(pending=None), None, [])
    assert [(f["config"], f["role"], f["share"]) for f in found] == [("blue", "serving", 1.0)]
    assert [v["share"] for v in found[0]["variants"]] == [0.5, 0.5]


def deployment(phase: Phase, step: int, started: float | None) -> Deployment:
    policy = RolloutPolicy(BlueGreenPolicy(TrafficRouting(RoutingType.CANARY, 60)))
    return Deployment(
        1, "ep", "blue", "green", policy, (Step(0.1, 60), Step(1.0, 0)), phase, step, started,
        started_at=NOW - 100,
    )  # fmt: skip


def test_progress_counts_steps_from_one_and_the_bake_down() -> None:
    baking = progress(deployment(Phase.BAKING, 0, NOW - 15), NOW, routed=0.1)
    assert (baking["step"], baking["steps"], baking["green_share"]) == (1, 2, 0.1)
    assert baking["bake_left_s"] == pytest.approx(45.0)
    assert baking["target"] == "green" and baking["phase"] == "Baking"
    provisioning = progress(deployment(Phase.PROVISIONING, 0, None), NOW)
    assert provisioning["green_share"] == 0.0 and provisioning["bake_left_s"] is None


def rollup(config: str, variant: str, ok: int, failed: int = 0) -> Rollup:
    metrics = VariantMetrics(VariantKey("ep", config, variant))
    for _ in range(ok):
        metrics.observe(200, False, 1000.0, 50.0)
    for _ in range(failed):
        metrics.observe(500, True, 2000.0, 50.0)
    return Rollup(metrics.key, NOW - 4.0 - PERIOD, PERIOD, 1, metrics.take_window())


def test_the_endpoint_error_rate_is_all_errors_over_all_invocations() -> None:
    # Green fails half its 10 requests, blue none of its 90: 5%, not green's 50%.
    rollups = [rollup("blue", "A", 90), rollup("green", "A", 5, 5), rollup("blue", "S", 0, 7)]
    found = totals(rollups, NOW, shadows=[("blue", "S")])
    assert found["error_rate"] == 0.05
    assert (found["invocations"], found["errors"]) == (100, 5)


def test_an_alarm_row_has_its_threshold_and_the_value_it_judges() -> None:
    alarm = Alarm(
        "ep-5xx", Metric.INVOCATION_5XX_ERRORS, "Average", "ep", 0.1, Comparison.GREATER,
        config="green",
    )  # fmt: skip
    status = AlarmStatus(alarm, AlarmState.ALARM, "Threshold Crossed", NOW - 3, NOW - 60)
    row = alarm_row(status, [rollup("blue", "A", 90), rollup("green", "A", 5, 5)], NOW)
    assert (row["operator"], row["threshold"], row["state"]) == (">", 0.1, "ALARM")
    assert row["value"] == 0.5  # green's own rate: blue's traffic does not dilute it
    assert row["watches"] == "all variants of green"
    empty = alarm_row(status, [], NOW)
    assert empty["value"] is None
