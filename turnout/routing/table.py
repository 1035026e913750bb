"""The routing table: an immutable snapshot of where each endpoint's traffic goes.

The control plane builds a new snapshot whenever weights or fleets change and swaps it in
whole; a request reads one snapshot from start to end, so a change never shows half-done.
Nothing here touches the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from turnout.instances.backend import Instance
from turnout.routing.choice import WeightedChoice
from turnout.routing.upstream import ConnectionPool


class Upstream:
    """The router's side of one instance: its connection pool and requests in flight."""

    __slots__ = ("instance", "outstanding", "pool")

    def __init__(self, instance: Instance, pool: ConnectionPool) -> None:
        self.instance = instance
        self.pool = pool
        self.outstanding = 0

    @property
    def ready(self) -> bool:
        return self.instance.ready


class VariantRoute:
    __slots__ = ("name", "name_header", "upstreams")

    def __init__(self, name: str, upstreams: tuple[Upstream, ...]) -> None:
        self.name = name
        self.name_header = name.encode()  # x-Amzn-Invoked-Production-Variant, encoded once
        self.upstreams = upstreams


@dataclass(frozen=True, slots=True)
class VariantTarget:
    """What the control plane publishes for one variant: its weight and instances."""

    name: str
    weight: float
    instances: Sequence[Instance]


class EndpointRoute:
    """One endpoint's variants and the O(1) weighted chooser over them."""

    __slots__ = ("chooser", "name", "variants")

    def __init__(self, name: str, variants: Sequence[VariantRoute], weights: Sequence[float]):
        self.name = name
        self.variants: Mapping[str, VariantRoute] = {v.name: v for v in variants}
        # All-zero weights are refused by validation; guard anyway so a bad snapshot
        # answers "no variant" instead of raising on every request.
        self.chooser: WeightedChoice[VariantRoute] | None = (
            WeightedChoice(variants, weights) if any(w > 0 for w in weights) else None
        )

    def weights(self) -> dict[str, float]:
        if self.chooser is None:
            return {name: 0.0 for name in self.variants}
        probs = self.chooser.probabilities()
        by_index = {v.name: probs[i] for i, v in enumerate(self.chooser.items)}
        return {name: by_index.get(name, 0.0) for name in self.variants}


@dataclass(frozen=True, slots=True)
class RoutingTable:
    version: int
    endpoints: Mapping[str, EndpointRoute]
