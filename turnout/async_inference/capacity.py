"""How many asynchronous requests each variant may take now, and which one takes the next:
pure functions (ADR 0031).

SageMaker bounds an async endpoint's concurrency per instance
(MaxConcurrentInvocationsPerInstance); turnout applies it per variant: at most that many
times the variant's ready instances in flight. The next request goes to a variant drawn by
the weights among those with a free slot, so the weights hold while every variant has room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Slots:
    """One variant as the worker sees it: its weight, ready instances and requests in flight."""

    key: tuple[str, str]  # (endpoint config, variant)
    weight: float
    ready: int
    in_flight: int

    def free(self, per_instance: int) -> int:
        if self.weight <= 0:
            return 0
        return max(0, per_instance * self.ready - self.in_flight)


def free_slots(variants: Sequence[Slots], per_instance: int) -> int:
    """How many requests the endpoint may take now."""
    return sum(v.free(per_instance) for v in variants)


def choose(variants: Sequence[Slots], per_instance: int, u: float) -> int | None:
    """The index of the variant for the next request (draw u in [0, 1)), by weight among
    the variants with a free slot; None when none has one."""
    open_ = [(i, v.weight) for i, v in enumerate(variants) if v.free(per_instance) > 0]
    total = sum(weight for _, weight in open_)
    if not open_ or total <= 0:
        return None
    x = u * total
    for index, weight in open_:
        if x < weight:
            return index
        x -= weight
    return open_[-1][0]  # u close to 1, through rounding
