"""Statistics against scipy / statsmodels references, and their own invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import special, stats
from statsmodels.stats.proportion import proportion_confint, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from turnout.experiments import statistics as s
from turnout.experiments.statistics import Moments

counts = st.integers(min_value=10, max_value=1_000_000).flatmap(
    lambda n: st.tuples(st.integers(0, n), st.just(n))
)


@given(counts, counts)
def test_two_proportion_z_matches_statsmodels(t: tuple[int, int], c: tuple[int, int]) -> None:
    (x_t, n_t), (x_c, n_c) = t, c
    assume(0 < x_t + x_c < n_t + n_c)  # statsmodels divides by zero otherwise
    z, p = s.two_proportion_z(x_t, n_t, x_c, n_c)
    ref_z, ref_p = proportions_ztest([x_t, x_c], [n_t, n_c])
    assert float(z) == pytest.approx(ref_z, rel=1e-9, abs=1e-12)
    assert float(p) == pytest.approx(ref_p, rel=1e-6, abs=1e-300)


def test_two_proportion_z_is_neutral_when_nobody_converted() -> None:
    z, p = s.two_proportion_z(0, 100, 0, 100)
    assert (float(z), float(p)) == (0.0, 1.0)


samples = st.integers(min_value=0, max_value=2**32 - 1).flatmap(
    lambda seed: st.tuples(
        st.just(seed), st.integers(2, 400), st.integers(2, 400), st.floats(0.1, 10.0)
    )
)


def _two_samples(seed: int, n_t: int, n_c: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.lognormal(1.0, scale / 5, n_t) * scale, rng.lognormal(1.1, 0.4, n_c)


@settings(max_examples=60)
@given(samples)
def test_welch_t_matches_statsmodels_and_scipy(sample: tuple[int, int, int, float]) -> None:
    a, b = _two_samples(*sample)
    result = s.welch_t(Moments.of(list(a)), Moments.of(list(b)))
    ref_t, ref_p, ref_df = ttest_ind(a, b, usevar="unequal")
    assert result.t == pytest.approx(ref_t, rel=1e-6)
    assert result.df == pytest.approx(ref_df, rel=1e-6)
    assert result.p == pytest.approx(ref_p, rel=1e-5, abs=1e-12)
    assert result.p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-5)


@settings(max_examples=30)
@given(samples)
def test_mean_and_difference_intervals_match_statsmodels(
    sample: tuple[int, int, int, float],
) -> None:
    a, b = _two_samples(*sample)
    ma, mb = Moments.of(list(a)), Moments.of(list(b))
    mean = s.mean_interval(ma, 0.05)
    assert (mean.low, mean.high) == pytest.approx(DescrStatsW(a).tconfint_mean(0.05), rel=1e-6)
    diff = s.difference_interval(ma, mb, 0.05, binary=False)
    ref = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(0.05, usevar="unequal")
    assert (diff.low, diff.high) == pytest.approx(ref, rel=1e-6, abs=1e-9)


@given(counts)
def test_proportion_interval_is_wilsons(count: tuple[int, int]) -> None:
    x, n = count
    interval = s.proportion_interval(x, n, 0.05)
    low, high = proportion_confint(x, n, alpha=0.05, method="wilson")
    assert (interval.low, interval.high) == pytest.approx((low, high), abs=1e-9)
    assert interval.low <= interval.value <= interval.high


def test_relative_lift_interval_covers_the_true_lift_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(11)
    runs, n, p_c, p_t = 2000, 5000, 0.10, 0.12
    x_t, x_c = rng.binomial(n, p_t, runs), rng.binomial(n, p_c, runs)
    covered = 0
    for xt, xc in zip(x_t, x_c, strict=True):
        interval = s.relative_interval(Moments(n, xt, xt), Moments(n, xc, xc), 0.05)
        assert interval is not None
        covered += interval.low <= p_t / p_c - 1 <= interval.high
    assert covered / runs == pytest.approx(0.95, abs=0.015)


def test_relative_lift_needs_positive_means() -> None:
    assert s.relative_interval(Moments(10, 0, 0), Moments(10, 3, 3), 0.05) is None


def test_chance_to_beat_for_rates_matches_monte_carlo() -> None:
    rng = np.random.default_rng(5)
    for x_t, n_t, x_c, n_c in [(120, 1000, 100, 1000), (3, 40, 5, 40), (2400, 20000, 2390, 20000)]:
        draws_t = rng.beta(1 + x_t, 1 + n_t - x_t, 400_000)
        draws_c = rng.beta(1 + x_c, 1 + n_c - x_c, 400_000)
        reference = float(np.mean(draws_t > draws_c))  # standard error < 0.0008
        assert s.chance_to_beat_proportions(x_t, n_t, x_c, n_c) == pytest.approx(
            reference, abs=0.003
        )


small_counts = st.integers(min_value=1, max_value=3000).flatmap(
    lambda n: st.tuples(st.integers(0, n), st.just(n))
)


@settings(deadline=None, max_examples=30)
@given(small_counts, small_counts)
def test_chance_to_beat_for_rates_matches_numerical_integration(
    t: tuple[int, int], c: tuple[int, int]
) -> None:
    # P(p_t > p_c) = E[P(p_t > q)] over the control posterior's quantiles q (midpoint rule).
    grid = (np.arange(4000) + 0.5) / 4000
    q = special.betaincinv(1 + c[0], 1 + c[1] - c[0], grid)
    reference = float(np.mean(1 - special.betainc(1 + t[0], 1 + t[1] - t[0], q)))
    assert s.chance_to_beat_proportions(t[0], t[1], c[0], c[1]) == pytest.approx(
        reference, abs=1e-3
    )


@settings(deadline=None)
@given(counts, counts)
def test_chance_to_beat_is_symmetric_for_rates(t: tuple[int, int], c: tuple[int, int]) -> None:
    forward = s.chance_to_beat_proportions(t[0], t[1], c[0], c[1])
    backward = s.chance_to_beat_proportions(c[0], c[1], t[0], t[1])
    assert 0.0 <= forward <= 1.0
    assert forward + backward == pytest.approx(1.0, abs=1e-6)


def test_chance_to_beat_for_means_is_the_normal_tail() -> None:
    t, c = Moments(100, 110.0, 221.0), Moments(100, 100.0, 199.0)
    se = math.sqrt(t.variance / 100 + c.variance / 100)
    assert s.chance_to_beat_means(t, c) == pytest.approx(stats.norm.cdf(0.1 / se))
    assert s.chance_to_beat_means(c, c) == pytest.approx(0.5)


@given(
    st.floats(-10.0, 10.0),
    st.floats(1e-6, 10.0),
    st.floats(1e-3, 100.0),
)
def test_always_valid_p_is_a_p_value_that_shrinks_as_the_difference_grows(
    d: float, v: float, unit: float
) -> None:
    p = float(s.always_valid_p(d, v, unit))
    assert 0.0 <= p <= 1.0
    assert float(s.always_valid_p(0.0, v, unit)) == 1.0
    assert float(s.always_valid_p(2 * d, v, unit)) <= p


def test_always_valid_p_is_never_below_the_fixed_horizon_p() -> None:
    # Safety to peek is paid for with less power at any single look.
    n = np.arange(100, 50_001, 100)
    x_t, x_c = np.round(n * 0.11), np.round(n * 0.10)
    _, fixed = s.two_proportion_z(x_t, n, x_c, n)
    assert np.all(s.always_valid_p_proportions(x_t, n, x_c, n) >= fixed)


def test_sample_ratio_p_is_the_chi_square_test() -> None:
    users, shares = [5100, 4800, 100], [0.5, 0.49, 0.01]
    expected = np.asarray(shares) * sum(users)
    assert s.sample_ratio_p(users, shares) == pytest.approx(stats.chisquare(users, expected).pvalue)
    assert s.sample_ratio_p([0, 0], [1, 1]) == 1.0
