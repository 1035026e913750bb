"""Weighted variant choice and least-outstanding instance choice."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from turnout.routing.choice import WeightedChoice, least_outstanding

weights_lists = st.lists(
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=10,
).filter(lambda ws: sum(ws) > 0)


@given(weights_lists)
def test_alias_table_reproduces_the_weights_exactly(weights: list[float]) -> None:
    names = [f"v{i}" for i in range(len(weights))]
    choice = WeightedChoice(names, weights)
    probs = choice.probabilities()
    total = sum(weights)
    by_name = {choice.items[i]: p for i, p in probs.items()}
    for name, w in zip(names, weights, strict=True):
        assert by_name.get(name, 0.0) == pytest.approx(w / total, abs=1e-9)


@given(weights_lists, st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_pick_never_returns_a_zero_weight_item(weights: list[float], u: float) -> None:
    names = list(range(len(weights)))
    picked = WeightedChoice(names, weights).pick(u)
    assert weights[picked] > 0


def test_pick_accepts_the_edges_of_the_unit_interval() -> None:
    choice = WeightedChoice(["a", "b"], [1.0, 3.0])
    assert choice.pick(0.0) in {"a", "b"}
    assert choice.pick(1.0) in {"a", "b"}  # rounding may produce exactly 1.0


@pytest.mark.parametrize("weights", [[0.0, 0.0], [], [-1.0, 2.0]])
def test_refuses_weights_that_route_nothing_or_are_negative(weights: list[float]) -> None:
    with pytest.raises(ValueError):
        WeightedChoice(list(range(len(weights))), weights)


def test_seeded_picks_follow_the_weights_within_a_chi_square_test() -> None:
    weights = [0.5, 0.3, 0.15, 0.05]
    choice = WeightedChoice([0, 1, 2, 3], weights)
    rng = random.Random(7)
    n = 100_000
    counts = [0, 0, 0, 0]
    for _ in range(n):
        counts[choice.pick(rng.random())] += 1
    result = stats.chisquare(counts, [w * n for w in weights])
    assert result.pvalue > 0.001


@dataclass
class Box:
    ready: bool
    outstanding: int


@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 50)), max_size=12),
    st.integers(0, 1000),
)
def test_least_outstanding_picks_a_ready_minimum(
    boxes_spec: list[tuple[bool, int]], start: int
) -> None:
    boxes = [Box(r, o) for r, o in boxes_spec]
    picked = least_outstanding(boxes, start)
    ready = [b for b in boxes if b.ready]
    if not ready:
        assert picked is None
    else:
        assert picked is not None and picked.ready
        assert picked.outstanding == min(b.outstanding for b in ready)


def test_rotating_start_spreads_ties_across_idle_instances() -> None:
    boxes = [Box(True, 0) for _ in range(3)]
    picks = {id(least_outstanding(boxes, turn)) for turn in range(3)}
    assert len(picks) == 3
