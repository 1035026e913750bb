"""Pure statistics of one treatment against its control, from running sums (ADR 0011).

Inputs are aggregates — count, sum and sum of squares — so the store can keep them as
running totals. The tests and the always-valid p-value accept numpy arrays as well as
numbers, so simulations can evaluate thousands of experiments at once.

scipy is imported inside the functions that use it (here and in srm, planning): importing
scipy.stats costs about a second of CPU, and every `turnout serve` loads these modules while
few ever compute a report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
ArrayLike = float | Array

# The always-valid test's normal mixture over effects: N(0, (MIXING * sigma)^2), i.e. effects
# of about 5% of a standard deviation, where web experiments' effects usually lie (ADR 0011).
MIXING = 0.05


@dataclass(frozen=True)
class Moments:
    """One metric in one variant: count, sum and sum of squares, and `m2`, the sum of squared
    deviations from the mean, which the variance is computed from.

    Build it from exact centred sums with `centred` (the store's two-pass aggregates) or from
    values with `of`; `Moments(n, total, total_sq)` still works and derives `m2` from the raw
    sums, which loses precision when the mean is large against the spread (1e9 + N(0, 1)).
    """

    n: int
    total: float
    total_sq: float
    m2: float = math.nan  # derived from total and total_sq when not given

    def __post_init__(self) -> None:
        if math.isnan(self.m2):
            raw = self.total_sq - self.total * self.total / self.n if self.n else 0.0
            object.__setattr__(self, "m2", raw if raw > 0 else 0.0)

    @classmethod
    def centred(cls, n: int, mean: float, m2: float) -> Moments:
        """From a count, a mean and the sum of squared deviations from that mean."""
        if n == 0:
            return cls(0, 0.0, 0.0, 0.0)
        m2 = m2 if m2 > 0 else 0.0
        return cls(n, n * mean, m2 + n * mean * mean, m2)

    @classmethod
    def of(cls, values: Sequence[float]) -> Moments:
        """Two passes: the mean, then the squared deviations from it."""
        if not values:
            return cls(0, 0.0, 0.0, 0.0)
        mean = math.fsum(values) / len(values)
        return cls.centred(len(values), mean, math.fsum((v - mean) ** 2 for v in values))

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator); 0 below two observations."""
        if self.n < 2:
            return 0.0
        return self.m2 / (self.n - 1)


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval."""

    value: float
    low: float
    high: float


def _z(alpha: float) -> float:
    from scipy import stats

    return float(stats.norm.isf(alpha / 2))


def proportion_interval(successes: int, n: int, alpha: float) -> Interval:
    """A conversion rate with its Wilson score interval (sound near 0 and 1)."""
    if n == 0:
        return Interval(math.nan, 0.0, 1.0)
    p = successes / n
    z = _z(alpha)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # Clamped to hold the estimate: rounding can leave the bound a hair past it at 0 or n.
    return Interval(p, min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def mean_interval(m: Moments, alpha: float) -> Interval:
    """A mean with its Student t interval."""
    from scipy import stats

    if m.n < 2:
        return Interval(m.mean, -math.inf, math.inf)
    half = float(stats.t.isf(alpha / 2, m.n - 1)) * math.sqrt(m.variance / m.n)
    return Interval(m.mean, m.mean - half, m.mean + half)


def two_proportion_z(
    x_t: ArrayLike, n_t: ArrayLike, x_c: ArrayLike, n_c: ArrayLike
) -> tuple[Array, Array]:
    """Two-sided two-proportion z test with the pooled variance: (z, p), treatment - control.

    The same statistic as statsmodels' `proportions_ztest`; p is 1 where nobody converted.
    """
    from scipy import stats

    x_t, n_t, x_c, n_c = (np.asarray(a, dtype=np.float64) for a in (x_t, n_t, x_c, n_c))
    pooled = (x_t + x_c) / (n_t + n_c)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (x_t / n_t - x_c / n_c) / se, 0.0)
    return z, 2 * stats.norm.sf(np.abs(z))


@dataclass(frozen=True)
class WelchResult:
    t: float
    df: float
    p: float


def welch_t(t: Moments, c: Moments) -> WelchResult:
    """Welch's unequal-variance t test, treatment - control (as scipy's equal_var=False)."""
    from scipy import stats

    vt, vc = t.variance / t.n, c.variance / c.n
    se2 = vt + vc
    if se2 <= 0:
        return WelchResult(0.0, math.inf, 1.0)
    df = se2 * se2 / (vt * vt / (t.n - 1) + vc * vc / (c.n - 1))
    stat = (t.mean - c.mean) / math.sqrt(se2)
    return WelchResult(stat, df, float(2 * stats.t.sf(abs(stat), df)))


def difference_interval(t: Moments, c: Moments, alpha: float, binary: bool) -> Interval:
    """Absolute lift (treatment - control) with an unpooled normal / Welch t interval."""
    from scipy import stats

    diff = t.mean - c.mean
    se = math.sqrt(t.variance / t.n + c.variance / c.n)
    q = _z(alpha) if binary else float(stats.t.isf(alpha / 2, welch_t(t, c).df))
    return Interval(diff, diff - q * se, diff + q * se)


def relative_interval(t: Moments, c: Moments, alpha: float) -> Interval | None:
    """Relative lift (treatment / control - 1) by the delta method on the log of the ratio.

    The log scale keeps the interval asymmetric, as a ratio's should be. None when either
    mean is not positive (a ratio of those means nothing).
    """
    if not (t.mean > 0 and c.mean > 0):
        return None
    log_ratio = math.log(t.mean / c.mean)
    se = math.sqrt(t.variance / (t.n * t.mean**2) + c.variance / (c.n * c.mean**2))
    q = _z(alpha)
    return Interval(
        math.exp(log_ratio) - 1, math.exp(log_ratio - q * se) - 1, math.exp(log_ratio + q * se) - 1
    )


def always_valid_p(
    difference: ArrayLike, variance: ArrayLike, unit_variance: ArrayLike, mixing: float = MIXING
) -> Array:
    """The mixture SPRT's always-valid p-value for a difference of means (Johari et al. 2017).

    `difference` is the observed treatment - control, `variance` its variance (V), and
    `unit_variance` one observation's variance (sigma^2), which scales the mixture
    N(0, tau^2 = (mixing * sigma)^2). The likelihood ratio of the mixture against "no
    difference" is sqrt(V / (V + tau^2)) * exp(d^2 tau^2 / (2 V (V + tau^2))), and p = min(1,
    1 / ratio). Under no difference the ratio is a martingale, so the chance that p ever
    drops to alpha, however often one looks, is at most alpha (Ville's inequality).
    """
    d, v, s2 = (np.asarray(a, dtype=np.float64) for a in (difference, variance, unit_variance))
    tau2 = mixing * mixing * s2
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = 0.5 * np.log(v / (v + tau2)) + d * d * tau2 / (2 * v * (v + tau2))
    p = np.exp(-np.where(v > 0, log_ratio, 0.0))
    return np.minimum(1.0, p)


def always_valid_p_proportions(
    x_t: ArrayLike, n_t: ArrayLike, x_c: ArrayLike, n_c: ArrayLike, mixing: float = MIXING
) -> Array:
    """`always_valid_p` for conversion rates, with the pooled variance (the null's)."""
    x_t, n_t, x_c, n_c = (np.asarray(a, dtype=np.float64) for a in (x_t, n_t, x_c, n_c))
    pooled = (x_t + x_c) / (n_t + n_c)
    unit = pooled * (1 - pooled)
    return always_valid_p(x_t / n_t - x_c / n_c, unit * (1 / n_t + 1 / n_c), unit, mixing)


def always_valid_p_means(t: Moments, c: Moments, mixing: float = MIXING) -> float:
    """`always_valid_p` for means, with each arm's own variance (Welch's)."""
    variance = t.variance / t.n + c.variance / c.n
    unit = (t.variance + c.variance) / 2
    return float(always_valid_p(t.mean - c.mean, variance, unit, mixing))


def chance_to_beat_proportions(x_t: int, n_t: int, x_c: int, n_c: int) -> float:
    """P(treatment's rate > control's) under uniform Beta(1, 1) priors, exactly.

    Evan Miller's closed form, a sum of one term per conversion of one arm, taken over the
    arm with fewer conversions (the other way round by symmetry): milliseconds at 100k.
    """
    from scipy import special

    if x_t > x_c:
        return 1.0 - chance_to_beat_proportions(x_c, n_c, x_t, n_t)
    a_t, b_t, a_c, b_c = 1 + x_t, 1 + n_t - x_t, 1 + x_c, 1 + n_c - x_c
    i = np.arange(a_t, dtype=np.float64)
    log_terms = (
        special.betaln(a_c + i, b_c + b_t)
        - np.log(b_t + i)
        - special.betaln(1 + i, b_t)
        - special.betaln(a_c, b_c)
    )
    return float(min(1.0, max(0.0, np.exp(log_terms).sum())))


def chance_to_beat_means(t: Moments, c: Moments) -> float:
    """P(treatment's mean > control's) under flat priors, normal approximation."""
    from scipy import stats

    se = math.sqrt(t.variance / t.n + c.variance / c.n)
    diff = t.mean - c.mean
    if se == 0:
        return 0.5 if diff == 0 else float(diff > 0)
    return float(stats.norm.cdf(diff / se))


def sample_ratio_p(users: Sequence[int], shares: Sequence[float]) -> float:
    """Chi-square goodness-of-fit p-value of the users per variant against expected shares."""
    from scipy import special

    total = sum(users)
    if total == 0:
        return 1.0
    expected = np.asarray(shares, dtype=np.float64) / sum(shares) * total
    statistic = float(np.sum((np.asarray(users, dtype=np.float64) - expected) ** 2 / expected))
    # The chi-square survival function as a plain ufunc: scipy.stats' wrapper costs 1 ms.
    return float(special.chdtrc(len(users) - 1, statistic))
