"""Pure choices the router makes per request: a variant by weight, an instance by load.

No I/O and no randomness of their own: callers pass the uniform draw, so the functions are
deterministic and property-testable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class WeightedChoice(Generic[T]):
    """Pick an item with probability weight / sum(weights) in O(1) (Vose's alias method).

    Items with weight 0 are never picked. Building costs O(n); n is at most 10 variants.
    """

    __slots__ = ("_alias", "_items", "_n", "_threshold")

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if len(items) != len(weights):
            raise ValueError("items and weights differ in length")
        pairs = [(item, float(w)) for item, w in zip(items, weights, strict=True) if w > 0]
        if any(w < 0 for w in weights):
            raise ValueError("weights must not be negative")
        total = sum(w for _, w in pairs)
        if not pairs or total <= 0:
            raise ValueError("at least one weight must be positive")
        n = len(pairs)
        self._items: tuple[T, ...] = tuple(item for item, _ in pairs)
        self._n = n
        # Scale so the average column holds exactly 1; split columns into under- and over-full.
        scaled = [w * n / total for _, w in pairs]
        threshold = [1.0] * n
        alias = list(range(n))
        small = [i for i, p in enumerate(scaled) if p < 1.0]
        large = [i for i, p in enumerate(scaled) if p >= 1.0]
        while small and large:
            s, g = small.pop(), large.pop()
            threshold[s] = scaled[s]
            alias[s] = g
            scaled[g] -= 1.0 - scaled[s]
            (small if scaled[g] < 1.0 else large).append(g)
        # Leftovers are full columns up to rounding error.
        self._threshold = tuple(threshold)
        self._alias = tuple(alias)

    @property
    def items(self) -> tuple[T, ...]:
        return self._items

    def pick(self, u: float) -> T:
        """The item for a uniform draw u in [0, 1)."""
        x = u * self._n
        column = int(x)
        if column >= self._n:  # u == 1.0 through rounding
            column = self._n - 1
        if x - column < self._threshold[column]:
            return self._items[column]
        return self._items[self._alias[column]]

    def probabilities(self) -> dict[int, float]:
        """Exact pick probability of each kept item index (for tests and diagnostics)."""
        prob = {i: 0.0 for i in range(self._n)}
        for column in range(self._n):
            prob[column] += self._threshold[column] / self._n
            prob[self._alias[column]] += (1.0 - self._threshold[column]) / self._n
        return prob


class Candidate(Protocol):
    """What instance selection reads: readiness and requests in flight."""

    @property
    def ready(self) -> bool: ...

    @property
    def outstanding(self) -> int: ...


C = TypeVar("C", bound=Candidate)


def least_outstanding(candidates: Sequence[C], start: int) -> C | None:
    """The ready candidate with the fewest requests in flight, or None if none is ready.

    Ties go to the first one found scanning from `start` (callers rotate it), so idle
    instances share the load instead of the first one taking every request.
    """
    n = len(candidates)
    best: C | None = None
    best_load = 0
    for k in range(n):
        c = candidates[(start + k) % n]
        if c.ready and (best is None or c.outstanding < best_load):
            best, best_load = c, c.outstanding
            if best_load == 0:
                break
    return best
