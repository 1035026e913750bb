"""The demo's per-variant tally: counts, shares of the served requests, accuracy, latency."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.cli.tally import Outcome, tally


def ok(variant: str, correct: bool = True, ms: float = 1.0) -> Outcome:
    return Outcome(variant, correct, ms / 1000)


def test_rows_are_sorted_by_variant_with_shares_and_accuracy() -> None:
    result = tally([ok("B"), ok("A", correct=False), ok("B", correct=False), ok("B")])
    assert [row.variant for row in result.rows] == ["A", "B"]
    a, b = result.rows
    assert (a.requests, b.requests) == (1, 3)
    assert (a.share, b.share) == (0.25, 0.75)
    assert (a.accuracy, b.accuracy) == (0.0, pytest.approx(2 / 3))
    assert (result.total, result.failed) == (4, 0)


def test_failed_requests_count_apart_and_not_in_shares() -> None:
    failed = Outcome("", False, 0.5, error="boom")
    result = tally([ok("A"), failed, ok("B"), failed])
    assert (result.total, result.failed) == (4, 2)
    assert [row.share for row in result.rows] == [0.5, 0.5]


def test_latency_percentiles_are_in_milliseconds() -> None:
    result = tally([ok("A", ms=float(ms)) for ms in range(1, 101)])
    (row,) = result.rows
    assert row.p50_ms == pytest.approx(50.5)
    assert 99 <= row.p99_ms <= 100


def test_nothing_served_gives_no_rows() -> None:
    assert tally([]).rows == []
    only_failures = tally([Outcome("", False, 0.1, error="x")])
    assert only_failures.rows == []
    assert (only_failures.total, only_failures.failed) == (1, 1)


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.booleans(), st.booleans()), max_size=50))
def test_shares_sum_to_one_and_counts_add_up(draws: list[tuple[str, bool, bool]]) -> None:
    outcomes = [
        Outcome(variant, correct, 0.001, error="x" if failed else None)
        for variant, correct, failed in draws
    ]
    result = tally(outcomes)
    served = sum(row.requests for row in result.rows)
    assert served + result.failed == result.total == len(draws)
    if served:
        assert sum(row.share for row in result.rows) == pytest.approx(1.0)
    assert all(0.0 <= row.accuracy <= 1.0 for row in result.rows)
