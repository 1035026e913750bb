"""CUPED: less variance from a covariate measured before the experiment (Deng et al. 2013).

With Y the metric and X a pre-experiment covariate of the same user (last month's spend),
each arm's mean is replaced by Ȳ - θ (X̄ - μ_X), θ = cov(Y, X) / var(X) pooled within arms
and μ_X the covariate's mean over all arms. Randomisation makes X independent of the arm,
so the adjusted difference estimates the same lift, with variance var(Y - θX) = var(Y)
(1 - rho^2): the covariate's correlation rho with the metric decides how much is removed.

Inputs are per-arm moments of Y, X and their cross moment, from sums or from values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from turnout.experiments.statistics import Moments


@dataclass(frozen=True)
class JointMoments:
    """n, the means of Y and X, and the centred sums Σ(y-ȳ)², Σ(x-x̄)², Σ(y-ȳ)(x-x̄)."""

    n: int
    mean_y: float
    mean_x: float
    m2_y: float
    m2_x: float
    c_xy: float

    @classmethod
    def of(cls, ys: Sequence[float], xs: Sequence[float]) -> JointMoments:
        """From paired values, two-pass (exact to rounding)."""
        n = len(ys)
        if n != len(xs):
            raise ValueError("ys and xs must pair up")
        if n == 0:
            return cls(0, math.nan, math.nan, 0.0, 0.0, 0.0)
        my, mx = math.fsum(ys) / n, math.fsum(xs) / n
        return cls(
            n, my, mx,
            math.fsum((y - my) ** 2 for y in ys),
            math.fsum((x - mx) ** 2 for x in xs),
            math.fsum((y - my) * (x - mx) for y, x in zip(ys, xs, strict=True)),
        )  # fmt: skip

    @classmethod
    def from_sums(
        cls, n: int, sum_y: float, sum_x: float, sum_yy: float, sum_xx: float, sum_xy: float
    ) -> JointMoments:
        """From raw sums (n, ΣY, ΣX, ΣY², ΣX², ΣXY), as a store may keep them.

        Raw sums lose precision when a mean dwarfs its spread; centred sums do not.
        """
        if n == 0:
            return cls(0, math.nan, math.nan, 0.0, 0.0, 0.0)
        my, mx = sum_y / n, sum_x / n
        return cls(
            n, my, mx,
            max(0.0, sum_yy - n * my * my),
            max(0.0, sum_xx - n * mx * mx),
            sum_xy - n * my * mx,
        )  # fmt: skip

    @property
    def moments(self) -> Moments:
        """The metric's own moments, unadjusted."""
        return _moments(self.n, self.mean_y, self.m2_y / (self.n - 1) if self.n > 1 else 0.0)


@dataclass(frozen=True)
class Adjusted:
    """An arm's CUPED-adjusted moments and the share of its variance removed (rho^2 within)."""

    moments: Moments
    variance_removed: float


def theta(arms: Sequence[JointMoments]) -> float:
    """cov(Y, X) / var(X), pooled within arms; 0 when the covariate does not vary."""
    m2_x = sum(a.m2_x for a in arms)
    return sum(a.c_xy for a in arms) / m2_x if m2_x > 0 else 0.0


def adjust(arms: Mapping[str, JointMoments]) -> dict[str, Adjusted]:
    """Every arm's adjusted mean and variance, with one θ and μ_X for all."""
    present = [a for a in arms.values() if a.n > 0]
    t = theta(present)
    total = sum(a.n for a in present)
    mu_x = sum(a.n * a.mean_x for a in present) / total if total else 0.0
    out = {}
    for name, a in arms.items():
        if a.n < 2:
            out[name] = Adjusted(a.moments, 0.0)
            continue
        m2 = max(0.0, a.m2_y - 2 * t * a.c_xy + t * t * a.m2_x)
        removed = 1 - m2 / a.m2_y if a.m2_y > 0 else 0.0
        out[name] = Adjusted(
            _moments(a.n, a.mean_y - t * (a.mean_x - mu_x), m2 / (a.n - 1)), removed
        )
    return out


def _moments(n: int, mean: float, variance: float) -> Moments:
    """`Moments` with this mean and sample variance (centred: exact at a large mean)."""
    return Moments.centred(n, mean, (n - 1) * variance)
