"""Autoscaling as Application Auto Scaling describes it: scalable targets (a variant's
instance count between a minimum and a maximum), scaling policies (target tracking or step
scaling) and scaling activities (what was changed, and why). Plain data (ADR 0036)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
PREDEFINED_METRIC = "SageMakerVariantInvocationsPerInstance"


class PolicyType(StrEnum):
    TARGET_TRACKING = "TargetTrackingScaling"
    STEP = "StepScaling"


class AdjustmentType(StrEnum):
    CHANGE = "ChangeInCapacity"
    PERCENT = "PercentChangeInCapacity"
    EXACT = "ExactCapacity"


class ActivityStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"

    @property
    def finished(self) -> bool:
        return self in (ActivityStatus.SUCCESSFUL, ActivityStatus.FAILED)


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def parse_resource_id(value: str) -> tuple[str, str] | None:
    """`endpoint/NAME/variant/VARIANT` -> (NAME, VARIANT); None if not of that form."""
    parts = value.split("/")
    if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant":
        return None
    if not parts[1] or not parts[3]:
        return None
    return parts[1], parts[3]


@dataclass(frozen=True)
class Suspended:
    scale_in: bool = False  # DynamicScalingInSuspended
    scale_out: bool = False  # DynamicScalingOutSuspended
    scheduled: bool = False  # ScheduledScalingSuspended (kept; turnout has no schedules)


@dataclass(frozen=True)
class ScalableTarget:
    endpoint: str
    variant: str
    min_capacity: int
    max_capacity: int
    created_at: float
    suspended: Suspended = Suspended()

    @property
    def resource_id(self) -> str:
        return resource_id(self.endpoint, self.variant)


@dataclass(frozen=True)
class MetricSpec:
    """What a target-tracking policy tracks: the predefined invocations per instance per
    minute, or one of turnout's CloudWatch metrics with a statistic."""

    name: str = "InvocationsPerInstance"
    statistic: str = "Sum"
    predefined: bool = True


@dataclass(frozen=True)
class TargetTracking:
    target_value: float
    metric: MetricSpec = MetricSpec()
    scale_out_cooldown: int = 300  # s; AWS's default for SageMaker
    scale_in_cooldown: int = 300
    disable_scale_in: bool = False


@dataclass(frozen=True)
class Step:
    """Adjust by `adjustment` when lower <= metric - threshold < upper (None: unbounded)."""

    adjustment: int
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class StepScaling:
    adjustment_type: AdjustmentType
    steps: tuple[Step, ...]
    cooldown: int = 0
    min_adjustment_magnitude: int | None = None
    aggregation: str = "Average"


@dataclass(frozen=True)
class ScalingPolicy:
    name: str
    endpoint: str
    variant: str
    created_at: float
    target_tracking: TargetTracking | None = None
    step: StepScaling | None = None

    @property
    def type(self) -> PolicyType:
        return PolicyType.TARGET_TRACKING if self.target_tracking else PolicyType.STEP

    @property
    def resource_id(self) -> str:
        return resource_id(self.endpoint, self.variant)


@dataclass(frozen=True)
class Activity:
    """One change of a variant's instance count (or one that could not be made)."""

    id: str
    endpoint: str
    variant: str
    description: str
    cause: str
    status: ActivityStatus
    start: float
    direction: str  # "out" or "in"
    from_count: int
    to_count: int
    end: float | None = None
    message: str | None = None

    @property
    def resource_id(self) -> str:
        return resource_id(self.endpoint, self.variant)


def policy_arn(region: str, account: str, policy: ScalingPolicy) -> str:
    """AWS's form: arn:aws:autoscaling:R:A:scalingPolicy:<id>:resource/sagemaker/<rid>:
    policyName/<name>; the id is derived from the resource and name, so it is stable."""
    ident = uuid.uuid5(uuid.NAMESPACE_URL, f"{policy.resource_id}/{policy.name}")
    return (
        f"arn:aws:autoscaling:{region}:{account}:scalingPolicy:{ident}:resource/{NAMESPACE}/"
        f"{policy.resource_id}:policyName/{policy.name}"
    )


def target_arn(region: str, account: str, target: ScalableTarget) -> str:
    ident = uuid.uuid5(uuid.NAMESPACE_URL, target.resource_id).hex
    return f"arn:aws:application-autoscaling:{region}:{account}:scalable-target/{ident}"


def policy_of_arn(arn: str) -> tuple[str, str, str] | None:
    """(endpoint, variant, policy name) a scaling policy's ARN names; None for another ARN."""
    if not arn.startswith("arn:aws:autoscaling:"):
        return None
    _, found, rest = arn.partition(f":resource/{NAMESPACE}/")
    resource, found2, name = rest.partition(":policyName/")
    parsed = parse_resource_id(resource) if found and found2 and name else None
    return None if parsed is None else (*parsed, name)
