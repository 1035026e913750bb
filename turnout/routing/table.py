"""The routing table: an immutable snapshot of where each endpoint's traffic goes.

The control plane builds a new snapshot whenever weights or fleets change and swaps it in
whole; a request reads one snapshot from start to end, so a change never shows half-done.
Nothing here touches the store.

During a blue/green deployment an endpoint routes to two fleets (endpoint configs) at once,
whose variants may share names: a route is therefore keyed by (config, variant), and the
weights the control plane publishes already hold each fleet's share of the traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from turnout.capture.target import VariantCapture
from turnout.domain.resources import DataCapture
from turnout.domain.routing import RoutingSettings
from turnout.domain.switch import Switch
from turnout.instances.backend import Instance
from turnout.metrics.counters import VariantMetrics
from turnout.routing.choice import WeightedChoice
from turnout.routing.outliers import OutlierStats
from turnout.routing.serverless import ConcurrencyGate
from turnout.routing.sticky import Assigner
from turnout.routing.upstream import ConnectionPool


class Upstream:
    """The router's side of one instance: its connection pool, requests in flight and what
    outlier detection knows of it (ADR 0034)."""

    __slots__ = ("affinity_key", "instance", "outlier", "outstanding", "pool")

    def __init__(self, instance: Instance, pool: ConnectionPool, affinity_key: bytes = b"") -> None:
        self.instance = instance
        self.pool = pool
        self.outstanding = 0
        self.outlier = OutlierStats()
        self.affinity_key = affinity_key  # its name in rendezvous hashing (ADR 0037)

    @property
    def ready(self) -> bool:
        """Whether to pick it: its instance is ready and not ejected as an outlier."""
        return self.instance.ready and not self.outlier.ejected


class VariantRoute:
    """One variant of one fleet: its instances and the counters its invocations feed.

    `shadows` are the fleet's shadow variants this variant's requests are mirrored to, each
    with its sampled share; a shadow variant's own route has `sampling` set and is never
    chosen for a caller.
    """

    __slots__ = (
        "capture", "config", "gate", "metrics", "multi_model", "name", "name_header",
        "next_sweep", "outliers", "sampling", "shadows", "switch", "upstreams",
    )  # fmt: skip

    def __init__(
        self,
        config: str,
        name: str,
        upstreams: tuple[Upstream, ...],
        metrics: VariantMetrics,
        capture: VariantCapture | None = None,
        sampling: float | None = None,
        gate: ConcurrencyGate | None = None,
        multi_model: bool = False,
        switch: Switch | None = None,
    ) -> None:
        self.config = config
        self.name = name
        self.name_header = name.encode()  # x-Amzn-Invoked-Production-Variant, encoded once
        self.upstreams = upstreams
        self.outliers = tuple(u.outlier for u in upstreams)  # what an ejection sweep reads
        self.next_sweep = 0.0  # perf_counter time of the next outlier sweep
        self.metrics = metrics
        self.capture = capture  # the config's data capture (sampling, queue), if any
        self.sampling = sampling
        self.shadows: tuple[VariantRoute, ...] = ()
        # A serverless variant (ADR 0038): its requests in flight, bounded; None otherwise.
        self.gate = gate
        self.multi_model = multi_model  # each invocation names its TargetModel (ADR 0037)
        self.switch = switch  # a switch variant: its target endpoint (ADR 0040)


@dataclass(frozen=True, slots=True)
class VariantTarget:
    """What the control plane publishes for one variant of one fleet (endpoint config),
    with the config's DataCaptureConfig as read from the store (None: no capture).

    A shadow variant has a `sampling` share (its weight is then unused): it is mirrored
    that share of the requests its fleet's production variants answer. A `standby` variant's
    fleet has no share of the traffic (a green fleet before its first step): only a request
    naming its config and variant reaches it (a prediction test, ADR 0022). A serverless
    variant has a `max_concurrency` (ADR 0038): more of its requests at once are throttled,
    and a request finding no instance asks the node agent for one.
    """

    config: str
    name: str
    weight: float
    instances: Sequence[Instance]
    capture: DataCapture | None = None
    sampling: float | None = None
    standby: bool = False
    max_concurrency: int | None = None
    multi_model: bool = False  # its model is a prefix of many; requests name a TargetModel
    switch: Switch | None = None  # routes to another endpoint, in process (ADR 0040)


class EndpointRoute:
    """One endpoint's variant routes and the O(1) weighted choosers over them.

    With routing settings (ADR 0013), `sticky` assigns users by their key over the same
    weights and `settings.targeting` routes some of them first.
    """

    __slots__ = (
        "_by_name", "chooser", "name", "routes", "settings", "shadows", "standby", "sticky",
        "weights_in",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        routes: Sequence[VariantRoute],
        weights: Sequence[float],
        settings: RoutingSettings | None = None,
        shadows: Sequence[VariantRoute] = (),
        standby: Sequence[VariantRoute] = (),
    ):
        self.name = name
        self.routes = tuple(routes)
        self.shadows = tuple(shadows)  # mirrored only: never chosen, never a TargetVariant
        self.standby = tuple(standby)  # found by config and variant alone (`find`)
        self.weights_in = tuple(weights)  # as published, to rebuild with other settings
        self.settings = settings
        self.sticky = Assigner(settings, routes, weights) if settings else None
        # All-zero weights are refused by validation; guard anyway so a bad snapshot
        # answers "no variant" instead of raising on every request.
        self.chooser = _chooser(routes, weights)
        # TargetVariant picks among the routes of that name (one per fleet) by their weights.
        by_name: dict[str, tuple[list[VariantRoute], list[float]]] = {}
        for route, weight in zip(routes, weights, strict=True):
            named = by_name.setdefault(route.name, ([], []))
            named[0].append(route)
            named[1].append(weight)
        self._by_name: Mapping[str, WeightedChoice[VariantRoute] | VariantRoute] = {
            variant: _chooser(named, ws) or named[0] for variant, (named, ws) in by_name.items()
        }

    def named(self, variant: str, u: float) -> VariantRoute | None:
        """The route for TargetVariant `variant` (draw u picks the fleet when two have it)."""
        found = self._by_name.get(variant)
        if found is None or isinstance(found, VariantRoute):
            return found
        return found.pick(u)

    def find(self, config: str, variant: str) -> VariantRoute | None:
        """The production, shadow or standby variant route of that fleet and name."""
        return next(
            (r for r in self.all_routes() if r.config == config and r.name == variant), None
        )

    def all_routes(self) -> tuple[VariantRoute, ...]:
        if not self.shadows and not self.standby:
            return self.routes
        return self.routes + self.shadows + self.standby

    def weights(self) -> dict[tuple[str, str], float]:
        """Each route's share of the endpoint's traffic, keyed by (config, variant)."""
        shares = {(r.config, r.name): 0.0 for r in self.routes}
        if self.chooser is not None:
            for index, p in self.chooser.probabilities().items():
                route = self.chooser.items[index]
                shares[(route.config, route.name)] = p
        return shares


def _chooser(
    routes: Sequence[VariantRoute], weights: Sequence[float]
) -> WeightedChoice[VariantRoute] | None:
    return WeightedChoice(routes, weights) if any(w > 0 for w in weights) else None


@dataclass(frozen=True, slots=True)
class RoutingTable:
    version: int
    endpoints: Mapping[str, EndpointRoute]
