"""Traffic-shift plans of a guarded blue/green deployment (SageMaker's BlueGreenUpdatePolicy).

Pure: a policy and the green fleet's size in, the steps out. Each step gives the share of the
endpoint's traffic the green fleet takes and how long to bake there (watching alarms) before
the next. The last step is always 100% green, baked too, as SageMaker does.

turnout's weights are continuous, so a step's share is the exact capacity fraction: a 10%
CAPACITY_PERCENT canary takes 10% of the traffic even when the fleet has one instance (where
SageMaker, which routes by instance, would need ten). INSTANCE_COUNT sizes are fractions of
the green fleet's total instance count. See docs/adr/0007-traffic-shifting.md.
"""

from __future__ import annotations

import math

from turnout.domain.shifting import BlueGreenPolicy, CapacitySize, RoutingType, Step, TrafficRouting
from turnout.errors import InvalidRequest

# SageMaker's limits (botocore's service model and the API reference).
MAX_WAIT_S = 3600
MIN_EXECUTION_TIMEOUT_S, MAX_EXECUTION_TIMEOUT_S = 600, 28800
MAX_CANARY_FRACTION = 0.5
MIN_LINEAR_FRACTION, MAX_LINEAR_FRACTION = 0.1, 0.5


def validate(policy: BlueGreenPolicy, fleet_instances: int) -> None:
    """InvalidRequest, worded like SageMaker's, if the policy cannot apply to this fleet."""
    routing = policy.routing
    _check_range("WaitIntervalInSeconds", routing.wait_interval_s, 0, MAX_WAIT_S)
    _check_range("TerminationWaitInSeconds", policy.termination_wait_s, 0, MAX_WAIT_S)
    if policy.max_execution_timeout_s is not None:
        _check_range(
            "MaximumExecutionTimeoutInSeconds",
            policy.max_execution_timeout_s,
            MIN_EXECUTION_TIMEOUT_S,
            MAX_EXECUTION_TIMEOUT_S,
        )
    if routing.type is RoutingType.CANARY:
        size = _required(routing.canary_size, "CanarySize", routing.type)
        _check_size("CanarySize", size, fleet_instances, 0.0, MAX_CANARY_FRACTION)
    elif routing.type is RoutingType.LINEAR:
        size = _required(routing.linear_step_size, "LinearStepSize", routing.type)
        _check_size(
            "LinearStepSize", size, fleet_instances, MIN_LINEAR_FRACTION, MAX_LINEAR_FRACTION
        )
    if policy.max_execution_timeout_s is not None:
        needed = sum(step.bake_s for step in steps(routing, fleet_instances))
        needed += policy.termination_wait_s
        if needed > policy.max_execution_timeout_s:
            raise InvalidRequest(
                f"MaximumExecutionTimeoutInSeconds ({policy.max_execution_timeout_s}) must be "
                f"at least the deployment's baking and termination waits ({needed} seconds)."
            )


def steps(routing: TrafficRouting, fleet_instances: int) -> list[Step]:
    """The plan: green's share after each step; the last is 1.0. Assumes `validate` passed."""
    bake = routing.wait_interval_s
    if routing.type is RoutingType.ALL_AT_ONCE:
        return [Step(1.0, bake)]
    if routing.type is RoutingType.CANARY:
        assert routing.canary_size is not None
        return [Step(routing.canary_size.fraction(fleet_instances), bake), Step(1.0, bake)]
    assert routing.linear_step_size is not None
    size = routing.linear_step_size.fraction(fleet_instances)
    count = math.ceil(1 / size - 1e-9)  # 0.25 → 4 steps; 0.3 → 0.3, 0.6, 0.9, 1.0
    return [Step(min(1.0, round(size * (i + 1), 12)), bake) for i in range(count - 1)] + [
        Step(1.0, bake)
    ]


def _required(size: CapacitySize | None, name: str, kind: RoutingType) -> CapacitySize:
    if size is None:
        raise InvalidRequest(f"{name} must be specified for traffic routing type {kind.value}.")
    return size


def _check_size(
    name: str, size: CapacitySize, fleet_instances: int, low: float, high: float
) -> None:
    if size.value < 1:
        raise InvalidRequest(f"{name} Value must be at least 1.")
    fraction = size.fraction(fleet_instances)
    if not low <= fraction <= high:
        bounds = f"between {low:.0%} and {high:.0%}" if low else f"at most {high:.0%}"
        raise InvalidRequest(
            f"{name} ({size.value} {size.type.value}) must be {bounds} of the variant's total "
            f"instance count ({fleet_instances})."
        )


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}; got {value}.")
