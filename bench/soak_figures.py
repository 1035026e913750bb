"""The soak's figures from its RSS samples: pure functions, no I/O (bench/soak.py uses them).

A sample is (seconds since the traffic started, pid, role, label, RSS in MB). Roles are
"serve" (the `turnout serve` process) and "instance" (every instance process, which
blue/green deployments replace: their RSS is compared as the mean per live instance).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

WARMUP_S = 60.0  # a process's first minute (imports, caches, first requests) is not a trend


class Sample(NamedTuple):
    t: float
    pid: int
    role: str
    label: str
    rss_mb: float


@dataclass(frozen=True)
class RoleFigures:
    """RSS of one role over the run: per sampling round, the role's mean per process."""

    role: str
    start_mb: float  # mean over the first window
    end_mb: float  # mean over the last window
    growth_mb: float  # end - start
    slope_mb_per_hour: float  # median over the role's processes of their own slope
    peak_mb: float  # the largest mean seen in one round
    processes: int  # distinct pids seen

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "role": self.role,
            "start_mb": round(self.start_mb, 1),
            "end_mb": round(self.end_mb, 1),
            "growth_mb": round(self.growth_mb, 1),
            "slope_mb_per_hour": round(self.slope_mb_per_hour, 1),
            "peak_mb": round(self.peak_mb, 1),
            "processes": self.processes,
        }


def window_seconds(duration: float, preferred: float = 300.0) -> float:
    """Five minutes, or a third of a run too short for two five-minute windows."""
    return min(preferred, duration / 3)


def rounds(samples: Iterable[Sample], role: str) -> list[tuple[float, float]]:
    """(t, mean RSS per process of `role`) per sampling round, in time order."""
    by_t: dict[float, list[float]] = defaultdict(list)
    for s in samples:
        if s.role == role:
            by_t[s.t].append(s.rss_mb)
    return [(t, statistics.fmean(v)) for t, v in sorted(by_t.items())]


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of MB against seconds, in MB per hour; 0 with under 2 points."""
    if len(points) < 2:
        return 0.0
    ts = [t for t, _ in points]
    if max(ts) == min(ts):
        return 0.0
    slope, _ = statistics.linear_regression(ts, [v for _, v in points])
    return slope * 3600


def process_slopes(samples: Iterable[Sample], role: str, warmup: float = WARMUP_S) -> list[float]:
    """Each process's own least-squares slope (MB/hour) after its first `warmup` seconds,
    for processes with at least 3 such samples spanning a minute or more.

    Per process: instances are replaced by deployments, and a mean across processes of
    different ages would read their replacement as growth or shrinkage."""
    series: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for s in samples:
        if s.role == role:
            series[s.pid].append((s.t, s.rss_mb))
    slopes = []
    for points in series.values():
        born = min(t for t, _ in points)
        steady = sorted((t, v) for t, v in points if t >= born + warmup)
        if len(steady) >= 3 and steady[-1][0] - steady[0][0] >= 60:
            slopes.append(slope_per_hour(steady))
    return slopes


def role_figures(samples: Sequence[Sample], role: str, duration: float) -> RoleFigures | None:
    """The role's figures, or None when it was never sampled."""
    points = rounds(samples, role)
    if not points:
        return None
    window = window_seconds(duration)
    first = [v for t, v in points if t <= window] or [points[0][1]]
    last = [v for t, v in points if t >= duration - window] or [points[-1][1]]
    start, end = statistics.fmean(first), statistics.fmean(last)
    slopes = process_slopes(samples, role)
    return RoleFigures(
        role=role,
        start_mb=start,
        end_mb=end,
        growth_mb=end - start,
        slope_mb_per_hour=statistics.median(slopes) if slopes else 0.0,
        peak_mb=max(v for _, v in points),
        processes=len({s.pid for s in samples if s.role == role}),
    )


def over_bound(figures: Iterable[RoleFigures], max_growth_mb: float) -> list[str]:
    """One line per role whose RSS grew more than `max_growth_mb` (first vs last window)."""
    return [
        f"{f.role}: RSS grew {f.growth_mb:.1f} MB (bound {max_growth_mb:g} MB)"
        for f in figures
        if f.growth_mb > max_growth_mb
    ]
