from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.deploy.shifting import steps, validate
from turnout.domain.shifting import (
    BlueGreenPolicy,
    CapacitySize,
    CapacityType,
    RoutingType,
    TrafficRouting,
)
from turnout.errors import InvalidRequest

percent = CapacityType.CAPACITY_PERCENT
count = CapacityType.INSTANCE_COUNT


def routing(kind: RoutingType, size: CapacitySize | None = None, wait: int = 2) -> TrafficRouting:
    return TrafficRouting(
        kind,
        wait,
        canary_size=size if kind is RoutingType.CANARY else None,
        linear_step_size=size if kind is RoutingType.LINEAR else None,
    )


def test_the_three_routing_types() -> None:
    assert [(s.green_share, s.bake_s) for s in steps(routing(RoutingType.ALL_AT_ONCE), 1)] == [
        (1.0, 2)
    ]
    canary = steps(routing(RoutingType.CANARY, CapacitySize(percent, 10)), 1)
    assert [s.green_share for s in canary] == [0.1, 1.0]
    linear = steps(routing(RoutingType.LINEAR, CapacitySize(percent, 25)), 1)
    assert [s.green_share for s in linear] == [0.25, 0.5, 0.75, 1.0]
    by_instances = steps(routing(RoutingType.LINEAR, CapacitySize(count, 1)), 3)
    assert [round(s.green_share, 6) for s in by_instances] == [0.333333, 0.666667, 1.0]


valid_linear = st.tuples(st.integers(10, 50), st.integers(0, 3600))


@given(valid_linear)
def test_linear_plans_rise_by_the_step_and_end_at_everything(args: tuple[int, int]) -> None:
    step_percent, wait = args
    plan = steps(routing(RoutingType.LINEAR, CapacitySize(percent, step_percent), wait), 4)
    shares = [s.green_share for s in plan]
    assert shares[-1] == 1.0
    assert all(0 < a < b for a, b in pairwise(shares))
    assert shares[0] == pytest.approx(step_percent / 100)
    # every step but the last adds exactly one step size; the last adds at most one
    gaps = [b - a for a, b in pairwise([0.0, *shares])]
    assert all(g == pytest.approx(step_percent / 100) for g in gaps[:-1])
    assert 0 < gaps[-1] <= step_percent / 100 + 1e-9
    assert all(s.bake_s == wait for s in plan)


@given(st.integers(1, 20), st.integers(1, 20))
def test_instance_count_sizes_are_fractions_of_the_fleet(size: int, fleet: int) -> None:
    policy = BlueGreenPolicy(routing(RoutingType.CANARY, CapacitySize(count, size)))
    if size / fleet <= 0.5:
        validate(policy, fleet)
        assert steps(policy.routing, fleet)[0].green_share == pytest.approx(size / fleet)
    else:
        with pytest.raises(InvalidRequest, match="CanarySize"):
            validate(policy, fleet)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (BlueGreenPolicy(routing(RoutingType.CANARY)), "CanarySize must be specified"),
        (BlueGreenPolicy(routing(RoutingType.LINEAR)), "LinearStepSize must be specified"),
        (
            BlueGreenPolicy(routing(RoutingType.CANARY, CapacitySize(percent, 60))),
            "at most 50%",
        ),
        (
            BlueGreenPolicy(routing(RoutingType.LINEAR, CapacitySize(percent, 5))),
            "between 10% and 50%",
        ),
        (BlueGreenPolicy(routing(RoutingType.ALL_AT_ONCE, wait=3601)), "WaitIntervalInSeconds"),
        (
            BlueGreenPolicy(routing(RoutingType.ALL_AT_ONCE), termination_wait_s=-1),
            "TerminationWaitInSeconds",
        ),
        (
            BlueGreenPolicy(routing(RoutingType.ALL_AT_ONCE), max_execution_timeout_s=599),
            "MaximumExecutionTimeoutInSeconds must be between 600",
        ),
        (
            BlueGreenPolicy(
                routing(RoutingType.LINEAR, CapacitySize(percent, 10), wait=300),
                max_execution_timeout_s=600,
            ),
            "at least the deployment's baking",
        ),
    ],
)
def test_invalid_policies_are_refused_with_sagemaker_wording(
    policy: BlueGreenPolicy, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        validate(policy, 1)
