"""Experiment phases: the same weights and assignment keep the phase, a change starts the
next one, never earlier than the previous phase's start."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.experiments.phases import Phase, current_phase, fingerprint, shares_of

weights = st.dictionaries(
    st.sampled_from(["A", "B", "C"]), st.floats(0, 100, allow_nan=False), min_size=1
)


@given(weights)
def test_shares_of_the_experiments_variants_add_up_to_one(found: dict[str, float]) -> None:
    shares = shares_of(["A", "B"], found)
    assert set(shares) == {"A", "B"}
    assert sum(shares.values()) == pytest.approx(1.0)
    if found.get("A", 0) + found.get("B", 0) > 0:
        assert shares["A"] == pytest.approx(
            found.get("A", 0) / (found.get("A", 0) + found.get("B", 0))
        )


@given(weights, st.floats(0, 1e9), st.floats(0, 1e9))
def test_nothing_changed_keeps_the_phase(found: dict[str, float], a: float, b: float) -> None:
    shares = shares_of(["A", "B"], found)
    first = current_phase(None, shares, "x", created_at=a, changed_at=b)
    assert (first.number, first.start) == (1, a)
    assert current_phase(first, dict(shares), "x", created_at=a, changed_at=b + 5) is first


def test_a_weight_or_assignment_change_starts_the_next_phase() -> None:
    first = current_phase(None, {"A": 0.9, "B": 0.1}, "x", created_at=100.0, changed_at=50.0)
    second = current_phase(first, {"A": 0.5, "B": 0.5}, "x", created_at=100.0, changed_at=200.0)
    assert (second.number, second.start, dict(second.shares)) == (2, 200.0, {"A": 0.5, "B": 0.5})
    # A change stamped before the phase began (an older modification) starts it no earlier.
    third = current_phase(second, {"A": 0.5, "B": 0.5}, "y", created_at=100.0, changed_at=150.0)
    assert (third.number, third.start) == (3, 200.0)
    assert Phase.of_document(third.document()) == third


def test_the_assignment_fingerprint_follows_salt_and_rules() -> None:
    rules = [{"variant": "B", "users": ["alice"]}]
    assert fingerprint("s", rules) == fingerprint("s", [dict(r) for r in rules])
    assert fingerprint("s", rules) != fingerprint("t", rules)
    assert fingerprint("s", rules) != fingerprint("s", [])
