"""How many users an experiment needs: fixed-horizon and sequential, per variant (ADR 0024).

Fixed horizon: the two-sided z test's power with equal arms, as statsmodels'
`NormalIndPower` (both tails counted), solved for n. The effect size is Cohen's h,
2 asin √p₂ - 2 asin √p₁, for a conversion rate (statsmodels' `proportion_effectsize`) and
the difference over the standard deviation for a numeric metric.

Sequential: the mSPRT has no closed form for its power, so the plan simulates it — seeded,
so the same question always gets the same answer — on the normal approximation the test
itself uses: the difference of the arms' means after every 1% of the fixed-horizon sample,
up to 20 times that sample, 4,000 runs. It gives the users per variant by which the test has
stopped with the requested power, and the median users at detection. With several
treatments alpha is split among them (Bonferroni), as the analysis does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from turnout.experiments.statistics import always_valid_p

SEED = 20261201
RUNS = 4000
LOOKS_PER_FIXED_SAMPLE = 100
HORIZON = 20  # fixed-horizon samples simulated


@dataclass(frozen=True)
class Question:
    """What a plan answers. `mde` is absolute unless `relative` (a share of the baseline);
    `sd` is the numeric metric's standard deviation (None: a conversion rate);
    `traffic` users per day across all variants (None: no duration)."""

    baseline: float
    mde: float
    relative: bool = False
    alpha: float = 0.05
    power: float = 0.8
    variants: int = 2
    sd: float | None = None
    traffic: float | None = None

    @property
    def effect(self) -> float:
        """The absolute difference to detect."""
        return self.baseline * self.mde if self.relative else self.mde

    @property
    def comparison_alpha(self) -> float:
        return self.alpha / (self.variants - 1)

    def validated(self) -> Question:
        """Self, or ValueError with a one-line reason."""
        if not 2 <= self.variants <= 10:
            raise ValueError("variants must be 2 to 10")
        if not (0.0001 <= self.alpha <= 0.5 and 0.5 <= self.power < 1):
            raise ValueError("alpha must be in [0.0001, 0.5] and power in [0.5, 1)")
        if not (math.isfinite(self.baseline) and math.isfinite(self.mde) and self.mde > 0):
            raise ValueError("the minimum detectable effect must be a positive number")
        if self.sd is None:
            treated = self.baseline + self.effect
            if not (0 < self.baseline < 1 and 0 < treated < 1):
                raise ValueError(
                    "a conversion rate's baseline and baseline + effect must lie in (0, 1);"
                    " for a numeric metric give --numeric --sd"
                )
        elif not (math.isfinite(self.sd) and self.sd > 0):
            raise ValueError("the standard deviation must be a positive number")
        if self.traffic is not None and not (math.isfinite(self.traffic) and self.traffic > 0):
            raise ValueError("traffic must be a positive number of users per day")
        return self


@dataclass(frozen=True)
class Plan:
    question: Question
    fixed_users: int  # per variant
    sequential_users: int | None  # per variant, to stop with the requested power (None: > horizon)
    sequential_median_users: int | None  # per variant, median at detection

    def days(self, users_per_variant: int | None) -> float | None:
        traffic = self.question.traffic
        if traffic is None or users_per_variant is None:
            return None
        return users_per_variant * self.question.variants / traffic


def effect_size(q: Question) -> float:
    """Cohen's h for a rate, the standardised difference for a numeric metric."""
    if q.sd is None:
        return 2 * math.asin(math.sqrt(q.baseline + q.effect)) - 2 * math.asin(
            math.sqrt(q.baseline)
        )
    return q.effect / q.sd


def fixed_horizon_users(effect: float, alpha: float, power: float) -> float:
    """Users per arm for a two-sided z test with equal arms (statsmodels' NormalIndPower)."""
    from scipy import optimize, stats

    z = float(stats.norm.isf(alpha / 2))
    h = abs(effect)

    def shortfall(n: float) -> float:
        shift = h * math.sqrt(n / 2)
        return float(stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift)) - power

    guess = 2 * ((z + float(stats.norm.ppf(power))) / h) ** 2
    return float(optimize.brentq(shortfall, guess / 4, guess * 4, xtol=1e-10, rtol=1e-14))


def sequential_users(q: Question, fixed_users: float) -> tuple[int | None, int | None]:
    """(users per arm by which the mSPRT stops with the power, median users at detection)."""
    if q.sd is None:
        p_c, p_t = q.baseline, q.baseline + q.effect
        var_c, var_t = p_c * (1 - p_c), p_t * (1 - p_t)
    else:
        var_c = var_t = q.sd * q.sd
    step = max(1, math.ceil(fixed_users / LOOKS_PER_FIXED_SAMPLE))
    looks = HORIZON * LOOKS_PER_FIXED_SAMPLE
    rng = np.random.default_rng(SEED)
    stopped = np.full(RUNS, np.inf)
    total = np.zeros(RUNS)
    for look in range(1, looks + 1):
        total += rng.normal(step * q.effect, math.sqrt(step * (var_c + var_t)), RUNS)
        n = step * look
        if q.sd is None:  # the test's pooled (null) variance, as for conversion rates
            p = (2 * q.baseline + q.effect) / 2
            unit = p * (1 - p)
        else:
            unit = (var_c + var_t) / 2
        p_value = always_valid_p(total / n, 2 * unit / n, unit, 0.05)
        stopped = np.where(np.isinf(stopped) & (p_value <= q.comparison_alpha), n, stopped)
    detected = np.sort(stopped)
    k = math.ceil(q.power * RUNS) - 1
    at_power = int(detected[k]) if math.isfinite(detected[k]) else None
    median = detected[RUNS // 2]
    return at_power, int(median) if math.isfinite(median) else None


def plan(question: Question) -> Plan:
    q = question.validated()
    fixed = fixed_horizon_users(effect_size(q), q.comparison_alpha, q.power)
    seq, median = sequential_users(q, fixed)
    return Plan(q, math.ceil(fixed), seq, median)
