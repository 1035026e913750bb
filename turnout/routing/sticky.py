"""A user's route under an endpoint's published weights: sticky, monotone, O(variants).

Two levels of weighted rendezvous hashing (`turnout.routing.assignment`, ADR 0013):
first the variant, by the sum of its routes' weights over the fleets; then, when a
blue/green deployment has two fleets serving that variant, the fleet, by their weights.
During a deployment each variant's total stays what it was while the green fleet's share
of it grows, so users only ever move from blue to green; a weight change between variants
(a canary ramp) moves users only into the growing variant. And a new endpoint config that
keeps the variants' names keeps every user's variant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Generic, Protocol, TypeVar

from turnout.domain.routing import RoutingSettings
from turnout.domain.targeting import HeaderRule
from turnout.routing.assignment import StickyAssignment
from turnout.routing.keys import KeyReader


class Route(Protocol):
    """What assignment needs of a route: the variant it serves and the fleet (config).

    `turnout.routing.table.VariantRoute` is one; the table builds the assigner, so naming the
    shape here keeps sticky from importing the table back.
    """

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> str: ...


R = TypeVar("R", bound=Route)


class _Fleets(Generic[R]):
    """The routes of one variant name (one per fleet) and the choice between them."""

    __slots__ = ("_by_config", "_choice", "first")

    def __init__(self, salt: str, routes: Sequence[R], weights: Sequence[float]):
        self.first = routes[0]
        self._by_config = {r.config: r for r in routes}
        positive = {r.config: w for r, w in zip(routes, weights, strict=True) if w > 0}
        # A distinct salt per variant: the fleet draw must not correlate with the variant draw.
        self._choice = (
            StickyAssignment(f"{salt}\x00{self.first.name}", positive)
            if len(positive) > 1
            else None
        )
        if len(positive) == 1:
            self.first = self._by_config[next(iter(positive))]

    def pick(self, key: str) -> R:
        if self._choice is None:
            return self.first
        return self._by_config[self._choice.assign(key)]


class Assigner(Generic[R]):
    """Built once per routing-table snapshot from the endpoint's routing settings and
    weights; holds no per-user state."""

    __slots__ = ("_fleets", "_headers_needed", "_variants", "keys", "settings")

    def __init__(self, settings: RoutingSettings, routes: Sequence[R], weights: Sequence[float]):
        self.settings = settings
        self.keys = KeyReader(settings)
        self._headers_needed = any(isinstance(r, HeaderRule) for r in settings.targeting.rules)
        salt = settings.salt
        grouped: dict[str, tuple[list[R], list[float]]] = {}
        for route, weight in zip(routes, weights, strict=True):
            named = grouped.setdefault(route.name, ([], []))
            named[0].append(route)
            named[1].append(weight)
        self._fleets = {name: _Fleets(salt, rs, ws) for name, (rs, ws) in grouped.items()}
        totals = {name: sum(ws) for name, (_, ws) in grouped.items()}
        self._variants = (
            StickyAssignment(salt, totals) if any(w > 0 for w in totals.values()) else None
        )

    def targeted(self, user: str | None, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        """The variant a targeting rule gives this request, or None."""
        targeting = self.settings.targeting
        if not targeting.rules:
            return None
        decoded = (
            {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
            if self._headers_needed
            else {}
        )
        return targeting.variant_for(user, decoded)

    def route_for(self, key: str) -> R | None:
        """The route of the user with assignment key `key`; None if every weight is 0."""
        if self._variants is None:
            return None
        return self._fleets[self._variants.assign(key)].pick(key)

    def named(self, variant: str, key: str) -> R | None:
        """The route of `variant` for this user (a targeting rule chose the variant)."""
        fleets = self._fleets.get(variant)
        return fleets.pick(key) if fleets is not None else None
