"""Outlier ejection's policy (turnout.routing.outliers): pure logic, clock passed in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnout.routing.outliers import (
    OFF,
    OutlierPolicy,
    OutlierStats,
    ejection_time,
    fail,
    latency_outliers,
    max_ejected,
    sweep,
)

POLICY = OutlierPolicy(base_ejection_time=10.0, max_ejection_time=35.0)
FAST_US, SLOW_US = 2_000.0, 200_000.0


def warmed(latencies_us: list[float], policy: OutlierPolicy = POLICY) -> list[OutlierStats]:
    """One stats per latency, each with enough answers to be judged."""
    stats = [OutlierStats() for _ in latencies_us]
    for s, latency in zip(stats, latencies_us, strict=True):
        for _ in range(policy.min_samples):
            s.observe(latency, policy)
    return stats


# -- the cap ---------------------------------------------------------------------------


@given(st.integers(0, 200), st.floats(0.0, 100.0))
def test_never_all_and_at_least_one_of_two_or_more(hosts: int, percent: float) -> None:
    allowed = max_ejected(hosts, OutlierPolicy(max_ejection_percent=percent))
    assert 0 <= allowed <= max(hosts - 1, 0)
    if hosts >= 2 and percent > 0:
        assert allowed >= 1
    if percent == 0:
        assert allowed == 0


def test_the_percentage_rounds_down() -> None:
    assert [max_ejected(n, OutlierPolicy(max_ejection_percent=50)) for n in range(1, 7)] == [
        0, 1, 1, 2, 2, 3,
    ]  # fmt: skip
    assert max_ejected(10, OutlierPolicy(max_ejection_percent=10)) == 1


# -- consecutive failures ---------------------------------------------------------------


def test_a_streak_of_failures_ejects_and_a_success_breaks_it() -> None:
    stats = [OutlierStats() for _ in range(4)]
    for _ in range(POLICY.consecutive_failures - 1):
        assert not fail(stats[0], stats, POLICY, now=0.0)
    stats[0].observe(FAST_US, POLICY)  # the streak starts again
    for _ in range(POLICY.consecutive_failures - 1):
        assert not fail(stats[0], stats, POLICY, now=0.0)
    assert fail(stats[0], stats, POLICY, now=5.0)
    assert stats[0].ejected and stats[0].ejected_until == 5.0 + POLICY.base_ejection_time
    assert stats[0].ejections == 1


@given(st.integers(1, 12), st.lists(st.integers(0, 11), max_size=300))
def test_failures_never_eject_more_than_the_cap(hosts: int, failing: list[int]) -> None:
    """Whichever instances fail, in whatever order, the cap holds and one stays in."""
    stats = [OutlierStats() for _ in range(hosts)]
    for i in failing:
        fail(stats[i % hosts], stats, POLICY, now=0.0)
        assert sum(s.ejected for s in stats) <= max_ejected(hosts, POLICY)
    assert any(not s.ejected for s in stats)


def test_a_policy_that_is_off_never_ejects() -> None:
    stats = [OutlierStats() for _ in range(4)]
    for _ in range(100):
        assert not fail(stats[0], stats, OFF, now=0.0)
    assert not OFF.enabled and POLICY.enabled


# -- latency ----------------------------------------------------------------------------


def test_the_one_slow_instance_of_four_is_the_outlier() -> None:
    assert latency_outliers([FAST_US, FAST_US, SLOW_US, FAST_US], 3.0, 10_000.0, 3) == [2]


def test_small_absolute_differences_are_not_outliers() -> None:
    """A 0.5 ms model at 2 ms is 4x slower but within the floor: jitter, not an outlier."""
    assert latency_outliers([500.0, 500.0, 2_000.0, 500.0], 3.0, 10_000.0, 3) == []


def test_too_few_judged_instances_compare_nothing() -> None:
    assert latency_outliers([FAST_US, SLOW_US], 3.0, 10_000.0, 3) == []
    assert latency_outliers([FAST_US, None, SLOW_US, None], 3.0, 10_000.0, 3) == []


@given(
    st.lists(st.one_of(st.none(), st.floats(0.0, 1e8)), max_size=20),
    st.floats(1.0, 10.0),
    st.floats(0.0, 1e5),
)
def test_outliers_are_far_above_the_median_and_at_most_half(
    latencies: list[float | None], factor: float, floor: float
) -> None:
    found = latency_outliers(latencies, factor, floor, 3)
    known = sorted(x for x in latencies if x is not None)
    assert len(found) <= len(known) // 2
    if found:
        mid = len(known) // 2
        median = known[mid] if len(known) % 2 else (known[mid - 1] + known[mid]) / 2
        for i in found:
            value = latencies[i]
            assert value is not None and value > median * factor and value > median + floor


def test_a_sweep_ejects_the_slow_instance_and_returns_it_when_its_time_is_up() -> None:
    stats = warmed([FAST_US, FAST_US, SLOW_US, FAST_US])
    assert sweep(stats, POLICY, now=100.0) == [2]
    assert [s.ejected for s in stats] == [False, False, True, False]
    assert sweep(stats, POLICY, now=100.0 + POLICY.base_ejection_time - 0.1) == []
    assert stats[2].ejected
    sweep(stats, POLICY, now=100.0 + POLICY.base_ejection_time)
    assert not stats[2].ejected
    assert stats[2].samples == 0  # judged afresh on what it answers from now on


def test_repeated_ejections_last_longer_up_to_the_maximum() -> None:
    stats = warmed([FAST_US, FAST_US, SLOW_US, FAST_US])
    now, lengths = 0.0, []
    for _ in range(5):
        assert sweep(stats, POLICY, now) == [2]
        lengths.append(stats[2].ejected_until - now)
        now = stats[2].ejected_until
        sweep(stats, POLICY, now)  # returns it
        for _ in range(POLICY.min_samples):  # still slow
            stats[2].observe(SLOW_US, POLICY)
    assert lengths == [10.0, 20.0, 30.0, 35.0, 35.0]
    assert stats[2].ejections == 5


def test_healthy_intervals_after_a_return_shorten_the_next_ejection() -> None:
    stats = warmed([FAST_US, FAST_US, SLOW_US, FAST_US])
    sweep(stats, POLICY, now=0.0)
    sweep(stats, POLICY, now=POLICY.base_ejection_time)  # back
    for _ in range(POLICY.min_samples):  # and fast now
        stats[2].observe(FAST_US, POLICY)
    sweep(stats, POLICY, now=POLICY.base_ejection_time + 1)
    assert stats[2].multiplier == 0
    assert ejection_time(stats[2].multiplier + 1, POLICY) == POLICY.base_ejection_time


def test_an_instance_needs_enough_answers_to_be_judged() -> None:
    stats = warmed([FAST_US, FAST_US, FAST_US])
    slow = OutlierStats()
    for _ in range(POLICY.min_samples - 1):
        slow.observe(SLOW_US, POLICY)
    assert sweep([*stats, slow], POLICY, now=0.0) == []
    slow.observe(SLOW_US, POLICY)
    assert sweep([*stats, slow], POLICY, now=0.0) == [3]


@given(
    st.lists(st.floats(100.0, 1e6), min_size=1, max_size=12),
    st.floats(0.0, 100.0),
    st.integers(1, 6),
)
def test_sweeps_keep_the_cap_and_one_instance_in(
    latencies: list[float], percent: float, rounds: int
) -> None:
    policy = OutlierPolicy(max_ejection_percent=percent)
    stats = warmed(latencies, policy)
    for k in range(rounds):
        sweep(stats, policy, now=float(k))
        assert sum(s.ejected for s in stats) <= max_ejected(len(stats), policy)
        assert any(not s.ejected for s in stats)


def test_the_average_follows_recent_answers() -> None:
    policy = OutlierPolicy(min_samples=1, ewma_alpha=0.5)
    s = OutlierStats()
    s.observe(1_000.0, policy)
    assert s.ewma_us == 1_000.0
    s.observe(3_000.0, policy)
    assert s.ewma_us == 2_000.0
    assert s.samples == 2


def test_a_cold_start_is_not_held_against_an_instance() -> None:
    stats = warmed([FAST_US, FAST_US, FAST_US])
    cold = OutlierStats()
    cold.observe(50 * SLOW_US, POLICY)  # the first request loaded something
    for _ in range(POLICY.min_samples - 1):
        cold.observe(FAST_US, POLICY)
    assert cold.ewma_us == FAST_US
    assert sweep([*stats, cold], POLICY, now=0.0) == []


def test_a_lone_stall_does_not_make_an_outlier_but_a_steady_slowdown_does() -> None:
    stats = warmed([FAST_US] * 4)
    stats[3].observe(1000 * FAST_US, POLICY)  # a long GC pause, once
    assert sweep(stats, POLICY, now=0.0) == []
    for _ in range(10):
        stats[3].observe(SLOW_US, POLICY)
    assert sweep(stats, POLICY, now=1.0) == [3]
