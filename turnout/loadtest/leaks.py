"""Is an instance leaking memory? Pure: a verdict on one instance's RSS series.

An instance leaks when its RSS *keeps growing* over the run. Warm-up (caches filling, a
model's first batch, the allocator's arenas) makes RSS jump early and then stay flat, and
RSS is noisy by a few MB either way; neither is a leak. So an instance is flagged when all
of these hold:

- enough evidence: at least `min_samples` samples spanning at least `min_share` of the run;
- a robust upward trend: the Theil-Sen slope (the median of all pairwise slopes, which a
  few outliers or one jump cannot move) with its 95% confidence interval entirely above 0;
- growth that matters, beyond doubt: the interval's *lower* slope x span is at least
  `floor_mb` (with the estimate alone, flat noise of sd 12 MB over a minute was flagged in
  about 1 series of 1,300: 0.075% of 4,000 seeded ones);
- still growing at the end: the Theil-Sen slope over the last half of the samples is at
  least half the whole run's (a warm-up step early on has a flat second half).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FLOOR_MB = 16.0
MIN_SHARE = 0.5
MIN_SAMPLES = 6


@dataclass(frozen=True)
class LeakVerdict:
    leaking: bool
    slope_mb_per_min: float | None
    growth_mb: float | None  # slope x the samples' span
    reason: str


def detect_leak(
    times: Sequence[float],
    rss_mb: Sequence[float],
    run_seconds: float,
    *,
    floor_mb: float = FLOOR_MB,
    min_share: float = MIN_SHARE,
    min_samples: int = MIN_SAMPLES,
) -> LeakVerdict:
    """The verdict on RSS samples `rss_mb` taken at `times` (seconds, ascending)."""
    from scipy.stats import theilslopes

    if len(times) != len(rss_mb):
        raise ValueError("times and rss_mb differ in length")
    span = (times[-1] - times[0]) if times else 0.0
    if len(times) < min_samples or span < min_share * run_seconds or span <= 0:
        return LeakVerdict(
            False,
            None,
            None,
            f"too few samples to tell ({len(times)} over {span:.0f} s of {run_seconds:.0f} s)",
        )
    slope, _, low, _ = theilslopes(rss_mb, times, alpha=0.95)
    growth = slope * span
    per_min = round(float(slope) * 60, 3)
    if low <= 0:
        return LeakVerdict(False, per_min, round(growth, 2), "no steady growth")
    if low * span < floor_mb:
        return LeakVerdict(
            False,
            per_min,
            round(growth, 2),
            f"grew {growth:.1f} MB (at least {low * span:.1f} MB at 95%), under {floor_mb:g} MB",
        )
    half = len(times) // 2
    late_slope = theilslopes(rss_mb[half:], times[half:])[0] if len(times) - half >= 3 else 0.0
    if late_slope < 0.5 * slope:
        return LeakVerdict(False, per_min, round(growth, 2), "grew early, then levelled off")
    return LeakVerdict(
        True,
        per_min,
        round(growth, 2),
        f"RSS grew {growth:.0f} MB over {span:.0f} s ({per_min:+.1f} MB/min) and still grows",
    )
