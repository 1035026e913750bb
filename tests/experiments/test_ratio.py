"""Ratio metrics by the delta method, checked by seeded simulation and bootstrap; adding
silent users as zeros, exactly; and `Moments` that keep their precision at a large mean."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from turnout.experiments.aggregates import with_zeros
from turnout.experiments.ratio import EMPTY, RatioMoments
from turnout.experiments.statistics import Moments, welch_t

finite = st.floats(-1e6, 1e6, allow_nan=False)


def users(rng: np.random.Generator, n: int, orders: float, basket: float) -> np.ndarray:
    """(revenue, orders) per user: Poisson orders, log-normal baskets: X and Y correlated."""
    y = rng.poisson(orders, n)
    baskets = rng.lognormal(math.log(basket), 0.8, int(y.sum()))
    x = np.bincount(np.repeat(np.arange(n), y), weights=baskets, minlength=n)
    return np.stack([x, y.astype(np.float64)])


def test_moments_keep_their_precision_at_a_large_mean() -> None:
    values = 1e9 + np.random.default_rng(3).standard_normal(10_000)
    m = Moments.of(values.tolist())
    assert math.isclose(m.variance, float(np.var(values, ddof=1)), rel_tol=1e-6)
    assert math.isclose(m.variance, 1.0, rel_tol=0.05)
    assert math.isclose(m.mean, float(values.mean()), rel_tol=1e-15)
    raw = Moments(len(values), float(values.sum()), float((values**2).sum()))
    assert abs(raw.variance - 1.0) > 0.5  # the old raw sums: catastrophic cancellation
    # The old constructor still works where it is exact enough, e.g. conversions.
    assert math.isclose(Moments(10, 3.0, 3.0).variance, Moments.of([1.0] * 3 + [0.0] * 7).variance)


@given(st.lists(finite, max_size=30), st.integers(0, 30))
def test_adding_silent_users_as_zeros_equals_zero_filled_data(
    values: list[float], zeros: int
) -> None:
    got = with_zeros(Moments.of(values), zeros)
    want = Moments.of(values + [0.0] * zeros)
    assert got.n == want.n
    if want.n:
        assert math.isclose(got.mean, want.mean, rel_tol=1e-9, abs_tol=1e-9)
        scale = max(1.0, max(v * v for v in [*values, 0.0]))
        assert math.isclose(got.m2, want.m2, rel_tol=1e-9, abs_tol=1e-9 * scale)


@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=30), st.integers(0, 30))
def test_ratio_moments_with_zeros_equal_zero_filled_pairs(
    pairs: list[tuple[float, float]], zeros: int
) -> None:
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    got = RatioMoments.of(xs, ys).with_zeros(zeros)
    want = RatioMoments.of(xs + [0.0] * zeros, ys + [0.0] * zeros)
    scale = max(1.0, *(v * v for v in xs + ys))
    for a, b in zip(
        (got.mean_x, got.mean_y, got.m2_x, got.m2_y, got.c_xy),
        (want.mean_x, want.mean_y, want.m2_x, want.m2_y, want.c_xy),
        strict=True,
    ):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * scale)


def test_the_ratio_is_the_ratio_of_sums_and_undefined_without_a_denominator() -> None:
    m = RatioMoments.of([10.0, 0.0, 30.0], [1.0, 0.0, 2.0])
    assert m.ratio == 40.0 / 3.0
    assert m.as_moments().mean == m.ratio
    assert math.isnan(RatioMoments.of([1.0, 2.0], [0.0, 0.0]).ratio)
    assert RatioMoments.of([1.0, 2.0], [0.0, 0.0]).as_moments().n == 0
    assert EMPTY.as_moments().n == 0 and math.isnan(EMPTY.ratio_variance)


def test_the_delta_method_variance_matches_the_spread_of_the_ratio_over_replications() -> None:
    """2,000 seeded replications of 2,000 users: the delta-method variance (averaged) is
    within 5% of the empirical variance of the ratio estimates."""
    rng = np.random.default_rng(2026)
    estimates, variances = [], []
    for _ in range(2000):
        x, y = users(rng, 2000, orders=0.3, basket=40.0)
        m = RatioMoments.of(x.tolist(), y.tolist())
        estimates.append(m.ratio)
        variances.append(m.ratio_variance)
    empirical = float(np.var(estimates, ddof=1))
    predicted = float(np.mean(variances))
    print(f"delta method {predicted:.5g} vs replications {empirical:.5g}")
    assert math.isclose(predicted, empirical, rel_tol=0.05)


def test_the_delta_method_agrees_with_a_bootstrap_of_users() -> None:
    rng = np.random.default_rng(7)
    x, y = users(rng, 5000, orders=0.5, basket=25.0)
    m = RatioMoments.of(x.tolist(), y.tolist())
    resampled = []
    for _ in range(2000):
        i = rng.integers(0, x.size, x.size)
        resampled.append(x[i].sum() / y[i].sum())
    bootstrap = float(np.var(resampled, ddof=1))
    print(f"delta method {m.ratio_variance:.5g} vs bootstrap {bootstrap:.5g}")
    assert math.isclose(m.ratio_variance, bootstrap, rel_tol=0.1)


def test_ratio_lift_intervals_from_the_linearized_moments_cover_the_truth() -> None:
    """A/B on revenue per order (both arms the same basket, so the true lift is 0): the
    Welch interval on the linearized moments covers 0 in about 95% of 1,000 runs, and its
    p-value is uniform enough that about 5% reject."""
    rng = np.random.default_rng(11)
    covered = rejected = 0
    runs = 1000
    for _ in range(runs):
        arms = [users(rng, 1000, orders=0.4, basket=30.0) for _ in range(2)]
        t, c = (RatioMoments.of(a[0].tolist(), a[1].tolist()).with_zeros(500) for a in arms)
        mt, mc = t.as_moments(), c.as_moments()
        diff = mt.mean - mc.mean
        se = math.sqrt(t.ratio_variance + c.ratio_variance)
        assert math.isclose(se * se, mt.variance / mt.n + mc.variance / mc.n, rel_tol=1e-9)
        covered += abs(diff) <= stats.norm.isf(0.025) * se
        rejected += welch_t(mt, mc).p <= 0.05
    print(f"coverage {covered / runs:.3f}, false positives {rejected / runs:.3f}")
    assert 0.93 <= covered / runs <= 0.97
    assert 0.03 <= rejected / runs <= 0.07
