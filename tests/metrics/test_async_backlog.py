"""SageMaker's asynchronous inference metrics from the queue's waits (pure)."""

from __future__ import annotations

import pytest

from turnout.domain.async_inference import Wait
from turnout.metrics.async_backlog import (
    BACKLOG_SIZE,
    OLDEST_AGE,
    PER_INSTANCE,
    WITHOUT_CAPACITY,
    gauges,
    sample,
    statistics,
)

WAITS = [Wait(100.0, 130.0), Wait(105.0, None), Wait(200.0, 205.0)]


def test_a_sample_counts_the_requests_waiting_then_and_the_oldest() -> None:
    assert sample(WAITS, 99.0) == (0, 0.0)
    assert sample(WAITS, 110.0) == (2, 10.0)
    assert sample(WAITS, 130.0) == (1, 25.0)  # the first finished at 130
    assert sample(WAITS, 202.0) == (2, 97.0)


def test_gauges() -> None:
    assert gauges(6, 12.0, 3) == {
        BACKLOG_SIZE: 6.0, PER_INSTANCE: 2.0, OLDEST_AGE: 12.0, WITHOUT_CAPACITY: 0.0
    }  # fmt: skip
    assert gauges(2, 5.0, 0)[WITHOUT_CAPACITY] == 1.0
    assert gauges(0, 5.0, 0) == {
        BACKLOG_SIZE: 0.0, PER_INSTANCE: 0.0, OLDEST_AGE: 0.0, WITHOUT_CAPACITY: 0.0
    }  # fmt: skip


def test_period_statistics_sample_every_ten_seconds() -> None:
    found = statistics(WAITS, BACKLOG_SIZE, 100.0, 60.0, instances=1)
    assert found is not None
    # samples at 100, 110, ..., 150: sizes 1, 2, 2, 1, 1, 1
    assert found == {"Average": 8 / 6, "Sum": 8.0, "Minimum": 1.0, "Maximum": 2.0,
                     "SampleCount": 6.0}  # fmt: skip
    assert statistics([Wait(100.0, 130.0)], BACKLOG_SIZE, 200.0, 60.0, 1) is None


def test_a_burst_between_samples_shows_in_the_maximum() -> None:
    burst = [Wait(101.0 + i * 0.1, 104.0 + i) for i in range(5)]  # all gone by 109
    found = statistics(burst, BACKLOG_SIZE, 100.0, 60.0, instances=1)
    assert found is not None
    assert (found["Maximum"], found["Average"]) == (5.0, 0.0)
    age = statistics(burst, OLDEST_AGE, 100.0, 60.0, instances=1)
    assert age is not None and age["Maximum"] == pytest.approx(108.0 - 101.4, abs=1e-3)
