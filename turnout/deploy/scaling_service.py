"""Autoscaling's service layer: register targets, put policies, read activities (ADR 0036).

Both facades (Application Auto Scaling's AWS JSON and the native REST API) call this; it
checks what AWS checks and says what to do in InvalidRequest/NotFound. The controller's
autoscaler (turnout.deploy.autoscaler) acts on what is stored here.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import replace

from turnout.deploy.validation import MAX_INSTANCES_PER_VARIANT
from turnout.domain.rollups import STATISTICS, Metric
from turnout.domain.scaling import (
    Activity,
    ScalableTarget,
    ScalingPolicy,
    StepScaling,
    Suspended,
    TargetTracking,
    resource_id,
)
from turnout.errors import InvalidRequest, NotFound
from turnout.metrics.scaling import ScalingActivities
from turnout.store import Store
from turnout.store.scaling import ScalingStore

TARGET = "scalable target"
POLICY = "scaling policy"
MAX_POLICIES_PER_TARGET = 50
MAX_STEPS = 20
MAX_COOLDOWN = 24 * 3600  # s


class ScalingService:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self.rows = ScalingStore(store)
        self._clock = clock
        self.activity_counts = ScalingActivities()  # the autoscaler counts what it starts

    def register_target(
        self,
        endpoint: str,
        variant: str,
        min_capacity: int | None,
        max_capacity: int | None,
        suspended: Suspended | None = None,
    ) -> ScalableTarget:
        """Register a variant's instance count as scalable, or change its range."""
        found = self._store.get_endpoint(endpoint)  # NotFound: no endpoint
        state = found.variant(variant)
        if state is None:
            raise InvalidRequest(
                f"The endpoint {endpoint} has no production variant {variant}; register one "
                "of its variants."
            )
        declared = self._store.get_endpoint_config(found.config_name).variant(variant)
        if declared is not None and declared.serverless is not None:
            raise InvalidRequest(
                f"The variant {variant} of endpoint {endpoint} is serverless: its instances "
                "follow its requests already (ServerlessConfig); there is no instance count to "
                "scale."
            )
        existing = next((t for t in self.rows.targets(endpoint) if t.variant == variant), None)
        if existing is None and (min_capacity is None or max_capacity is None):
            raise InvalidRequest(
                "MinCapacity and MaxCapacity are required to register a new scalable target."
            )
        low = min_capacity if min_capacity is not None else existing.min_capacity  # type: ignore[union-attr]
        high = max_capacity if max_capacity is not None else existing.max_capacity  # type: ignore[union-attr]
        if not 1 <= low <= high <= MAX_INSTANCES_PER_VARIANT:
            raise InvalidRequest(
                f"MinCapacity ({low}) and MaxCapacity ({high}) must satisfy 1 <= MinCapacity "
                f"<= MaxCapacity <= {MAX_INSTANCES_PER_VARIANT} (turnout's instances per variant)."
            )
        target = ScalableTarget(
            endpoint,
            variant,
            low,
            high,
            self._clock(),
            suspended
            if suspended is not None
            else (existing.suspended if existing else Suspended()),
        )
        return self.rows.put_target(target)

    def deregister_target(self, endpoint: str, variant: str) -> None:
        if not self.rows.delete_target(endpoint, variant):
            raise NotFound(TARGET, resource_id(endpoint, variant))

    def target(self, endpoint: str, variant: str) -> ScalableTarget:
        found = next((t for t in self.rows.targets(endpoint) if t.variant == variant), None)
        if found is None:
            raise NotFound(TARGET, resource_id(endpoint, variant))
        return found

    def targets(self, endpoint: str | None = None) -> list[ScalableTarget]:
        return self.rows.targets(endpoint)

    def put_policy(self, policy: ScalingPolicy) -> ScalingPolicy:
        """Create or replace a policy of a registered target."""
        self.target(policy.endpoint, policy.variant)
        if policy.target_tracking is not None:
            check_target_tracking(policy.target_tracking)
        elif policy.step is not None:
            check_step(policy.step)
        others = [
            p for p in self.rows.policies(policy.endpoint, policy.variant) if p.name != policy.name
        ]
        if len(others) >= MAX_POLICIES_PER_TARGET:
            raise InvalidRequest(
                f"A scalable target has at most {MAX_POLICIES_PER_TARGET} scaling policies; "
                "delete one first."
            )
        return self.rows.put_policy(replace(policy, created_at=self._clock()))

    def delete_policy(self, endpoint: str, variant: str, name: str) -> None:
        if not self.rows.delete_policy(endpoint, variant, name):
            raise NotFound(POLICY, name)

    def policies(
        self, endpoint: str | None = None, variant: str | None = None
    ) -> list[ScalingPolicy]:
        return self.rows.policies(endpoint, variant)

    def activities(
        self, endpoint: str | None = None, variant: str | None = None, *, limit: int = 50,
        offset: int = 0,
    ) -> list[Activity]:  # fmt: skip
        return self.rows.activities(endpoint, variant, limit=limit, offset=offset)


def check_target_tracking(t: TargetTracking) -> None:
    if not t.target_value > 0:
        raise InvalidRequest("TargetValue must be greater than 0.")
    for name, value in (
        ("ScaleInCooldown", t.scale_in_cooldown),
        ("ScaleOutCooldown", t.scale_out_cooldown),
    ):
        _check_cooldown(name, value)
    if t.metric.predefined:
        return
    try:
        Metric(t.metric.name)
    except ValueError:
        raise InvalidRequest(
            f"turnout serves no metric {t.metric.name} in AWS/SageMaker; use one of "
            f"{', '.join(m.value for m in Metric)}."
        ) from None
    if t.metric.statistic not in STATISTICS:
        raise InvalidRequest(f"Unsupported statistic {t.metric.statistic}.")


def check_step(s: StepScaling) -> None:
    if not s.steps:
        raise InvalidRequest("StepAdjustments must have at least one step adjustment.")
    if len(s.steps) > MAX_STEPS:
        raise InvalidRequest(f"StepAdjustments may have at most {MAX_STEPS} steps.")
    _check_cooldown("Cooldown", s.cooldown)
    for step in s.steps:
        if step.lower is None and step.upper is None and len(s.steps) > 1:
            raise InvalidRequest("Only one step adjustment may have no bounds at all.")
        if step.lower is not None and step.upper is not None and step.lower >= step.upper:
            raise InvalidRequest(
                "MetricIntervalLowerBound must be less than MetricIntervalUpperBound."
            )
    ordered = sorted(s.steps, key=lambda x: float("-inf") if x.lower is None else x.lower)
    for before, after in itertools.pairwise(ordered):
        if before.upper is None or after.lower is None or before.upper > after.lower:
            raise InvalidRequest("Step adjustments' metric intervals must not overlap.")
    if s.min_adjustment_magnitude is not None and s.min_adjustment_magnitude < 1:
        raise InvalidRequest("MinAdjustmentMagnitude must be at least 1.")


def _check_cooldown(name: str, value: int) -> None:
    if not 0 <= value <= MAX_COOLDOWN:
        raise InvalidRequest(f"{name} must be from 0 to {MAX_COOLDOWN} seconds.")
