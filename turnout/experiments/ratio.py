"""Ratio metrics (sum of X / sum of Y over a variant's users) by the delta method.

A ratio metric such as revenue per order is a ratio of two per-user sums, X (revenue) and Y
(orders), over the users of a variant: R = ΣX / ΣY = x̄ / ȳ. Users are the randomization
unit, so their (X, Y) pairs are independent while the events inside a user are not; the
delta method linearizes R around the means,

    Var(R) ≈ (s²_x - 2 R s_xy + R² s²_y) / (n ȳ²),

which is the variance of the mean of the per-user values L = (X - R Y) / ȳ. `as_moments`
hands the analysis exactly that: `Moments` with mean R and the variance of L, so every
test and interval written for a mean (Welch, the always-valid p-value, the relative lift on
the log scale) applies to a ratio unchanged (Deng, Knoblich & Lu, "Applying the Delta
Method in Metric Analytics", KDD 2018).

Pure: no I/O. The store gives centred sums (two-pass), so nothing here subtracts large
squares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from turnout.experiments.statistics import Moments


@dataclass(frozen=True)
class RatioMoments:
    """Per variant: users, the means of X and Y per user, and their centred sums
    (m2_x = Σ(x - x̄)², m2_y = Σ(y - ȳ)², c_xy = Σ(x - x̄)(y - ȳ))."""

    n: int
    mean_x: float
    mean_y: float
    m2_x: float
    m2_y: float
    c_xy: float

    @classmethod
    def of(cls, xs: Sequence[float], ys: Sequence[float]) -> RatioMoments:
        """From per-user values, in two passes."""
        if len(xs) != len(ys):
            raise ValueError("xs and ys must have one value per user each")
        n = len(xs)
        if n == 0:
            return EMPTY
        mx, my = math.fsum(xs) / n, math.fsum(ys) / n
        return cls(
            n,
            mx,
            my,
            math.fsum((x - mx) ** 2 for x in xs),
            math.fsum((y - my) ** 2 for y in ys),
            math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)),
        )

    def with_zeros(self, zeros: int) -> RatioMoments:
        """Add `zeros` users with X = Y = 0 (exposed users without events): the pairwise
        update of Chan, Golub & LeVeque, with the second group all at (0, 0)."""
        if zeros <= 0:
            return self
        n = self.n + zeros
        share = self.n * zeros / n  # n_a n_b / n
        return RatioMoments(
            n,
            self.mean_x * self.n / n,
            self.mean_y * self.n / n,
            self.m2_x + share * self.mean_x**2,
            self.m2_y + share * self.mean_y**2,
            self.c_xy + share * self.mean_x * self.mean_y,
        )

    @property
    def ratio(self) -> float:
        """ΣX / ΣY; NaN when there are no users or ΣY is 0."""
        return self.mean_x / self.mean_y if self.n and self.mean_y != 0 else math.nan

    @property
    def ratio_variance(self) -> float:
        """The delta-method variance of the ratio estimate; NaN where the ratio is."""
        if self.n < 2 or not math.isfinite(self.ratio):
            return math.nan
        return self._linearized_m2() / ((self.n - 1) * self.n)

    def as_moments(self) -> Moments:
        """The linearized per-user values as `Moments`: mean R, variance n · Var(R).

        Empty (n = 0, "not enough data") while the ratio is undefined (ΣY = 0)."""
        if self.n == 0 or not math.isfinite(self.ratio):
            return Moments(0, 0.0, 0.0, 0.0)
        return Moments.centred(self.n, self.ratio, self._linearized_m2())

    def _linearized_m2(self) -> float:
        r = self.ratio
        m2 = (self.m2_x - 2 * r * self.c_xy + r * r * self.m2_y) / (self.mean_y * self.mean_y)
        return m2 if m2 > 0 else 0.0


EMPTY = RatioMoments(0, 0.0, 0.0, 0.0, 0.0, 0.0)
