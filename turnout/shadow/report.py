"""The comparison report of a shadow variant over a time window. Pure.

From the stored tallies (one per router and flush period): agreement between the shadow's
answers and production's on the same requests, both sides' latency and error rates, a few
disagreeing examples, and the agreement per minute for a chart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from turnout.shadow.tally import MAX_EXAMPLES, Tally

BUCKET_SECONDS = 60.0


@dataclass(frozen=True)
class StoredTally:
    variant: str  # the production variant mirrored
    shadow: str
    period_start: float
    tally: Tally


def report(
    endpoint: str,
    shadow: str,
    tallies: Iterable[StoredTally],
    start: float,
    end: float | None,
) -> dict[str, Any]:
    """The report of `shadow` over [start, end) (end None: up to now)."""
    total = Tally()
    minutes: dict[float, Tally] = {}
    variants: set[str] = set()
    for stored in tallies:
        if stored.shadow != shadow or stored.period_start < start:
            continue
        if end is not None and stored.period_start >= end:
            continue
        variants.add(stored.variant)
        total.merge(stored.tally)
        minute = stored.period_start - stored.period_start % BUCKET_SECONDS
        minutes.setdefault(minute, Tally()).merge(stored.tally)
    return {
        "endpoint": endpoint,
        "shadow_variant": shadow,
        "production_variants": sorted(variants),
        "start": start,
        "end": end,
        "pairs": total.pairs,
        "compared": total.compared,
        "agreed": total.agreed,
        "agreement": _rate(total.agreed, total.compared),
        "dropped": total.dropped,
        "production": _side(total.production_errors, total, production=True),
        "shadow": _side(total.shadow_errors, total, production=False),
        "examples": total.examples[: MAX_EXAMPLES * 2],
        "timeline": [
            {
                "start": minute,
                "pairs": t.pairs,
                "agreement": _rate(t.agreed, t.compared),
                "production_p99_ms": _ms(t.production_latency.quantile(0.99)),
                "shadow_p99_ms": _ms(t.shadow_latency.quantile(0.99)),
            }
            for minute, t in sorted(minutes.items())
        ],
    }


def _side(errors: int, total: Tally, *, production: bool) -> dict[str, Any]:
    latency = total.production_latency if production else total.shadow_latency
    return {
        "errors": errors,
        "error_rate": _rate(errors, total.pairs),
        "p50_ms": _ms(latency.quantile(0.5)),
        "p99_ms": _ms(latency.quantile(0.99)),
    }


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _ms(micros: float | None) -> float | None:
    return None if micros is None else round(micros / 1000.0, 3)
