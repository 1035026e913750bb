"""What the dashboard shows, computed from rollups (pure: rollups and a clock in, JSON out).

Per variant of each fleet: a short summary (requests over the last minutes, requests/s,
error rates, ModelLatency p50/p99) and time series per period for the charts. The last
period is still open, so its rates divide by the seconds it has run, not by the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from turnout.domain.rollups import PERIOD, Rollup, VariantKey, Window, align, merged
from turnout.instances.backend import Instance

RATE_SECONDS = 60.0  # requests/s, error rates and latencies: over the last minute
COUNT_SECONDS = 300.0  # "requests" column: over the last five minutes
SERIES_SECONDS = 600.0  # charts: the last ten minutes


def _ms(micros: float | None) -> float | None:
    return None if micros is None else round(micros / 1000, 3)


def _latency(window: Window, quantile: float) -> float | None:
    histogram = window.model_latency
    return _ms(histogram.quantile(quantile)) if histogram.count else None


def _by_key(rollups: Iterable[Rollup]) -> dict[VariantKey, list[Rollup]]:
    grouped: dict[VariantKey, list[Rollup]] = defaultdict(list)
    for rollup in rollups:
        grouped[rollup.key].append(rollup)
    return grouped


def summary(rollups: Sequence[Rollup], now: float) -> list[dict[str, Any]]:
    """One row per (fleet, variant) that served in the last COUNT_SECONDS."""
    count_since = align(now - COUNT_SECONDS)
    rate_since = align(now - RATE_SECONDS)
    span = max(now - rate_since, 1.0)  # whole periods from rate_since, the open one to now
    rows = []
    for key, found in sorted(
        _by_key(rollups).items(), key=lambda kv: (kv[0].config, kv[0].variant)
    ):
        counted, _ = merged(r for r in found if r.start >= count_since)
        recent, _ = merged(r for r in found if r.start >= rate_since)
        calls = recent.invocations
        rows.append(
            {
                "config": key.config,
                "variant": key.variant,
                "invocations": counted.invocations,
                "errors_4xx": counted.errors_4xx,
                "errors_5xx": counted.errors_5xx,
                "rps": round(calls / span, 2),
                "error_rate": round((recent.errors_4xx + recent.errors_5xx) / calls, 4)
                if calls
                else None,
                "p50_ms": _latency(recent, 0.5),
                "p99_ms": _latency(recent, 0.99),
            }
        )
    return rows


def series(
    rollups: Sequence[Rollup], now: float, seconds: float = SERIES_SECONDS
) -> dict[str, Any]:
    """Per (fleet, variant), one value per period over the last `seconds`, oldest first."""
    first = align(now - seconds)
    starts = [first + i * PERIOD for i in range(int((align(now) - first) / PERIOD) + 1)]
    lines = []
    for key, found in sorted(
        _by_key(rollups).items(), key=lambda kv: (kv[0].config, kv[0].variant)
    ):
        periods: dict[float, list[Rollup]] = defaultdict(list)
        for rollup in found:
            periods[align(rollup.start)].append(rollup)
        line: dict[str, Any] = {"config": key.config, "variant": key.variant}
        for field in ("rps", "errors_4xx_rate", "errors_5xx_rate", "p50_ms", "p99_ms"):
            line[field] = []
        for start in starts:
            window, _ = merged(periods.get(start, ()))
            elapsed = max(min(now - start, PERIOD), 1.0)  # the open period has run `elapsed` s
            calls = window.invocations
            line["rps"].append(round(calls / elapsed, 3))
            line["errors_4xx_rate"].append(round(window.errors_4xx / calls, 4) if calls else None)
            line["errors_5xx_rate"].append(round(window.errors_5xx / calls, 4) if calls else None)
            line["p50_ms"].append(_latency(window, 0.5))
            line["p99_ms"].append(_latency(window, 0.99))
        lines.append(line)
    return {"period": PERIOD, "starts": starts, "variants": lines}


def usage(instances: Iterable[Instance]) -> list[dict[str, Any]]:
    """Each instance's recent CPU (% summed over cores) and memory (MB) samples."""
    return [
        {
            "instance": instance.spec.id,
            "config": instance.spec.fleet,
            "variant": instance.spec.variant,
            "at": [u.at for u in instance.usage],
            "cpu_percent": [u.cpu_percent for u in instance.usage],
            "memory_mb": [round(u.memory_bytes / 1024 / 1024, 1) for u in instance.usage],
        }
        for instance in sorted(instances, key=lambda i: i.spec.id)
    ]


def totals(
    rollups: Sequence[Rollup], now: float, shadows: Iterable[tuple[str, str]] = ()
) -> dict[str, Any]:
    """The endpoint's own numbers, every fleet and variant together (shadow copies left
    out): its error rate is all errors over all invocations, not the worst variant's."""
    skip = set(shadows)
    served = [r for r in rollups if (r.key.config, r.key.variant) not in skip]
    count_since, rate_since = align(now - COUNT_SECONDS), align(now - RATE_SECONDS)
    counted, _ = merged(r for r in served if r.start >= count_since)
    recent, _ = merged(r for r in served if r.start >= rate_since)
    calls, errors = recent.invocations, recent.errors_4xx + recent.errors_5xx
    return {
        "invocations": counted.invocations,
        "errors": counted.errors_4xx + counted.errors_5xx,
        "rps": round(calls / max(now - rate_since, 1.0), 2),
        "error_rate": round(errors / calls, 4) if calls else None,
        "p99_ms": _latency(recent, 0.99),
    }
