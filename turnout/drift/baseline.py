"""A baseline: per-feature statistics and constraints of a training CSV (pure, no I/O).

Numeric features keep count, missing, mean, std, min/max, quantile bin edges with the
training rows' counts per bin, and a bounded sample (the KS test's reference); categorical
features keep category frequencies. `statistics()`/`constraints()` give Model Monitor's
statistics.json/constraints.json shapes, roughly.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from turnout.errors import InvalidRequest

BINS = 10  # quantile bins per numeric feature: PSI's usual choice
SAMPLE = 2000  # reference values kept per numeric feature for the KS test
MAX_CATEGORIES = 100  # kept per categorical feature; the rest count as "other"
MAX_FEATURES = 500
MAX_ROWS = 1_000_000
DRIFT_THRESHOLD = 0.1  # Model Monitor's default comparison_threshold


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # "Fractional" or "String", Model Monitor's inferred types
    count: int
    missing: int
    mean: float = 0.0
    std: float = 0.0
    min: float = 0.0
    max: float = 0.0
    edges: tuple[float, ...] = ()  # BINS + 1 quantile edges (inner ones split the bins)
    bin_counts: tuple[int, ...] = ()
    sample: tuple[float, ...] = ()
    frequencies: dict[str, int] = field(default_factory=dict)

    @property
    def numeric(self) -> bool:
        return self.kind == "Fractional"

    @property
    def completeness(self) -> float:
        return (self.count - self.missing) / self.count if self.count else 1.0


@dataclass(frozen=True)
class Baseline:
    features: tuple[Feature, ...]
    rows: int
    threshold: float = DRIFT_THRESHOLD

    def feature(self, name: str) -> Feature | None:
        return next((f for f in self.features if f.name == name), None)


def as_number(text: str) -> float | None:
    """A finite float, or None for anything else."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def is_missing(text: str) -> bool:
    return text.strip() == ""


def bin_index(edges: Sequence[float], value: float) -> int:
    """Which of the len(edges) - 1 bins `value` falls in (outside values: the end bins)."""
    inner = edges[1:-1]
    lo, hi = 0, len(inner)
    while lo < hi:  # bisect_right over the inner edges
        mid = (lo + hi) // 2
        if value < inner[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def quantile_edges(values: Sequence[float], bins: int = BINS) -> tuple[float, ...]:
    ordered = sorted(values)
    n = len(ordered)
    return tuple(
        ordered[min(n - 1, (i * n) // bins)] if i < bins else ordered[-1] for i in range(bins + 1)
    )


def compute(header: Sequence[str], rows: Sequence[Sequence[str]], seed: int = 0) -> Baseline:
    """The baseline of `rows` (strings, as read from CSV) with columns named by `header`."""
    if not header:
        raise InvalidRequest("The training data has no header row naming its features.")
    if len(header) > MAX_FEATURES:
        raise InvalidRequest(f"The training data has more than {MAX_FEATURES} features.")
    if len(set(header)) != len(header):
        raise InvalidRequest("The training data's header names a feature twice.")
    if not rows:
        raise InvalidRequest("The training data has a header but no rows.")
    if len(rows) > MAX_ROWS:
        raise InvalidRequest(f"The training data has more than {MAX_ROWS} rows.")
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise InvalidRequest(
                f"Row {i + 2} has {len(row)} values; the header names {len(header)}."
            )
    rng = random.Random(seed)
    features = [_feature(name, [row[i] for row in rows], rng) for i, name in enumerate(header)]
    return Baseline(tuple(features), len(rows))


def _feature(name: str, column: list[str], rng: random.Random) -> Feature:
    present = [v for v in column if not is_missing(v)]
    missing = len(column) - len(present)
    numbers = [as_number(v) for v in present]
    if present and all(n is not None for n in numbers):
        values = [n for n in numbers if n is not None]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        edges = quantile_edges(values)
        counts = [0] * BINS
        for v in values:
            counts[bin_index(edges, v)] += 1
        sample = values if len(values) <= SAMPLE else rng.sample(values, SAMPLE)
        return Feature(
            name,
            "Fractional",
            len(column),
            missing,
            mean,
            std,
            min(values),
            max(values),
            edges,
            tuple(counts),
            tuple(sample),
        )
    frequencies = dict(Counter(v.strip() for v in present).most_common(MAX_CATEGORIES))
    return Feature(name, "String", len(column), missing, frequencies=frequencies)


def statistics(baseline: Baseline) -> dict[str, Any]:
    """Model Monitor's statistics.json, roughly."""
    out = []
    for f in baseline.features:
        common = {"num_present": f.count - f.missing, "num_missing": f.missing}
        if f.numeric:
            out.append(
                {
                    "name": f.name,
                    "inferred_type": f.kind,
                    "numerical_statistics": {
                        "common": common,
                        "mean": f.mean,
                        "std_dev": f.std,
                        "min": f.min,
                        "max": f.max,
                        "distribution": {
                            "kll": {
                                "buckets": [
                                    {
                                        "lower_bound": f.edges[i],
                                        "upper_bound": f.edges[i + 1],
                                        "count": f.bin_counts[i],
                                    }
                                    for i in range(len(f.bin_counts))
                                ]
                            }
                        },
                    },
                }
            )
        else:
            out.append(
                {
                    "name": f.name,
                    "inferred_type": f.kind,
                    "string_statistics": {
                        "common": common,
                        "distinct_count": len(f.frequencies),
                        "distribution": {
                            "categorical": {
                                "buckets": [
                                    {"value": k, "count": v} for k, v in f.frequencies.items()
                                ]
                            }
                        },
                    },
                }
            )
    return {"version": 0.0, "dataset": {"item_count": baseline.rows}, "features": out}


def constraints(baseline: Baseline) -> dict[str, Any]:
    """Model Monitor's constraints.json, roughly."""
    return {
        "version": 0.0,
        "features": [
            {"name": f.name, "inferred_type": f.kind, "completeness": f.completeness}
            for f in baseline.features
        ],
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": baseline.threshold,
                "comparison_method": "Robust",
            },
        },
    }


def to_document(baseline: Baseline) -> dict[str, Any]:
    """JSON-ready, as the store keeps it."""
    return {
        "rows": baseline.rows,
        "threshold": baseline.threshold,
        "features": [
            {
                "name": f.name,
                "kind": f.kind,
                "count": f.count,
                "missing": f.missing,
                "mean": f.mean,
                "std": f.std,
                "min": f.min,
                "max": f.max,
                "edges": list(f.edges),
                "bin_counts": list(f.bin_counts),
                "sample": list(f.sample),
                "frequencies": f.frequencies,
            }
            for f in baseline.features
        ],
    }


def from_document(doc: dict[str, Any]) -> Baseline:
    features = tuple(
        Feature(
            name=f["name"],
            kind=f["kind"],
            count=f["count"],
            missing=f["missing"],
            mean=f["mean"],
            std=f["std"],
            min=f["min"],
            max=f["max"],
            edges=tuple(f["edges"]),
            bin_counts=tuple(f["bin_counts"]),
            sample=tuple(f["sample"]),
            frequencies=dict(f["frequencies"]),
        )
        for f in doc["features"]
    )
    return Baseline(features, int(doc["rows"]), float(doc.get("threshold", DRIFT_THRESHOLD)))
