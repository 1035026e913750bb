"""Outlier ejection, as Envoy does it: take a misbehaving instance out of rotation for a while.

Two detectors, per instance of a variant:
- **consecutive failures**: N answers in a row that were 5xx, a timeout or no answer eject
  the instance at once (Envoy's consecutive_5xx);
- **latency**: at each sweep (every `interval` seconds of a variant's traffic), an instance
  whose recent latency (an EWMA over its answers) is `latency_factor` times the median of
  its siblings', and at least `latency_floor_us` above it, is ejected. Least-outstanding
  routing already sends a slow instance less under high concurrency; at low concurrency
  every instance is idle at each pick, so without this the slow one keeps its full share.

An ejection lasts `base_ejection_time` times the number of times in a row the instance was
ejected (capped at `max_ejection_time`); each sweep that finds a returned instance healthy
takes one from that count, as Envoy does. At most `max_ejection_percent` of a variant's
instances are ejected at once, and never all of them: one always takes traffic.

Pure logic over plain state objects; the caller passes the clock (`now`, seconds on
`time.perf_counter`'s scale). Per request it costs one EWMA update (`observe`) or one
increment (`fail`); the O(n) sweep runs once per interval per variant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutlierPolicy:
    """When to eject (see the module's doc); `turnout serve --outlier-*` sets four of these."""

    consecutive_failures: int = 5  # 0: no ejection on failures
    latency_factor: float = 3.0  # 0: no ejection on latency
    latency_floor_us: float = 10_000.0  # an outlier is also this much slower than the median
    min_samples: int = 10  # answers an instance needs (since it last returned) to be judged
    min_hosts: int = 3  # instances with enough samples for a median worth comparing with
    ewma_alpha: float = 0.1  # weight of the newest answer in the latency average
    interval: float = 1.0
    base_ejection_time: float = 30.0
    max_ejection_time: float = 300.0
    max_ejection_percent: float = 50.0  # of a variant's instances; 0: never eject

    @property
    def enabled(self) -> bool:
        return self.max_ejection_percent > 0 and (
            self.consecutive_failures > 0 or self.latency_factor > 0
        )


SPIKE_CLIP = 4.0  # one answer moves the latency average as if at most this many times it

DEFAULT_OUTLIERS = OutlierPolicy()
OFF = OutlierPolicy(consecutive_failures=0, latency_factor=0.0, max_ejection_percent=0.0)


class OutlierStats:
    """What the detectors know of one instance; mutated on the event loop only."""

    __slots__ = ("ejected", "ejected_until", "ejections", "ewma_us", "failures", "multiplier",
                 "samples")  # fmt: skip

    def __init__(self) -> None:
        self.ejected = False
        self.ejected_until = 0.0
        self.ejections = 0  # ejections since the process started (the metric's counter)
        self.multiplier = 0  # ejections in a row: scales the next ejection's length
        self.failures = 0  # consecutive failed answers
        self.ewma_us = 0.0
        self.samples = 0  # answers since it joined or returned

    def observe(self, latency_us: float, policy: OutlierPolicy) -> None:
        """A successful answer: latency into the average, the failure streak ends.

        Robust to stalls: until it can be judged the average is the fastest answer (a first
        request that paid for a cold start says nothing); after that one answer counts at
        most as `SPIKE_CLIP` times the average, so a lone stall (a GC pause, a busy core)
        cannot make an outlier, while a steady slowdown still grows it by ~30% an answer."""
        self.failures = 0
        samples = self.samples
        self.samples = samples + 1
        if samples >= policy.min_samples:  # the usual case first: this runs per answer
            ewma = self.ewma_us
            clip = SPIKE_CLIP * ewma
            self.ewma_us = ewma + policy.ewma_alpha * (
                (latency_us if latency_us < clip else clip) - ewma
            )
        elif samples == 0 or latency_us < self.ewma_us:
            self.ewma_us = latency_us

    def eject(self, now: float, policy: OutlierPolicy) -> None:
        self.multiplier += 1
        self.ejections += 1
        self.ejected = True
        self.ejected_until = now + ejection_time(self.multiplier, policy)

    def restore(self) -> None:
        """Back in rotation, judged afresh: old latencies say nothing of the instance now."""
        self.ejected = False
        self.failures = 0
        self.samples = 0
        self.ewma_us = 0.0


def ejection_time(multiplier: int, policy: OutlierPolicy) -> float:
    """Seconds an ejection lasts, the `multiplier`-th in a row (1 for the first)."""
    return min(
        policy.base_ejection_time * max(multiplier, 1),
        max(policy.base_ejection_time, policy.max_ejection_time),
    )


def max_ejected(hosts: int, policy: OutlierPolicy) -> int:
    """How many of `hosts` instances may be ejected at once: the percentage rounded down,
    at least one when there are two or more (as Envoy: a small variant can eject), never all."""
    if policy.max_ejection_percent <= 0 or hosts < 2:
        return 0
    return min(hosts - 1, max(1, math.floor(hosts * policy.max_ejection_percent / 100)))


def may_eject(stats: Sequence[OutlierStats], policy: OutlierPolicy) -> bool:
    """Whether one more of these (a variant's instances) may be ejected now."""
    return sum(s.ejected for s in stats) < max_ejected(len(stats), policy)


def fail(stats: OutlierStats, siblings: Sequence[OutlierStats], policy: OutlierPolicy,
         now: float) -> bool:  # fmt: skip
    """A failed answer (5xx, timeout, no answer); True when it ejects the instance.

    `siblings` are all the variant's instances' stats, this one's included; they are read
    only when the streak reaches the threshold."""
    stats.failures += 1
    if (
        policy.consecutive_failures <= 0
        or stats.failures < policy.consecutive_failures
        or stats.ejected
        or not may_eject(siblings, policy)
    ):
        return False
    stats.eject(now, policy)
    return True


def latency_outliers(
    latencies: Sequence[float | None], factor: float, floor_us: float, min_hosts: int
) -> list[int]:
    """Indexes of the latencies (None: not enough samples) that are `factor` times the
    median of the known ones and `floor_us` above it; none with fewer than `min_hosts` known."""
    known = sorted(x for x in latencies if x is not None)
    if factor <= 0 or len(known) < max(min_hosts, 2):
        return []
    mid = len(known) // 2
    median = known[mid] if len(known) % 2 else (known[mid - 1] + known[mid]) / 2
    bound = max(median * factor, median + floor_us)
    return [i for i, x in enumerate(latencies) if x is not None and x > bound]


def sweep(stats: Sequence[OutlierStats], policy: OutlierPolicy, now: float) -> list[int]:
    """One periodic look at a variant's instances: return those whose ejection is over,
    eject latency outliers (slowest first, within the cap), and count one healthy interval
    for the others that were ejected before; the newly ejected indexes."""
    for s in stats:
        if s.ejected and now >= s.ejected_until:
            s.restore()
    latencies = [
        s.ewma_us if not s.ejected and s.samples >= policy.min_samples else None for s in stats
    ]
    found = latency_outliers(
        latencies, policy.latency_factor, policy.latency_floor_us, policy.min_hosts
    )
    ejected: list[int] = []
    for i in sorted(found, key=lambda i: -stats[i].ewma_us):
        if not may_eject(stats, policy):
            break
        stats[i].eject(now, policy)
        ejected.append(i)
    for i, s in enumerate(stats):
        if s.multiplier and latencies[i] is not None and i not in found:
            s.multiplier -= 1  # judged and healthy since it came back
    return ejected
