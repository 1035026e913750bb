"""Drift of observed rows against a baseline, per feature (pure; scipy for the tests' p-values).

Numeric features: PSI over the baseline's quantile bins and the two-sample Kolmogorov-Smirnov
test against the baseline's reference sample; categorical ones: L-infinity distance between
the category shares and a chi-square test. A feature *drifts* when its distance (KS statistic
or L-infinity, Model Monitor's `feature_baseline_drift_<feature>`) exceeds the baseline's
threshold AND the test's p-value is below ALPHA: a small window alone never flags a feature.
Missing values beyond the baseline's completeness and values of the wrong type are
violations too. scipy is imported inside the functions (the server must not load it at start).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from turnout.drift.baseline import Baseline, Feature, as_number, bin_index, is_missing

ALPHA = 0.001  # a test's p-value below this is significant
COMPLETENESS_SLACK = 0.05  # observed completeness may fall this far below the baseline's
_EPS = 1e-4  # floor of a bin's share in PSI (an empty bin would make it infinite)


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    count: int  # observed rows
    distance: float  # KS statistic (numeric) or L-infinity (categorical): the drift metric
    p_value: float
    psi: float | None  # numeric features only
    missing: int
    type_errors: int
    violations: tuple[str, ...]  # e.g. ("baseline_drift_check", "completeness_check")


@dataclass(frozen=True)
class Report:
    rows: int
    features: tuple[FeatureDrift, ...]
    predictions: dict[str, float]  # share of each predicted label

    @property
    def violations(self) -> list[str]:
        return [f.name for f in self.features if f.violations]


def psi(expected: Sequence[int], actual: Sequence[int]) -> float:
    """Population stability index between two histograms over the same bins."""
    e_total, a_total = sum(expected), sum(actual)
    if not e_total or not a_total:
        return 0.0
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe, pa = max(e / e_total, _EPS), max(a / a_total, _EPS)
        total += (pa - pe) * math.log(pa / pe)
    return total


def linf(expected: dict[str, int], actual: dict[str, int]) -> float:
    """The largest difference of any category's share (L-infinity)."""
    e_total, a_total = sum(expected.values()) or 1, sum(actual.values()) or 1
    keys = set(expected) | set(actual)
    return max(
        (abs(expected.get(k, 0) / e_total - actual.get(k, 0) / a_total) for k in keys), default=0.0
    )


def ks(reference: Sequence[float], observed: Sequence[float]) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test."""
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, observed)
    return float(result.statistic), float(result.pvalue)


def chi_square(expected: dict[str, int], actual: dict[str, int]) -> float:
    """p-value that `actual` follows `expected`'s category shares (unseen ones pooled)."""
    from scipy.stats import chisquare

    n = sum(actual.values())
    e_total = sum(expected.values())
    if n == 0 or e_total == 0:
        return 1.0
    keys = list(expected)
    observed = [actual.get(k, 0) for k in keys]
    shares = [max(expected[k] / e_total, _EPS) for k in keys]
    other = n - sum(observed)
    observed.append(other)
    shares.append(_EPS)
    scale = sum(shares)
    result = chisquare(observed, [s / scale * n for s in shares])
    return float(result.pvalue)


def feature_drift(feature: Feature, column: Sequence[str], threshold: float) -> FeatureDrift:
    present = [v for v in column if not is_missing(v)]
    missing = len(column) - len(present)
    violations = []
    if column and (len(present) / len(column)) < feature.completeness - COMPLETENESS_SLACK:
        violations.append("completeness_check")
    if feature.numeric:
        numbers = [as_number(v) for v in present]
        values = [n for n in numbers if n is not None]
        type_errors = len(numbers) - len(values)
        if not values:
            distance, p_value, index = 0.0, 1.0, None
        else:
            distance, p_value = ks(feature.sample, values)
            counts = [0] * len(feature.bin_counts)
            for v in values:
                counts[bin_index(feature.edges, v)] += 1
            index = psi(feature.bin_counts, counts)
    else:
        type_errors, index = 0, None
        observed = dict(Counter(v.strip() for v in present))
        distance = linf(feature.frequencies, observed) if present else 0.0
        p_value = chi_square(feature.frequencies, observed)
    if type_errors:
        violations.append("data_type_check")
    if distance > threshold and p_value < ALPHA:
        violations.append("baseline_drift_check")
    return FeatureDrift(
        feature.name,
        len(column),
        distance,
        p_value,
        index,
        missing,
        type_errors,
        tuple(violations),
    )


def report(
    baseline: Baseline, rows: Sequence[Sequence[str]], predictions: Sequence[str] = ()
) -> Report:
    """Drift of `rows` (values in the baseline's feature order; a short row's absent
    values count as missing) and the prediction mix."""
    width = len(baseline.features)
    padded = [list(r[:width]) + [""] * (width - len(r)) for r in rows]
    features = tuple(
        feature_drift(f, [r[i] for r in padded], baseline.threshold)
        for i, f in enumerate(baseline.features)
    )
    mix = Counter(predictions)
    total = sum(mix.values())
    shares = {k: v / total for k, v in sorted(mix.items())} if total else {}
    return Report(len(rows), features, shares)
