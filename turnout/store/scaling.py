"""Autoscaling's rows (ADR 0036): scalable targets, scaling policies, scaling activities
and the alarm actions that trigger step policies. One transaction per ScalingStore method."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

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
from turnout.store.schema import (
    alarm_actions,
    scalable_targets,
    scaling_activities,
    scaling_policies,
)

KEEP_ACTIVITIES = 200  # per variant: older ones are deleted as new ones come


class ScalingStore:
    def __init__(self, store: Store) -> None:
        self._db = store.database

    # --- scalable targets -------------------------------------------------------------
    def put_target(self, target: ScalableTarget) -> ScalableTarget:
        """Register or update (keeping its creation time); the target as stored."""
        with self._db.write() as conn:
            c = scalable_targets.c
            key = (c.endpoint == target.endpoint, c.variant == target.variant)
            row = conn.execute(sa.select(scalable_targets).where(*key)).first()
            values = {
                "min_capacity": target.min_capacity,
                "max_capacity": target.max_capacity,
                "suspended": _suspended_document(target.suspended),
            }
            if row is None:
                conn.execute(
                    sa.insert(scalable_targets).values(
                        endpoint=target.endpoint,
                        variant=target.variant,
                        created_at=target.created_at,
                        **values,
                    )
                )
                return target
            conn.execute(sa.update(scalable_targets).where(*key).values(**values))
            return _target(conn.execute(sa.select(scalable_targets).where(*key)).one())

    def targets(self, endpoint: str | None = None) -> list[ScalableTarget]:
        query = sa.select(scalable_targets)
        if endpoint is not None:
            query = query.where(scalable_targets.c.endpoint == endpoint)
        with self._db.read() as conn:
            rows = conn.execute(
                query.order_by(scalable_targets.c.endpoint, scalable_targets.c.variant)
            )
            return [_target(r) for r in rows]

    def delete_target(self, endpoint: str, variant: str) -> bool:
        """Deregister a target and its policies; False if it was not registered."""
        with self._db.write() as conn:
            p = scaling_policies.c
            conn.execute(
                sa.delete(scaling_policies).where(p.endpoint == endpoint, p.variant == variant)
            )
            c = scalable_targets.c
            deleted = conn.execute(
                sa.delete(scalable_targets).where(c.endpoint == endpoint, c.variant == variant)
            )
            return bool(deleted.rowcount)

    # --- scaling policies -------------------------------------------------------------
    def put_policy(self, policy: ScalingPolicy) -> ScalingPolicy:
        """Create or replace (keeping its creation time); the policy as stored."""
        with self._db.write() as conn:
            c = scaling_policies.c
            key = (
                c.endpoint == policy.endpoint,
                c.variant == policy.variant,
                c.name == policy.name,
            )
            row = conn.execute(sa.select(scaling_policies).where(*key)).first()
            values = {"policy_type": policy.type.value, "document": _policy_document(policy)}
            if row is None:
                conn.execute(
                    sa.insert(scaling_policies).values(
                        endpoint=policy.endpoint,
                        variant=policy.variant,
                        name=policy.name,
                        created_at=policy.created_at,
                        **values,
                    )
                )
            else:
                conn.execute(sa.update(scaling_policies).where(*key).values(**values))
            return _policy(conn.execute(sa.select(scaling_policies).where(*key)).one())

    def policies(
        self, endpoint: str | None = None, variant: str | None = None
    ) -> list[ScalingPolicy]:
        c = scaling_policies.c
        query = _of(scaling_policies, endpoint, variant)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(c.endpoint, c.variant, c.name))
            return [_policy(r) for r in rows]

    def delete_policy(self, endpoint: str, variant: str, name: str) -> bool:
        with self._db.write() as conn:
            c = scaling_policies.c
            deleted = conn.execute(
                sa.delete(scaling_policies).where(
                    c.endpoint == endpoint, c.variant == variant, c.name == name
                )
            )
            return bool(deleted.rowcount)

    # --- scaling activities -----------------------------------------------------------
    def add_activity(self, activity: Activity) -> None:
        """Record an activity; the variant keeps its last KEEP_ACTIVITIES."""
        with self._db.write() as conn:
            conn.execute(sa.insert(scaling_activities).values(**_activity_values(activity)))
            c = scaling_activities.c
            mine = (c.endpoint == activity.endpoint, c.variant == activity.variant)
            oldest_kept = conn.execute(
                sa.select(c.id).where(*mine).order_by(c.id.desc()).offset(KEEP_ACTIVITIES - 1)
            ).first()
            if oldest_kept is not None:
                conn.execute(sa.delete(scaling_activities).where(*mine, c.id < oldest_kept.id))

    def finish_activity(
        self, activity_id: str, status: ActivityStatus, end: float, message: str | None = None
    ) -> bool:
        """Mark an unfinished activity finished; False if it was not (still) unfinished."""
        c = scaling_activities.c
        unfinished = [ActivityStatus.PENDING.value, ActivityStatus.IN_PROGRESS.value]
        with self._db.write() as conn:
            done = conn.execute(
                sa.update(scaling_activities)
                .where(c.activity_id == activity_id, c.status.in_(unfinished))
                .values(status=status.value, end_time=end, message=message)
            )
            return bool(done.rowcount)

    def activities(
        self,
        endpoint: str | None = None,
        variant: str | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
        unfinished: bool = False,
    ) -> list[Activity]:
        """Newest first."""
        c = scaling_activities.c
        query = _of(scaling_activities, endpoint, variant)
        if unfinished:
            query = query.where(
                c.status.in_([ActivityStatus.PENDING.value, ActivityStatus.IN_PROGRESS.value])
            )
        query = query.order_by(c.id.desc()).limit(limit).offset(offset)
        with self._db.read() as conn:
            return [_activity(r) for r in conn.execute(query)]

    # --- alarm actions ----------------------------------------------------------------
    def set_alarm_actions(self, alarm: str, actions: Sequence[str]) -> None:
        """The alarm's AlarmActions, replacing any it had (none: forget them)."""
        with self._db.write() as conn:
            conn.execute(sa.delete(alarm_actions).where(alarm_actions.c.alarm == alarm))
            unique = list(dict.fromkeys(actions))
            if unique:
                conn.execute(
                    sa.insert(alarm_actions), [{"alarm": alarm, "action": a} for a in unique]
                )

    def alarm_actions(self, alarms: Sequence[str] | None = None) -> dict[str, list[str]]:
        """AlarmActions by alarm name (of `alarms`, or of every alarm that has some)."""
        query = sa.select(alarm_actions)
        if alarms is not None:
            query = query.where(alarm_actions.c.alarm.in_(list(alarms)))
        found: dict[str, list[str]] = {}
        with self._db.read() as conn:
            for row in conn.execute(query.order_by(alarm_actions.c.alarm, alarm_actions.c.action)):
                found.setdefault(row.alarm, []).append(row.action)
        return found


