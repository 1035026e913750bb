"""Leak verdicts on synthetic RSS series: steady growth is flagged; flat noise, a warm-up
jump, small growth and short series are not."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.loadtest.leaks import detect_leak

T = np.arange(0.0, 60.0, 1.0)  # one sample a second over a 60 s run


def verdict(rss: np.ndarray, times: np.ndarray = T, run: float = 60.0) -> object:
    return detect_leak(list(times), list(rss), run)


def test_steady_growth_is_a_leak() -> None:
    rng = np.random.default_rng(1)
    rss = 200 + 1.0 * T + rng.normal(0, 3, T.size)  # +1 MB/s, noisy
    found = detect_leak(list(T), list(rss), 60.0)
    assert found.leaking, found
    assert found.slope_mb_per_min is not None and 50 < found.slope_mb_per_min < 70
    assert "still grows" in found.reason


def test_flat_noisy_series_is_not() -> None:
    rng = np.random.default_rng(2)
    rss = 300 + rng.normal(0, 8, T.size)
    found = detect_leak(list(T), list(rss), 60.0)
    assert not found.leaking, found


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.5, 20))
def test_flat_noise_of_any_seed_and_size_is_never_a_leak(seed: int, noise: float) -> None:
    rss = 300 + np.random.default_rng(seed).normal(0, noise, T.size)
    assert not detect_leak(list(T), list(rss), 60.0).leaking


def test_warm_up_jump_then_flat_is_not() -> None:
    rss = np.where(T < 20, 150 + 4 * T, 230.0) + np.random.default_rng(3).normal(0, 1, T.size)
    found = detect_leak(list(T), list(rss), 60.0)
    assert not found.leaking, found


def test_growth_under_the_floor_is_not() -> None:
    rss = 200 + 0.1 * T  # 6 MB over the run
    found = detect_leak(list(T), list(rss), 60.0)
    assert not found.leaking
    assert "under" in found.reason


def test_too_few_samples_or_too_short_a_span_cannot_tell() -> None:
    assert "too few" in detect_leak([0, 1, 2], [1, 100, 200], 60.0).reason
    times = np.arange(0.0, 10.0)  # 10 s of a 60 s run
    assert not detect_leak(list(times), list(100 + 10 * times), 60.0).leaking
