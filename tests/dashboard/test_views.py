"""The dashboard's numbers from rollups (pure)."""

from __future__ import annotations

import pytest

from turnout.api.dashboard import views
from turnout.domain.rollups import PERIOD, Rollup, VariantKey
from turnout.metrics.counters import VariantMetrics

NOW = 1_000_000.0 + 4.0  # 4 s into a period


def rollup(variant: str, start: float, ok: int, failed: int = 0, config: str = "c") -> Rollup:
    metrics = VariantMetrics(VariantKey("ep", config, variant))
    for _ in range(ok):
        metrics.observe(200, False, 1000.0, 50.0)
    for _ in range(failed):
        metrics.observe(500, True, 2000.0, 50.0)
    return Rollup(metrics.key, start, PERIOD, 1, metrics.take_window())


def test_summary_counts_five_minutes_and_rates_the_last_minute() -> None:
    open_start = NOW - 4.0
    rollups = [
        rollup("A", open_start - 200, ok=100),  # counted, too old for the rate
        rollup("A", open_start - 10, ok=50, failed=10),
        rollup("A", open_start, ok=8),
        rollup("B", open_start - 400, ok=7),  # older than five minutes: not counted
    ]
    rows = {r["variant"]: r for r in views.summary(rollups, NOW)}
    a = rows["A"]
    assert (a["invocations"], a["errors_5xx"], a["errors_4xx"]) == (168, 10, 0)
    span = NOW - (open_start - 60)  # whole periods from a minute ago, the open one to now
    assert a["rps"] == pytest.approx(68 / span, abs=0.01)
    assert a["error_rate"] == pytest.approx(10 / 68, abs=1e-4)
    assert a["p50_ms"] == pytest.approx(1.0, rel=0.05)
    assert a["p99_ms"] == pytest.approx(2.0, rel=0.05)
    assert rows["B"]["invocations"] == 0 and rows["B"]["error_rate"] is None


def test_series_rates_the_open_period_by_the_seconds_it_ran() -> None:
    open_start = NOW - 4.0
    rollups = [
        rollup("A", open_start - 10, ok=100),
        rollup("A", open_start, ok=20, config="green"),
        rollup("A", open_start, ok=20),
    ]
    found = views.series(rollups, NOW, seconds=30)
    assert found["starts"][-1] == open_start and found["starts"][-2] == open_start - 10
    lines = {(line["config"], line["variant"]): line for line in found["variants"]}
    blue, green = lines[("c", "A")], lines[("green", "A")]
    assert blue["rps"][-2:] == [10.0, 5.0]  # 100 in a whole period; 20 in the 4 s so far
    assert green["rps"][-2:] == [0.0, 5.0]
    assert green["p50_ms"][-2] is None  # no requests: no latency, not zero
    assert blue["errors_5xx_rate"][-1] == 0.0
