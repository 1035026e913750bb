"""Sizing (pure): which settings to try, whether a trial holds the target, what to recommend.

A setting is an instance count and a batching setting. The recommendation is the smallest
setting that holds the target: fewest instances first, then the batching settings in the
order given (simplest first: off, then batching without a wait, then with one).

- With a target rate: a trial sends that rate (open loop) and holds when its p99 is within
  the latency target, its error rate within `max_error_rate`, and it answered at least
  `MIN_SHARE_ANSWERED` of the rate. For each batching setting, instance counts are tried
  from 1 up until one holds; counts at or above the best setting found so far are skipped,
  since they cannot win (`next_trial`).
- Without one: a trial is a closed-loop sweep of concurrencies, and its capacity is the
  highest throughput among the steps that held the latency target (`capacity`). The
  recommendation is the setting with the most capacity per instance (ties: fewer instances),
  i.e. the one that serves a given rate with the fewest instances.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from turnout.models.batching import MAX_MAX_DELAY_MS, MAX_MAX_SIZE

MIN_SHARE_ANSWERED = 0.9
MAX_ERROR_RATE = 0.001
AS_IS = "as-is"


class SizingError(ValueError):
    """Bad sizing input; str says what to give."""


@dataclass(frozen=True)
class Batching:
    """A batching setting to try: the model's own (`as_is`), or max size and max delay."""

    max_size: int = 1
    max_delay_ms: float = 0.0
    as_is: bool = False

    @property
    def label(self) -> str:
        if self.as_is:
            return AS_IS
        if self.max_size <= 1:
            return "off"
        wait = f", wait ≤{self.max_delay_ms:g} ms" if self.max_delay_ms else ""
        return f"≤{self.max_size}{wait}"

    def environment(self) -> dict[str, str]:
        """The model environment variables that ask for this setting ({} for as-is)."""
        if self.as_is:
            return {}
        return {
            "TURNOUT_MAX_BATCH_SIZE": str(self.max_size),
            "TURNOUT_MAX_BATCH_DELAY_MS": f"{self.max_delay_ms:g}",
        }


def parse_batchings(text: str) -> list[Batching]:
    """`off,32,32:2,as-is`: off, at most 32 per call, 32 waiting ≤2 ms, the model's own."""
    found: list[Batching] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if part == AS_IS:
            setting = Batching(as_is=True)
        elif part == "off":
            setting = Batching(1)
        else:
            size_text, _, delay_text = part.partition(":")
            try:
                size = int(size_text)
                delay = float(delay_text) if delay_text else 0.0
            except ValueError:
                raise SizingError(
                    f"{part!r}: give batching settings like off, 32, 32:2 (size:wait ms) or as-is"
                ) from None
            if not 1 <= size <= MAX_MAX_SIZE or not 0 <= delay <= MAX_MAX_DELAY_MS:
                raise SizingError(
                    f"{part!r}: a batch size is 1..{MAX_MAX_SIZE}, "
                    f"a wait 0..{MAX_MAX_DELAY_MS:g} ms"
                )
            setting = Batching(size, delay if size > 1 else 0.0)
        if setting not in found:
            found.append(setting)
    if not found:
        raise SizingError("give at least one batching setting")
    return found


@dataclass(frozen=True)
class Trial:
    instances: int
    batching: int  # index into the batching settings tried
    holds: bool
    reason: str  # why it holds or not
    throughput_rps: float
    p99_ms: float | None
    error_rate: float
    capacity_rps: float | None = None  # sweeps only: the most it served within the target

    def key(self) -> tuple[int, int]:
        return (self.instances, self.batching)


def judge(
    summary: dict[str, Any],
    p99_ms: float,
    target_rps: float,
    max_error_rate: float = MAX_ERROR_RATE,
) -> tuple[bool, str]:
    """Whether a measured segment (report.py's summary) holds the target, and why not."""
    p99 = summary["p99"]
    if summary["error_rate"] > max_error_rate:
        return False, f"{100 * summary['error_rate']:.2f}% errors"
    if summary["throughput_rps"] < MIN_SHARE_ANSWERED * target_rps:
        return False, f"answered {summary['throughput_rps']:.1f} of {target_rps:g} req/s"
    if p99 is None or p99 > p99_ms:
        return False, f"p99 {'-' if p99 is None else f'{p99:.1f}'} ms > {p99_ms:g} ms"
    return True, f"p99 {p99:.1f} ms ≤ {p99_ms:g} ms at {summary['throughput_rps']:.1f} req/s"


def capacity(
    segments: Iterable[dict[str, Any]], p99_ms: float, max_error_rate: float = MAX_ERROR_RATE
) -> float | None:
    """The highest throughput among sweep steps within the latency and error targets."""
    held = [
        s["throughput_rps"]
        for s in segments
        if s["p99"] is not None
        and s["p99"] <= p99_ms
        and s["error_rate"] <= max_error_rate
        and s["answered"] > 0
    ]
    return max(held, default=None)


def recommend(trials: Sequence[Trial]) -> Trial | None:
    """With a target rate: the holding trial with the fewest instances, then the earliest
    batching setting. Sweeps: the most capacity per instance, then fewer instances."""
    held = [t for t in trials if t.holds]
    if not held:
        return None
    if all(t.capacity_rps is not None for t in held):
        return min(held, key=lambda t: (-(t.capacity_rps or 0) / t.instances, t.key()))
    return min(held, key=Trial.key)


def next_trial(
    trials: Sequence[Trial], batchings: int, max_instances: int
) -> tuple[int, int] | None:
    """(batching index, instance count) to try next at a target rate, or None when done.

    Batching settings in order; for each, counts from 1 up until one holds, never reaching
    the best count found so far (a setting with as many instances and a later batching
    setting cannot be smaller)."""
    best = recommend(trials)
    for batching in range(batchings):
        mine = [t for t in trials if t.batching == batching]
        if any(t.holds for t in mine):
            continue
        count = max((t.instances for t in mine), default=0) + 1
        if count > max_instances or (best is not None and count >= best.instances):
            continue
        return batching, count
    return None
