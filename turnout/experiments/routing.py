"""Routing settings as a service: read (created with a random salt on first use), update
(validated against the endpoint's variants), and carried into the router's snapshot.

The node agent reads `get(endpoint)` with the plan, before it publishes routes, so the
router never routes an endpoint with a salt it has not read; the same read makes every
router process pick up changes made through another one (ADR 0013, 0019).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from turnout.domain.routing import RoutingSettings, new_salt
from turnout.experiments.store import ExperimentStore
from turnout.store import Store

Apply = Callable[[str, RoutingSettings], object]
_DEFAULT = RoutingSettings(salt="")


def settings_of(salt: str, document: dict[str, Any]) -> RoutingSettings:
    """Stored settings back to their object (validated when they were saved)."""
    return RoutingSettings(salt).with_document(document)


class RoutingService:
    def __init__(
        self,
        store: ExperimentStore,
        fleets: Store,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._fleets = fleets  # the endpoint's variants, to check rules against
        self._clock = clock
        self.apply: Apply | None = None  # hands new settings to the router (thread-safe)

    def get(self, endpoint: str) -> RoutingSettings:
        """NotFound for an unknown endpoint."""
        salt, document = self._store.ensure_routing(
            endpoint, new_salt(), _DEFAULT.document(), self._clock()
        )
        return settings_of(salt, document)

    def update(self, endpoint: str, document: Any) -> RoutingSettings:
        """Change the key sources and/or rules; InvalidRequest names the first problem."""
        current = self.get(endpoint)
        settings = current.with_document(document)
        settings.targeting.check_variants(self._variants(endpoint))
        self._store.save_routing(endpoint, settings.document(), self._clock())
        if self.apply is not None:
            self.apply(endpoint, settings)
        return settings

    def resalt(self, endpoint: str) -> RoutingSettings:
        """Re-randomize the endpoint's sticky assignment: a new salt splits users afresh
        (an experiment's option, so that it does not inherit an earlier one's split)."""
        current = self.get(endpoint)
        settings = RoutingSettings(new_salt()).with_document(current.document())
        self._store.save_salt(endpoint, settings.salt, self._clock())
        if self.apply is not None:
            self.apply(endpoint, settings)
        return settings

    def _variants(self, endpoint: str) -> set[str]:
        """Variant names of the endpoint's config and of the one being deployed, if any."""
        current, pending = self._fleets.endpoint_fleets(endpoint)
        names = {v.name for v in current.config.variants}
        if pending is not None:
            names |= {v.name for v in pending.config.variants}
        return names
