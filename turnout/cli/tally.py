"""Per-variant counts of the demo's traffic: requests, share, accuracy, latency (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Outcome:
    """One invocation as the demo's load generator saw it."""

    variant: str  # "" when the request failed
    correct: bool
    latency_s: float
    error: str | None = None  # why it failed, if it did

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class VariantRow:
    variant: str
    requests: int
    share: float
    accuracy: float
    p50_ms: float
    p99_ms: float


@dataclass
class Tally:
    rows: list[VariantRow] = field(default_factory=list)
    total: int = 0
    failed: int = 0


def tally(outcomes: Iterable[Outcome]) -> Tally:
    """Group outcomes by variant; failed requests are counted apart, not in any share."""
    by_variant: dict[str, list[Outcome]] = {}
    failed = 0
    for outcome in outcomes:
        if outcome.failed:
            failed += 1
        else:
            by_variant.setdefault(outcome.variant, []).append(outcome)
    served = sum(len(group) for group in by_variant.values())
    rows = []
    for variant in sorted(by_variant):
        group = by_variant[variant]
        latencies = np.array([o.latency_s for o in group]) * 1000.0
        rows.append(
            VariantRow(
                variant=variant,
                requests=len(group),
                share=len(group) / served,
                accuracy=sum(o.correct for o in group) / len(group),
                p50_ms=float(np.percentile(latencies, 50)),
                p99_ms=float(np.percentile(latencies, 99)),
            )
        )
    return Tally(rows, served + failed, failed)
