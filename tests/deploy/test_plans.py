"""Traffic-update arithmetic and scale plans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.deploy.plans import (
    DesiredVariant,
    apply_desired,
    initial_states,
    scale_plan,
    serving_states,
    weights_of,
)
from turnout.domain.resources import EndpointConfig, ProductionVariant, VariantState
from turnout.errors import InvalidRequest


def states() -> tuple[VariantState, ...]:
    config = EndpointConfig(
        "cfg",
        (
            ProductionVariant("A", "m-a", initial_instance_count=1, initial_weight=0.5),
            ProductionVariant("B", "m-b", initial_instance_count=2, initial_weight=0.5),
        ),
    )
    return serving_states(initial_states(config))


def test_apply_desired_changes_only_what_was_asked() -> None:
    new = apply_desired("cfg", states(), [DesiredVariant("A", weight=0.9)])
    a, b = new
    assert (a.desired_weight, a.current_weight) == (0.9, 0.5)
    assert a.desired_instance_count == 1
    assert b == states()[1]


def test_apply_desired_sets_instance_counts() -> None:
    new = apply_desired("cfg", states(), [DesiredVariant("B", instance_count=3)])
    assert new[1].desired_instance_count == 3
    assert new[1].current_instance_count == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ([], "at least one variant"),
        ([DesiredVariant("C", weight=1.0)],
         'The variant name(s) "C" is/are not present within endpoint configuration "cfg".'),
        ([DesiredVariant("A", 1.0), DesiredVariant("A", 2.0)],
         'The variant name "A" was non-unique within the request.'),
        ([DesiredVariant("A")], "weight or an instance count"),
        ([DesiredVariant("A", weight=-1.0)], "Invalid weight"),
        ([DesiredVariant("A", weight=float("nan"))], "Invalid weight"),
        ([DesiredVariant("A", instance_count=0)], "Invalid instance count"),
        ([DesiredVariant("A", 0.0), DesiredVariant("B", 0.0)], "weight > 0"),
    ],
)  # fmt: skip
def test_apply_desired_refuses_bad_requests(changes: list[DesiredVariant], message: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        apply_desired("cfg", states(), changes)
    assert message in str(err.value)


@given(st.sets(st.integers(1, 40), max_size=20), st.integers(0, 40))
def test_scale_plan_reaches_the_desired_count(running: set[int], desired: int) -> None:
    to_start, to_stop = scale_plan(running, desired)
    assert not (to_start and to_stop)
    after = (running | set(to_start)) - set(to_stop)
    assert len(after) == desired
    assert not set(to_start) & running
    assert set(to_stop) <= running
    if to_stop:  # the longest-lived (lowest index) instances stay
        assert max(after, default=0) < min(to_stop)


def test_weights_fall_back_to_desired_before_first_serve() -> None:
    fresh = initial_states(EndpointConfig("c", (ProductionVariant("A", "m", 1, 0.25),)))
    assert weights_of(fresh, current=True) == {"A": 0.25}
