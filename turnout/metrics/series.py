"""Datapoints: one metric statistic per aligned period, computed from rollups (pure).

Rollups are 10-second windows, one per router, variant and fleet; a datapoint of a longer
period adds up every rollup whose start falls in it, across routers, fleets and (unless
filtered) variants, exactly as CloudWatch aggregates the dimensions it is asked for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from turnout.domain.rollups import Metric, Rollup, align, statistic


@dataclass(frozen=True)
class Datapoint:
    start: float  # epoch seconds: the period is [start, start + period)
    value: float | None  # None: no invocations in the period


def select(
    rollups: Iterable[Rollup], variant: str | None = None, config: str | None = None
) -> list[Rollup]:
    """The rollups of one variant name and/or one endpoint config (None: any)."""
    return [
        r
        for r in rollups
        if (variant is None or r.key.variant == variant)
        and (config is None or r.key.config == config)
    ]


def by_period(rollups: Iterable[Rollup], period: float) -> dict[float, list[Rollup]]:
    grouped: dict[float, list[Rollup]] = defaultdict(list)
    for rollup in rollups:
        grouped[align(rollup.start, period)].append(rollup)
    return grouped


def series(
    rollups: Iterable[Rollup], metric: Metric, name: str, period: float, starts: Sequence[float]
) -> list[Datapoint]:
    """The statistic `name` of `metric` for each period starting at `starts`."""
    grouped = by_period(rollups, period)
    return [Datapoint(start, statistic(metric, name, grouped.get(start, ()))) for start in starts]


def period_starts(since: float, until: float, period: float) -> list[float]:
    """The starts of the periods overlapping [since, until), oldest first."""
    starts = []
    start = align(since, period)
    while start < until:
        starts.append(start)
        start += period
    return starts
