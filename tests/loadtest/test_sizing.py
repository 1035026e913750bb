"""Sizing's pure half: batching settings, judging a trial, the search, the recommendation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.loadtest.sizing import (
    Batching,
    SizingError,
    Trial,
    capacity,
    judge,
    next_trial,
    parse_batchings,
    recommend,
)


def summary(p99: float | None, rps: float, error_rate: float = 0.0, answered: int = 100) -> dict:
    return {"p99": p99, "throughput_rps": rps, "error_rate": error_rate, "answered": answered}


def test_batching_settings() -> None:
    found = parse_batchings("off, 32,32:2,as-is,off")
    assert found == [Batching(1), Batching(32), Batching(32, 2.0), Batching(as_is=True)]
    assert [b.label for b in found] == ["off", "≤32", "≤32, wait ≤2 ms", "as-is"]
    assert found[2].environment() == {
        "TURNOUT_MAX_BATCH_SIZE": "32",
        "TURNOUT_MAX_BATCH_DELAY_MS": "2",
    }
    assert found[3].environment() == {}
    for bad in ("many", "0", "32:x", "32:5000", ""):
        with pytest.raises(SizingError):
            parse_batchings(bad)


def test_judge() -> None:
    assert judge(summary(40.0, 99.0), 50, 100) == (True, "p99 40.0 ms ≤ 50 ms at 99.0 req/s")
    assert not judge(summary(60.0, 100.0), 50, 100)[0]
    assert "errors" in judge(summary(10.0, 100.0, error_rate=0.01), 50, 100)[1]
    assert "answered 50.0 of 100" in judge(summary(10.0, 50.0), 50, 100)[1]
    assert not judge(summary(None, 100.0), 50, 100)[0]


def test_capacity_is_the_most_served_within_the_target() -> None:
    steps = [summary(5, 100), summary(20, 180), summary(90, 200), summary(8, 150, 0.5)]
    assert capacity(steps, 50) == 180
    assert capacity([summary(90, 200)], 50) is None


def trial(n: int, b: int, holds: bool, capacity_rps: float | None = None) -> Trial:
    return Trial(n, b, holds, "", 0.0, None, 0.0, capacity_rps)


def test_recommend_fewest_instances_then_batching() -> None:
    trials = [trial(1, 0, False), trial(2, 0, True), trial(1, 1, True), trial(3, 2, True)]
    assert recommend(trials) == trial(1, 1, True)
    assert recommend([trial(1, 0, False)]) is None


def test_recommend_without_a_rate_takes_the_most_capacity_per_instance() -> None:
    trials = [
        trial(1, 0, True, 100),
        trial(2, 0, True, 150),
        trial(1, 1, True, 180),
        trial(2, 1, True, 360),
    ]
    assert recommend(trials) == trial(1, 1, True, 180)  # 180/1 ties 360/2: fewer instances


@given(
    st.lists(st.one_of(st.none(), st.integers(1, 6)), min_size=1, max_size=4),
    st.integers(1, 6),
)
def test_search_finds_the_smallest_holding_setting(
    needs: list[int | None], max_instances: int
) -> None:
    """With a monotone truth (setting b holds from needs[b] instances up; None: never), the
    search ends at what trying every setting would recommend, and tries no setting twice."""

    def truth(b: int, n: int) -> bool:
        need = needs[b]
        return need is not None and n >= need

    trials: list[Trial] = []
    while (step := next_trial(trials, len(needs), max_instances)) is not None:
        b, n = step
        assert (n, b) not in {t.key() for t in trials}
        trials.append(trial(n, b, truth(b, n)))
        assert len(trials) <= len(needs) * max_instances
    everything = [
        trial(n, b, truth(b, n)) for b in range(len(needs)) for n in range(1, max_instances + 1)
    ]
    assert recommend(trials) == recommend(everything)
