"""Autoscaling's rows (turnout.store.scaling) on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from turnout.domain.scaling import (
    Activity,
    ActivityStatus,
    AdjustmentType,
    MetricSpec,
    ScalableTarget,
    ScalingPolicy,
    Step,
    StepScaling,
    Suspended,
    TargetTracking,
)
from turnout.store import Store
from turnout.store.scaling import KEEP_ACTIVITIES, ScalingStore


def test_targets_register_update_deregister(store: Store) -> None:
    rows = ScalingStore(store)
    first = ScalableTarget("e", "A", 1, 4, 100.0)
    assert rows.put_target(first) == first
    rows.put_target(ScalableTarget("e", "B", 2, 3, 101.0, Suspended(scale_out=True)))
    rows.put_target(ScalableTarget("f", "A", 1, 1, 102.0))
    # Registering again changes the range and suspension, not the creation time.
    again = rows.put_target(ScalableTarget("e", "A", 2, 5, 999.0, Suspended(scale_in=True)))
    assert again == ScalableTarget("e", "A", 2, 5, 100.0, Suspended(scale_in=True))
    assert [t.resource_id for t in rows.targets()] == [
        "endpoint/e/variant/A", "endpoint/e/variant/B", "endpoint/f/variant/A",
    ]  # fmt: skip
    assert rows.targets("e")[1].suspended == Suspended(scale_out=True)
    rows.put_policy(ScalingPolicy("p", "e", "A", 1.0, TargetTracking(50.0)))
    assert rows.delete_target("e", "A") is True
    assert rows.delete_target("e", "A") is False
    assert rows.policies("e", "A") == []  # a target's policies go with it
    assert [t.resource_id for t in rows.targets("e")] == ["endpoint/e/variant/B"]


def test_policies_round_trip_and_replace(store: Store) -> None:
    rows = ScalingStore(store)
    tracking = ScalingPolicy(
        "latency", "e", "A", 10.0,
        TargetTracking(2e5, MetricSpec("ModelLatency", "Average", False), 60, 120, True),
    )  # fmt: skip
    step = ScalingPolicy(
        "steps", "e", "A", 11.0,
        step=StepScaling(
            AdjustmentType.PERCENT, (Step(10, 0.0, 5.5), Step(30, 5.5, None)), 45, 2, "Maximum"
        ),
    )  # fmt: skip
    assert rows.put_policy(tracking) == tracking
    assert rows.put_policy(step) == step
    assert rows.policies() == [tracking, step]
    changed = replace(tracking, created_at=50.0, target_tracking=TargetTracking(1.0))
    assert rows.put_policy(changed) == replace(changed, created_at=10.0)
    assert rows.policies("e", "B") == []
    assert rows.delete_policy("e", "A", "steps") is True
    assert rows.delete_policy("e", "A", "steps") is False
    assert [p.name for p in rows.policies("e")] == ["latency"]


def activity(
    n: int, variant: str = "A", status: ActivityStatus = ActivityStatus.IN_PROGRESS
) -> Activity:
    return Activity(
        f"id-{variant}-{n}", "e", variant, f"to {n}", "cause", status, float(n), "out", 1, n
    )


def test_activities_newest_first_finish_once_and_bounded(store: Store) -> None:
    rows = ScalingStore(store)
    for n in range(1, 4):
        rows.add_activity(activity(n))
    rows.add_activity(activity(1, "B", ActivityStatus.FAILED))
    assert [a.id for a in rows.activities("e", "A")] == ["id-A-3", "id-A-2", "id-A-1"]
    assert [a.id for a in rows.activities(limit=2, offset=1)] == ["id-A-3", "id-A-2"]
    assert len(rows.activities(unfinished=True)) == 3
    assert rows.finish_activity("id-A-3", ActivityStatus.SUCCESSFUL, 9.0, "done") is True
    assert rows.finish_activity("id-A-3", ActivityStatus.FAILED, 10.0) is False  # once only
    assert rows.activities("e", "A", limit=1)[0] == replace(
        activity(3), status=ActivityStatus.SUCCESSFUL, end=9.0, message="done"
    )
    for n in range(4, KEEP_ACTIVITIES + 10):
        rows.add_activity(activity(n))
    kept = rows.activities("e", "A", limit=1000)
    assert len(kept) == KEEP_ACTIVITIES
    assert kept[-1].id == f"id-A-{10}"
    assert len(rows.activities("e", "B")) == 1  # another variant's are not counted


def test_alarm_actions(store: Store) -> None:
    rows = ScalingStore(store)
    rows.set_alarm_actions("high", ["arn:1", "arn:2", "arn:1"])
    rows.set_alarm_actions("low", ["arn:3"])
    assert rows.alarm_actions() == {"high": ["arn:1", "arn:2"], "low": ["arn:3"]}
    rows.set_alarm_actions("high", [])
    assert rows.alarm_actions(["high", "low"]) == {"low": ["arn:3"]}
