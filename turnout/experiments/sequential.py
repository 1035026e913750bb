"""Always-valid inference across looks: confidence sequences and the running state (ADR 0024).

The mixture SPRT of `statistics.always_valid_p` tests "the difference is 0". Testing "the
difference is δ" instead and keeping every δ not rejected at level alpha gives its confidence
sequence: with d the observed difference, V its variance and τ² = (MIXING sigma)² the mixture's
variance, the set {δ : p(δ) > alpha} is the interval d ± r with

    r² = V (V + τ²) / τ² · (2 log(1/alpha) + log((V + τ²) / V)).

It covers the true difference at every look at once with probability ≥ 1 - alpha, so it may be
intersected across looks; and it excludes 0 exactly when the always-valid p-value is ≤ alpha.

The report is computed on demand, so what must survive between looks is kept in a small
`SequentialState` (JSON-serialisable) that `analyse` takes in and gives back: per
comparison the smallest always-valid p-value so far and the running intersection of the
confidence sequences, the sample-ratio test's smallest p-value, and the one read of a
fixed-horizon or Bayesian experiment at its planned sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from turnout.experiments.statistics import MIXING, Array, ArrayLike, Interval

STATE_VERSION = 1


def radius(
    variance: ArrayLike, unit_variance: ArrayLike, alpha: float, mixing: float = MIXING
) -> Array:
    """Half-width of the mSPRT's confidence sequence (infinite when V or sigma^2 is 0)."""
    v, s2 = (np.asarray(a, dtype=np.float64) for a in (variance, unit_variance))
    tau2 = mixing * mixing * s2
    ok = (v > 0) & (tau2 > 0) & np.isfinite(v)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r2 = v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + np.log1p(tau2 / v))
    return np.where(ok, np.sqrt(np.where(ok, r2, 0.0)), np.inf)


def confidence_sequence(
    difference: float, variance: float, unit_variance: float, alpha: float
) -> Interval:
    """The always-valid interval for a difference at one look (see the module's docstring)."""
    r = float(radius(variance, unit_variance, alpha))
    return Interval(difference, difference - r, difference + r)


def relative_confidence_sequence(
    mean_t: float,
    var_t: float,
    n_t: int,
    mean_c: float,
    var_c: float,
    n_c: int,
    alpha: float,
) -> Interval | None:
    """The always-valid interval for treatment / control - 1, by the delta method on the log.

    On the log of the ratio, V = var_t / (n_t mean_t²) + var_c / (n_c mean_c²) and sigma^2 (one
    observation's) is the mean of the two squared coefficients of variation; the interval
    is taken back with exp, so it stays asymmetric. None when a mean is not positive.
    """
    if not (mean_t > 0 and mean_c > 0 and n_t > 0 and n_c > 0):
        return None
    cv_t, cv_c = var_t / mean_t**2, var_c / mean_c**2
    log_ratio = math.log(mean_t / mean_c)
    r = float(radius(cv_t / n_t + cv_c / n_c, (cv_t + cv_c) / 2, alpha))
    with np.errstate(over="ignore"):
        high = math.inf if r == math.inf else math.expm1(min(log_ratio + r, 700.0))
    return Interval(math.expm1(log_ratio), math.expm1(log_ratio - r), high)


def excludes_zero(i: Interval) -> bool:
    return i.low > 0 or i.high < 0


def intersect(running: Interval | None, current: Interval) -> Interval:
    """The running intersection, valued at the current estimate.

    Two intervals of a valid confidence sequence overlap unless something improbable (≤ alpha)
    happened or the model is off; then the one that excludes 0 is kept (at least one does,
    as they are disjoint), so the interval still agrees with the running-minimum p-value.
    """
    if running is None:
        return current
    low, high = max(running.low, current.low), min(running.high, current.high)
    if low <= high:
        return Interval(current.value, low, high)
    keep = current if excludes_zero(current) else running
    return Interval(current.value, keep.low, keep.high)


@dataclass(frozen=True)
class ComparisonState:
    """What one comparison (a metric, a treatment) keeps between looks."""

    min_p: float = 1.0
    absolute: Interval | None = None  # running intersection (value: the last estimate)
    relative: Interval | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "min_p": self.min_p,
            "absolute": _bounds(self.absolute),
            "relative": _bounds(self.relative),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ComparisonState:
        return cls(
            min_p=float(document.get("min_p", 1.0)),
            absolute=_interval(document.get("absolute")),
            relative=_interval(document.get("relative")),
        )


@dataclass(frozen=True)
class PlannedRead:
    """The one read of a fixed-horizon or Bayesian experiment, at its planned sample.

    `users` per variant at that look; `outcomes` per primary treatment: "better", "worse"
    (both significant) or "none".
    """

    users: Mapping[str, int]
    outcomes: Mapping[str, str]


@dataclass(frozen=True)
class SequentialState:
    """Everything an experiment's report must remember between looks; JSON via to_json.

    `comparisons` is keyed "metric/variant". Pass the state a report returned into the
    next `analyse`; with none, the report reads the current look only.
    """

    comparisons: Mapping[str, ComparisonState] = field(default_factory=dict)
    srm_min_p: float = 1.0
    looks: int = 0
    planned_read: PlannedRead | None = None

    def comparison(self, metric: str, variant: str) -> ComparisonState:
        return self.comparisons.get(key(metric, variant), ComparisonState())

    def with_comparisons(
        self, updated: Mapping[str, ComparisonState], srm_min_p: float
    ) -> SequentialState:
        return replace(
            self,
            comparisons={**self.comparisons, **updated},
            srm_min_p=srm_min_p,
            looks=self.looks + 1,
        )

    def to_json(self) -> dict[str, Any]:
        read = self.planned_read
        return {
            "version": STATE_VERSION,
            "looks": self.looks,
            "srm_min_p": self.srm_min_p,
            "comparisons": {k: c.to_json() for k, c in sorted(self.comparisons.items())},
            "planned_read": None
            if read is None
            else {"users": dict(read.users), "outcomes": dict(read.outcomes)},
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any] | None) -> SequentialState:
        """Parse what `to_json` wrote; None, {} or another version give a fresh state."""
        if not document or document.get("version") != STATE_VERSION:
            return cls()
        read = document.get("planned_read")
        return cls(
            comparisons={
                str(k): ComparisonState.from_json(v)
                for k, v in document.get("comparisons", {}).items()
            },
            srm_min_p=float(document.get("srm_min_p", 1.0)),
            looks=int(document.get("looks", 0)),
            planned_read=None
            if not read
            else PlannedRead(
                {str(k): int(v) for k, v in read["users"].items()},
                {str(k): str(v) for k, v in read["outcomes"].items()},
            ),
        )


def key(metric: str, variant: str) -> str:
    return f"{metric}/{variant}"


def _bounds(i: Interval | None) -> list[float | None] | None:
    """[low, high] with None for an infinite bound (JSON has no infinity)."""
    if i is None:
        return None
    return [i.low if math.isfinite(i.low) else None, i.high if math.isfinite(i.high) else None]


def _interval(bounds: Any) -> Interval | None:
    if not bounds:
        return None
    low, high = bounds
    return Interval(
        math.nan,
        -math.inf if low is None else float(low),
        math.inf if high is None else float(high),
    )
