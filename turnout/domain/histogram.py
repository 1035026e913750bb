"""A latency histogram with log-spaced buckets: O(1) to record, mergeable, ~4% quantile error.

Bucket i ≥ 1 holds values in [2^((i-1)/8), 2^(i/8)) microseconds, bucket 0 everything below
1 µs; values beyond the last bucket (about 2^28 µs, 4.5 minutes) land in it. Eight buckets
per doubling bound a quantile's relative error by half a bucket's width (2^(1/16) - 1 ≈ 4.4%)
when the quantile is read at the bucket's geometric middle. Windows of requests merge by
adding counts, which is what rollups and percentiles over several windows need.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

SUB_BUCKETS = 8  # buckets per doubling
BUCKETS = 28 * SUB_BUCKETS + 2
_LOG2 = math.log2


def bucket_of(micros: float) -> int:
    if micros < 1.0:
        return 0
    return min(int(_LOG2(micros) * SUB_BUCKETS) + 1, BUCKETS - 1)


def upper_bound(index: int) -> float:
    """The exclusive upper edge of bucket `index`, in microseconds."""
    return 2.0 ** (index / SUB_BUCKETS)


def middle(index: int) -> float:
    """The geometric middle of bucket `index` (0 for the sub-microsecond bucket)."""
    if index == 0:
        return 0.0
    return 2.0 ** ((index - 0.5) / SUB_BUCKETS)


class LatencyHistogram:
    __slots__ = ("count", "counts", "maximum", "total")

    def __init__(self) -> None:
        self.counts = [0] * BUCKETS
        self.count = 0
        self.total = 0.0  # exact sum, for the mean
        self.maximum = 0.0

    def record(self, micros: float) -> None:
        self.counts[bucket_of(micros)] += 1
        self.count += 1
        self.total += micros
        if micros > self.maximum:
            self.maximum = micros

    def merge(self, other: LatencyHistogram) -> None:
        counts = self.counts
        for index, n in enumerate(other.counts):
            if n:
                counts[index] += n
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 < q ≤ 1), read at its bucket's middle; None when empty."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                if index == BUCKETS - 1:  # the overflow bucket has no middle
                    return self.maximum
                # The maximum is exact: never report more than was seen.
                return min(middle(index), self.maximum)
        return self.maximum

    def cumulative(self, bounds: Iterable[float]) -> list[int]:
        """Counts of values below each of `bounds` (µs, ascending), for Prometheus `le`."""
        result = []
        index = 0
        running = 0
        for bound in bounds:
            while index < BUCKETS and upper_bound(index) <= bound:
                running += self.counts[index]
                index += 1
            result.append(running)
        return result

    # storage form: only the buckets that were hit
    def sparse(self) -> dict[str, float]:
        document: dict[str, float] = {str(i): n for i, n in enumerate(self.counts) if n}
        return document

    @classmethod
    def from_parts(
        cls, buckets: Mapping[str, float], total: float, maximum: float
    ) -> LatencyHistogram:
        histogram = cls()
        for key, n in buckets.items():
            index = int(key)
            if 0 <= index < BUCKETS:
                histogram.counts[index] += int(n)
        histogram.count = sum(histogram.counts)
        histogram.total = total
        histogram.maximum = maximum
        return histogram
