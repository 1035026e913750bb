"""What the metrics read of a router: its live counters and the variants it routes.

`turnout.routing.router.Router` has this shape. Naming the shape here, rather than the
router, keeps the metrics free of the routing package, which imports the counters.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Protocol

from turnout.domain.rollups import VariantKey
from turnout.instances.backend import Instance
from turnout.metrics.counters import VariantMetrics


class CounterSource(Protocol):
    @property
    def metrics(self) -> MutableMapping[VariantKey, VariantMetrics]:
        """Each variant's counters; the flusher drops those routed no more (`del`)."""
        ...

    def routed_keys(self) -> set[VariantKey]:
        """The variants the routing table sends traffic to now."""
        ...

    def shadow_keys(self) -> set[VariantKey]:
        """The shadow variants the routing table mirrors copies to now."""
        ...

    def instances(self, key: VariantKey) -> Sequence[Instance]:
        """The instances serving `key` in the routing table (none once it is not routed)."""
        ...
