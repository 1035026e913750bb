"""The load shape (pure): how much load, over time.

A shape is a list of segments, each `seconds` long, whose level goes linearly from `start`
to `end` (equal for a constant step). The level is a number of requests in flight
(`concurrency`, a closed loop: each connection sends its next request when the last one is
answered) or requests per second (`rate`, an open loop: requests are sent at their
intended times whatever the answers do, so a slow server cannot slow the load down and
hide its own latency; latency is measured from the intended send time).

Written on the command line as LEVELS with a duration per segment:

    8            one constant segment
    2,4,8        steps: one segment per level
    10..200      a ramp from 10 to 200
    10..200,200  a ramp, then a constant step at 200
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

MAX_CONCURRENCY = 1024
MAX_RATE = 100_000.0
MAX_SECONDS = 3600.0  # the whole run
MAX_SEGMENTS = 64


class Mode(StrEnum):
    concurrency = "concurrency"
    rate = "rate"


class ShapeError(ValueError):
    """LEVELS or a duration turnout cannot use; str says what to give."""


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    seconds: float

    def level_at(self, t: float) -> float:
        """The level `t` seconds into this segment."""
        if self.seconds <= 0:
            return self.end
        return self.start + (self.end - self.start) * min(max(t / self.seconds, 0.0), 1.0)

    def sends(self) -> float:
        """Requests a rate segment sends: the integral of its rate."""
        return (self.start + self.end) / 2 * self.seconds

    def time_of(self, n: float) -> float:
        """When, from the segment's start, the n-th request of a rate segment is due: the
        time at which the integral of the rate reaches n (n ≤ sends())."""
        a, b, d = self.start, self.end, self.seconds
        if math.isclose(a, b):
            return n / a if a > 0 else d
        # n = a t + (b - a) t² / (2 d): the root in [0, d].
        k = (b - a) / (2 * d)
        disc = a * a + 4 * k * n
        return max(0.0, min(d, (-a + math.sqrt(max(disc, 0.0))) / (2 * k)))


@dataclass(frozen=True)
class Shape:
    mode: Mode
    segments: tuple[Segment, ...]

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.segments)

    @property
    def peak(self) -> float:
        return max(max(s.start, s.end) for s in self.segments)

    def level_at(self, t: float) -> float:
        """The level `t` seconds into the run (the last segment's end level after it)."""
        for segment in self.segments:
            if t < segment.seconds:
                return segment.level_at(t)
            t -= segment.seconds
        return self.segments[-1].end

    def segment_at(self, t: float) -> int:
        """The index of the segment `t` seconds into the run falls in."""
        for index, segment in enumerate(self.segments):
            if t < segment.seconds:
                return index
            t -= segment.seconds
        return len(self.segments) - 1

    def expected_sends(self) -> float:
        """Requests a rate shape sends over the whole run."""
        return sum(s.sends() for s in self.segments)

    def send_times(self) -> Iterator[float]:
        """A rate shape's intended send times, in seconds from the start, ascending: the
        n-th request goes when the integral of the rate reaches n - 1/2 (so a constant
        rate r sends at 1/2r, 3/2r, ...)."""
        assert self.mode is Mode.rate
        offset = 0.0
        carried = 0.5  # requests' worth of integral owed before the next send
        for segment in self.segments:
            total = segment.sends()
            n = carried
            while n <= total:
                yield offset + segment.time_of(n)
                n += 1.0
            carried = n - total
            offset += segment.seconds


def parse_levels(text: str, mode: Mode) -> list[tuple[float, float]]:
    """`8`, `2,4,8`, `10..200` or a mix, as (start, end) pairs; ShapeError if unusable."""
    limit = MAX_CONCURRENCY if mode is Mode.concurrency else MAX_RATE
    pairs = []
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise ShapeError(f"{text!r}: give levels like 8, 2,4,8 or 10..200")
    if len(parts) > MAX_SEGMENTS:
        raise ShapeError(f"{text!r}: at most {MAX_SEGMENTS} levels")
    for part in parts:
        start_text, ramp, end_text = part.partition("..")
        try:
            start = float(start_text)
            end = float(end_text) if ramp else start
        except ValueError:
            raise ShapeError(
                f"{part!r} is not a number: give levels like 8, 2,4,8 or 10..200"
            ) from None
        for level in (start, end):
            if not math.isfinite(level) or level < 0 or level > limit:
                raise ShapeError(f"{part!r}: each {mode.value} level must be within 0..{limit:g}")
            if mode is Mode.concurrency and level != int(level):
                raise ShapeError(f"{part!r}: a concurrency is a whole number of requests")
        if max(start, end) <= 0:
            raise ShapeError(f"{part!r}: a level must be above 0 somewhere")
        pairs.append((start, end))
    return pairs


def build_shape(mode: Mode, levels: str, seconds_each: float) -> Shape:
    """The shape LEVELS describe, each segment `seconds_each` long."""
    if not 0 < seconds_each <= MAX_SECONDS:
        raise ShapeError(f"a duration must be above 0 and at most {MAX_SECONDS:g} s")
    pairs = parse_levels(levels, mode)
    if len(pairs) * seconds_each > MAX_SECONDS:
        raise ShapeError(
            f"{len(pairs)} segments of {seconds_each:g} s exceed {MAX_SECONDS:g} s in all"
        )
    return Shape(mode, tuple(Segment(a, b, seconds_each) for a, b in pairs))


def parse_seconds(text: str) -> float:
    """`30`, `30s`, `2m` or `500ms` as seconds; ShapeError if not."""
    raw = text.strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if raw.endswith(suffix):
            raw, scale = raw[: -len(suffix)], factor
            break
    else:
        scale = 1.0
    try:
        value = float(raw) * scale
    except ValueError:
        raise ShapeError(f"{text!r} is not a duration: give 30, 30s, 2m or 500ms") from None
    if not math.isfinite(value) or value <= 0:
        raise ShapeError(f"{text!r}: a duration must be above 0")
    return value
