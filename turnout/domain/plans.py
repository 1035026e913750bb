"""Routing plans: what the controller wants every node to run and route for one endpoint.

The controller writes a plan per endpoint, one version after another; each node agent makes
its instances and its router's table match the newest one (ADR 0019). A plan names fleets
(endpoint configs): each with its share of the endpoint's traffic and, per variant, the
weight within the fleet and how many instances run on every node. A fleet whose share is 0
runs without traffic (a green fleet being provisioned); a fleet absent from the plan is
drained and stopped; a plan with no fleets stops the endpoint everywhere. A fleet's shadow
variants run beside its production variants and get a copy of a sample of its traffic.

A serverless variant is planned `on_demand` (ADR 0038): its `instances` is the warm floor
(0, or 1 with ProvisionedConcurrency); each node's agent starts one more when its router
has a request and none ready, and stops it after an idle time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from turnout.domain.resources import EndpointConfig


@dataclass(frozen=True)
class OnDemand:
    """A serverless variant's bounds on every node (SageMaker's ServerlessConfig)."""

    max_concurrency: int  # requests at once; more are throttled
    max_instances: int = 1  # started on demand, above the warm floor at most this many


@dataclass(frozen=True)
class PlannedVariant:
    name: str
    weight: float  # relative, within its fleet
    instances: int  # on every node (a serverless variant: kept warm)
    on_demand: OnDemand | None = None  # serverless: started by demand, stopped when idle


@dataclass(frozen=True)
class PlannedShadow:
    name: str
    sampling: float  # the share of the fleet's requests mirrored to it, 0..1
    instances: int  # on every node


@dataclass(frozen=True)
class PlannedFleet:
    config: str  # the endpoint config this fleet runs
    share: float  # of the endpoint's traffic, 0..1; 0: running, not routed
    variants: tuple[PlannedVariant, ...]
    shadows: tuple[PlannedShadow, ...] = ()

    def weights(self) -> dict[str, float]:
        """Each variant's share of the endpoint's traffic (the fleet's share split by weight)."""
        total = sum(v.weight for v in self.variants) or 1.0
        return {v.name: v.weight / total * self.share for v in self.variants}


@dataclass(frozen=True)
class RoutingPlan:
    endpoint: str
    version: int  # 0: never written; the store bumps it on every write
    fleets: tuple[PlannedFleet, ...]
    # Already serving: a node that (re)starts routes at once, its callers waiting (bounded)
    # for the instances still starting. A new endpoint is routed only once they answer.
    serving: bool = False

    def fleet(self, config: str) -> PlannedFleet | None:
        return next((f for f in self.fleets if f.config == config), None)

    def counts(self) -> Iterator[tuple[str, str, int]]:
        """(config, variant, instances per node) of every planned variant."""
        for fleet in self.fleets:
            for variant in fleet.variants:
                yield fleet.config, variant.name, variant.instances
            for shadow in fleet.shadows:
                yield fleet.config, shadow.name, shadow.instances

    def same_as(self, other: RoutingPlan | None) -> bool:
        """Equal but for the version: writing it again would change nothing."""
        return (
            other is not None
            and other.fleets == self.fleets
            and other.serving == self.serving
            and other.endpoint == self.endpoint
        )

    def document(self) -> dict[str, Any]:
        return {
            "serving": self.serving,
            "fleets": [
                {
                    "config": f.config,
                    "share": f.share,
                    "variants": [_variant_document(v) for v in f.variants],
                    "shadows": [
                        {"name": s.name, "sampling": s.sampling, "instances": s.instances}
                        for s in f.shadows
                    ],
                }
                for f in self.fleets
            ],
        }

    @classmethod
    def of_document(cls, endpoint: str, version: int, doc: Mapping[str, Any]) -> RoutingPlan:
        return cls(
            endpoint,
            version,
            tuple(
                PlannedFleet(
                    f["config"],
                    float(f["share"]),
                    tuple(_variant_of(v) for v in f["variants"]),
                    tuple(
                        PlannedShadow(s["name"], float(s["sampling"]), int(s["instances"]))
                        for s in f.get("shadows", ())
                    ),
                )
                for f in doc["fleets"]
            ),
            bool(doc.get("serving", False)),
        )


def _variant_document(v: PlannedVariant) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": v.name, "weight": v.weight, "instances": v.instances}
    if v.on_demand is not None:  # absent otherwise: plans written before it read the same
        doc["on_demand"] = {
            "max_concurrency": v.on_demand.max_concurrency,
            "max_instances": v.on_demand.max_instances,
        }
    return doc


def _variant_of(doc: Mapping[str, Any]) -> PlannedVariant:
    demand = doc.get("on_demand")
    return PlannedVariant(
        doc["name"],
        float(doc["weight"]),
        int(doc["instances"]),
        None
        if demand is None
        else OnDemand(int(demand["max_concurrency"]), int(demand["max_instances"])),
    )


def fleet_plan(
    config: str,
    share: float,
    weights: Mapping[str, float],
    counts: Mapping[str, int],
    shadows: tuple[PlannedShadow, ...] = (),
    serverless: Mapping[str, tuple[OnDemand, int]] | None = None,
) -> PlannedFleet:
    """A fleet of `config` at `share`, its variants weighted and counted as given; those in
    `serverless` (bounds, warm floor) run on demand above their warm floor instead."""
    on_demand = serverless or {}

    def planned(name: str) -> PlannedVariant:
        if name in on_demand:
            bounds, floor = on_demand[name]
            return PlannedVariant(name, float(weights[name]), floor, bounds)
        return PlannedVariant(name, float(weights[name]), counts[name])

    return PlannedFleet(config, share, tuple(planned(name) for name in weights), shadows)


def serverless_variants(config: EndpointConfig) -> dict[str, tuple[OnDemand, int]]:
    """The config's serverless variants: their bounds and warm floor (1 with
    ProvisionedConcurrency, else 0; one instance serves MaxConcurrency requests at once)."""
    return {
        v.name: (
            OnDemand(v.serverless.max_concurrency),
            1 if v.serverless.provisioned_concurrency else 0,
        )
        for v in config.variants
        if v.serverless is not None
    }


def planned_shadows(config: EndpointConfig) -> tuple[PlannedShadow, ...]:
    """The config's shadow variants as it declares them (sampling, instance count)."""
    return tuple(
        PlannedShadow(s.name, config.sampling(s), s.initial_instance_count)
        for s in config.shadow_variants
    )
