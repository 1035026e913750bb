"""Sticky assignment: deterministic, faithful to the weights, monotone under a ramp."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from turnout.routing.assignment import StickyAssignment, assign, unit_draw

KEYS = [f"user-{i}" for i in range(100_000)]
SALT = "endpoint-7f3a"

allocations = st.dictionaries(
    st.sampled_from([f"v{i}" for i in range(10)]),
    st.floats(min_value=0.0, max_value=1000.0, allow_nan=False),
    min_size=1,
    max_size=10,
).filter(lambda a: any(w > 0 for w in a.values()))
keys = st.text(max_size=40)


def assignments(allocation: dict[str, float], keys: list[str] = KEYS) -> list[str]:
    sticky = StickyAssignment(SALT, allocation)
    return [sticky.assign(k) for k in keys]


def assert_within_binomial_bounds(chosen: list[str], allocation: dict[str, float]) -> None:
    """Each variant's count lies in its two-sided 99.99% binomial interval."""
    n, total = len(chosen), sum(allocation.values())
    for name, weight in allocation.items():
        low, high = stats.binom.interval(0.9999, n, weight / total)
        assert low <= chosen.count(name) <= high, (name, chosen.count(name), low, high)


@given(allocations, keys, st.text(max_size=20))
def test_assignment_is_a_pure_function_of_salt_key_and_allocation(
    allocation: dict[str, float], key: str, salt: str
) -> None:
    first = assign(salt, key, allocation)
    assert first == assign(salt, key, dict(reversed(list(allocation.items()))))
    assert first == StickyAssignment(salt, allocation).assign(key)
    assert allocation[first] > 0


@given(allocations, keys)
def test_only_the_weight_ratios_matter(allocation: dict[str, float], key: str) -> None:
    scaled = {v: w * 3.0 for v, w in allocation.items()}
    assert assign(SALT, key, allocation) == assign(SALT, key, scaled)


def test_draws_are_pinned_so_users_keep_their_variant_across_releases() -> None:
    # blake2b of (salt, variant, key): these numbers must never change, or every user moves.
    assert unit_draw("s", "A", "alice") == pytest.approx(0.6874922268918133, abs=1e-15)
    assert unit_draw("s", "B", "alice") == pytest.approx(0.6105552626737656, abs=1e-15)
    assert unit_draw("t", "A", "alice") != unit_draw("s", "A", "alice")
    # Length prefixes: moving a character from salt to variant changes the draw.
    assert unit_draw("ab", "c", "k") != unit_draw("a", "bc", "k")


def test_other_processes_with_other_hash_seeds_assign_the_same() -> None:
    allocation = {"A": 0.7, "B": 0.2, "C": 0.1}
    here = assignments(allocation, KEYS[:2000])
    script = (
        "from turnout.routing.assignment import StickyAssignment\n"
        f"s = StickyAssignment({SALT!r}, {allocation!r})\n"
        "print(','.join(s.assign(f'user-{i}') for i in range(2000)))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().split(",") == here


@pytest.mark.parametrize(
    "allocation",
    [
        {"A": 0.5, "B": 0.5},
        {"control": 0.99, "canary": 0.01},
        {"a": 0.5, "b": 0.3, "c": 0.15, "d": 0.05},
        {f"v{i}": float(i + 1) for i in range(10)},
    ],
)
def test_100k_users_split_as_the_allocation_within_binomial_bounds(
    allocation: dict[str, float],
) -> None:
    assert_within_binomial_bounds(assignments(allocation), allocation)


def test_a_ramp_only_ever_moves_users_into_the_canary() -> None:
    previous: set[int] = set()
    for percent in (1, 5, 25, 50, 100):
        allocation = {"control": 100.0 - percent, "canary": float(percent)}
        chosen = assignments(allocation)
        assert_within_binomial_bounds(chosen, allocation)
        canary = {i for i, v in enumerate(chosen) if v == "canary"}
        assert previous <= canary, f"{len(previous - canary)} users left the canary at {percent}%"
        previous = canary
    assert len(previous) == len(KEYS)


def test_a_ramp_among_three_variants_leaves_the_others_users_in_place() -> None:
    before = assignments({"A": 0.5, "B": 0.45, "canary": 0.05})
    after = assignments({"A": 0.4, "B": 0.36, "canary": 0.24})  # A and B shrink alike
    for old, new in zip(before, after, strict=True):
        assert new in (old, "canary")
    moved = sum(old != new for old, new in zip(before, after, strict=True)) / len(KEYS)
    assert moved == pytest.approx(0.19, abs=0.006)  # exactly the canary's gain must move


@settings(max_examples=60)
@given(
    allocations,
    st.integers(min_value=0, max_value=9),
    st.floats(min_value=0.0, max_value=50.0, allow_nan=False),
)
def test_changing_one_weight_moves_users_only_into_or_out_of_that_variant(
    allocation: dict[str, float], which: int, factor: float
) -> None:
    name = sorted(allocation)[which % len(allocation)]
    changed = {**allocation, name: allocation[name] * factor}
    if not any(w > 0 for w in changed.values()):
        return
    before = assignments(allocation, KEYS[:300])
    after = assignments(changed, KEYS[:300])
    for old, new in zip(before, after, strict=True):
        if old == new:
            continue
        if changed[name] > allocation[name]:
            assert new == name  # growing: users only come in
        else:
            assert old == name  # shrinking: users only leave


def test_shifting_weight_between_two_of_four_variants_moves_few_users() -> None:
    # Changing two weights at once need not be minimal (ADR 0008): it costs at most the two
    # one-weight steps, c halving (0.2 - 0.1/0.9 leave c) then b growing (0.4 - 0.3/0.9 join b).
    before = assignments({"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1})
    after = assignments({"a": 0.4, "b": 0.4, "c": 0.1, "d": 0.1})
    moved = sum(old != new for old, new in zip(before, after, strict=True)) / len(KEYS)
    least, two_steps = 0.1, (0.2 - 0.1 / 0.9) + (0.4 - 0.3 / 0.9)
    assert least - 0.005 <= moved <= two_steps + 0.005


@pytest.mark.parametrize(
    "allocation", [{}, {"A": 0.0}, {"A": -1.0, "B": 2.0}, {"A": float("nan"), "B": 1.0}]
)
def test_refuses_allocations_that_route_nobody_or_are_not_numbers(
    allocation: dict[str, float],
) -> None:
    with pytest.raises(ValueError):
        StickyAssignment(SALT, allocation)


def test_a_zero_weight_variant_gets_nobody() -> None:
    assert "B" not in assignments({"A": 1.0, "B": 0.0, "C": 1.0}, KEYS[:5000])


def test_keys_that_are_not_valid_unicode_still_get_a_variant() -> None:
    key = b"caf\xe9".decode("utf-8", "surrogateescape")  # how a bad header byte may arrive
    assert assign(SALT, key, {"A": 1.0, "B": 1.0}) in {"A", "B"}
