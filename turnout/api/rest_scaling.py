"""The native REST API's view of autoscaling (ADR 0036): scalable targets with their
policies, and each endpoint's scaling activities. Changes go through Application Auto
Scaling's API (boto3 "application-autoscaling"); this is what people and the CLI read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from turnout.deploy.scaling_service import ScalingService
from turnout.domain.scaling import Activity, ScalableTarget, ScalingPolicy


class PolicyOut(BaseModel):
    name: str
    type: str = Field(description="TargetTrackingScaling or StepScaling.")
    summary: str = Field(description="What it does, in one line.")

    @classmethod
    def of(cls, p: ScalingPolicy) -> PolicyOut:
        return cls(name=p.name, type=p.type.value, summary=summary(p))


class TargetOut(BaseModel):
    endpoint: str
    variant: str
    resource_id: str
    min_capacity: int
    max_capacity: int
    created_at: float
    suspended: list[str] = Field(description="What is suspended: scale-in, scale-out.")
    policies: list[PolicyOut]

    @classmethod
    def of(cls, t: ScalableTarget, policies: list[ScalingPolicy]) -> TargetOut:
        suspended = [
            word
            for word, on in (
                ("scale-in", t.suspended.scale_in),
                ("scale-out", t.suspended.scale_out),
            )
            if on
        ]
        return cls(
            endpoint=t.endpoint,
            variant=t.variant,
            resource_id=t.resource_id,
            min_capacity=t.min_capacity,
            max_capacity=t.max_capacity,
            created_at=t.created_at,
            suspended=suspended,
            policies=[PolicyOut.of(p) for p in policies if p.resource_id == t.resource_id],
        )


class ActivityOut(BaseModel):
    id: str
    endpoint: str
    variant: str
    status: str = Field(description="InProgress, Successful or Failed.")
    direction: str = Field(description="out or in.")
    from_count: int
    to_count: int
    description: str
    cause: str
    message: str | None
    start: float
    end: float | None

    @classmethod
    def of(cls, a: Activity) -> ActivityOut:
        return cls(
            id=a.id, endpoint=a.endpoint, variant=a.variant, status=a.status.value,
            direction=a.direction, from_count=a.from_count, to_count=a.to_count,
            description=a.description, cause=a.cause, message=a.message, start=a.start,
            end=a.end,
        )  # fmt: skip


class ScalingOut(BaseModel):
    targets: list[TargetOut]
    activities: list[ActivityOut] = Field(description="Newest first.")


def summary(p: ScalingPolicy) -> str:
    t, s = p.target_tracking, p.step
    if t is not None:
        metric = (
            "invocations per instance per minute"
            if t.metric.predefined
            else f"{t.metric.name} ({t.metric.statistic})"
        )
        text = (
            f"keep {metric} at {t.target_value:g}; cooldowns out {t.scale_out_cooldown} s, "
            f"in {t.scale_in_cooldown} s"
        )
        return text + (", no scale-in" if t.disable_scale_in else "")
    assert s is not None
    steps = ", ".join(
        f"[{'-inf' if x.lower is None else f'{x.lower:g}'}, "
        f"{'inf' if x.upper is None else f'{x.upper:g}'}): {x.adjustment:+d}"
        for x in s.steps
    )
    return f"{s.adjustment_type.value} by alarm distance {steps}; cooldown {s.cooldown} s"


def scaling_routes(scaling: ScalingService, errors: dict[int | str, dict[str, Any]]) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["autoscaling"])

    @api.get("/scaling/targets", responses=errors)
    def scalable_targets() -> list[TargetOut]:
        """Every scalable target (a variant's instance count range) with its policies."""
        policies = scaling.policies()
        return [TargetOut.of(t, policies) for t in scaling.targets()]

    @api.get("/endpoints/{name}/scaling", responses=errors)
    def endpoint_scaling(name: str, limit: int = Query(20, ge=1, le=200)) -> ScalingOut:
        """The endpoint's scalable targets and its recent scaling activities."""
        policies = scaling.policies(name)
        return ScalingOut(
            targets=[TargetOut.of(t, policies) for t in scaling.targets(name)],
            activities=[ActivityOut.of(a) for a in scaling.activities(name, limit=limit)],
        )

    @api.get("/endpoints/{name}/scaling/activities", responses=errors)
    def scaling_activities(
        name: str, variant: str | None = None, limit: int = Query(50, ge=1, le=200)
    ) -> list[ActivityOut]:
        """The endpoint's scaling activities, newest first."""
        return [ActivityOut.of(a) for a in scaling.activities(name, variant, limit=limit)]

    return api