def _of(table: sa.Table, endpoint: str | None, variant: str | None) -> sa.Select[Any]:
    """The table's rows of an endpoint and/or a variant (None: any)."""
    query = sa.select(table)
    if endpoint is not None:
        query = query.where(table.c.endpoint == endpoint)
    if variant is not None:
        query = query.where(table.c.variant == variant)
    return query


def _suspended_document(s: Suspended) -> dict[str, bool]:
    return {"in": s.scale_in, "out": s.scale_out, "scheduled": s.scheduled}


def _target(row: Any) -> ScalableTarget:
    s = row.suspended or {}
    return ScalableTarget(
        endpoint=row.endpoint,
        variant=row.variant,
        min_capacity=row.min_capacity,
        max_capacity=row.max_capacity,
        created_at=row.created_at,
        suspended=Suspended(bool(s.get("in")), bool(s.get("out")), bool(s.get("scheduled"))),
    )


def _policy_document(policy: ScalingPolicy) -> dict[str, Any]:
    t, s = policy.target_tracking, policy.step
    if t is not None:
        return {
            "target_value": t.target_value,
            "metric": {
                "name": t.metric.name,
                "statistic": t.metric.statistic,
                "predefined": t.metric.predefined,
            },
            "scale_out_cooldown": t.scale_out_cooldown,
            "scale_in_cooldown": t.scale_in_cooldown,
            "disable_scale_in": t.disable_scale_in,
        }
    assert s is not None
    return {
        "adjustment_type": s.adjustment_type.value,
        "steps": [
            {"adjustment": x.adjustment, "lower": x.lower, "upper": x.upper} for x in s.steps
        ],
        "cooldown": s.cooldown,
        "min_adjustment_magnitude": s.min_adjustment_magnitude,
        "aggregation": s.aggregation,
    }


def _policy(row: Any) -> ScalingPolicy:
    d = row.document
    common = {
        "name": row.name,
        "endpoint": row.endpoint,
        "variant": row.variant,
        "created_at": row.created_at,
    }
    if row.policy_type == "TargetTrackingScaling":
        m = d["metric"]
        tracking = TargetTracking(
            target_value=float(d["target_value"]),
            metric=MetricSpec(m["name"], m["statistic"], bool(m["predefined"])),
            scale_out_cooldown=int(d["scale_out_cooldown"]),
            scale_in_cooldown=int(d["scale_in_cooldown"]),
            disable_scale_in=bool(d["disable_scale_in"]),
        )
        return ScalingPolicy(**common, target_tracking=tracking)
    step = StepScaling(
        adjustment_type=AdjustmentType(d["adjustment_type"]),
        steps=tuple(Step(x["adjustment"], x["lower"], x["upper"]) for x in d["steps"]),
        cooldown=int(d["cooldown"]),
        min_adjustment_magnitude=d["min_adjustment_magnitude"],
        aggregation=d["aggregation"],
    )
    return ScalingPolicy(**common, step=step)


def _activity_values(a: Activity) -> dict[str, Any]:
    return {
        "activity_id": a.id,
        "endpoint": a.endpoint,
        "variant": a.variant,
        "description": a.description,
        "cause": a.cause,
        "status": a.status.value,
        "direction": a.direction,
        "from_count": a.from_count,
        "to_count": a.to_count,
        "start_time": a.start,
        "end_time": a.end,
        "message": a.message,
    }


def _activity(row: Any) -> Activity:
    return Activity(
        id=row.activity_id,
        endpoint=row.endpoint,
        variant=row.variant,
        description=row.description,
        cause=row.cause,
        status=ActivityStatus(row.status),
        start=row.start_time,
        direction=row.direction,
        from_count=row.from_count,
        to_count=row.to_count,
        end=row.end_time,
        message=row.message,
    )
