"""Who routes what: each fleet's variants with their own weights and traffic shares (pure).

During and after a deployment two fleets (endpoint configs) serve variants of the same
names with different weights, so weights are keyed by (config, variant), never by variant
name alone. They come from the routing plan, what the routers route by now: a fleet's
share of the endpoint's traffic and each variant's weight within its fleet. The desired
weights are what the endpoint's last update asked of the serving fleet, and the new
config's own weights for the fleet being deployed. A fleet that served lately but is no
longer planned is "retired": its rows keep their recent numbers, with no weight.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from turnout.api.schemas import InstanceOut
from turnout.domain.plans import PlannedFleet, PlannedVariant, RoutingPlan
from turnout.domain.resources import Endpoint
from turnout.instances.backend import Instance


def fleets(
    endpoint: Endpoint,
    plan: RoutingPlan | None,
    instances: Iterable[Instance],
    recent: Iterable[tuple[str, str]] = (),
) -> list[dict[str, Any]]:
    """The endpoint's fleets, serving one first, then the one being deployed, then retired
    ones that took traffic lately (`recent`: (config, variant) seen in the rollups)."""
    by_key: dict[tuple[str, str], list[Instance]] = {}
    for instance in sorted(instances, key=lambda i: (i.spec.fleet, i.spec.variant, i.spec.index)):
        by_key.setdefault((instance.spec.fleet, instance.spec.variant), []).append(instance)
    planned = list(plan.fleets) if plan is not None and plan.fleets else [_unplanned(endpoint)]
    planned.sort(key=lambda f: f.config != endpoint.config_name)
    found = [_fleet(endpoint, f, by_key) for f in planned]
    retired: dict[str, list[str]] = {}
    for config, variant in recent:
        if all(f.config != config for f in planned):
            retired.setdefault(config, []).append(variant)
    for config, names in sorted(retired.items()):
        rows = [_row(config, name, None, None, 0.0, by_key) for name in sorted(set(names))]
        found.append({"config": config, "role": "retired", "share": 0.0, "variants": rows})
    return found


def canary_share(found: list[dict[str, Any]], green: str) -> float | None:
    """The share of the endpoint's traffic the fleet of config `green` gets now."""
    return next((f["share"] for f in found if f["config"] == green), None)


def _role(endpoint: Endpoint, config: str) -> str:
    if endpoint.pending_config_name is None:
        return "serving" if config == endpoint.config_name else "retired"
    return "blue" if config == endpoint.config_name else "green"


def _fleet(
    endpoint: Endpoint, fleet: PlannedFleet, by_key: dict[tuple[str, str], list[Instance]]
) -> dict[str, Any]:
    shares = fleet.weights()
    serving = fleet.config == endpoint.config_name
    rows = []
    for v in fleet.variants:
        state = endpoint.variant(v.name) if serving else None
        desired = state.desired_weight if state is not None else v.weight
        row = _row(fleet.config, v.name, v.weight, desired, shares[v.name], by_key)
        if v.on_demand is not None:  # 0 instances is idle, not broken (ADR 0038)
            row["serverless"] = {"max_concurrency": v.on_demand.max_concurrency}
        rows.append(row)
    for s in fleet.shadows:
        row = _row(fleet.config, s.name, None, None, 0.0, by_key)
        rows.append({**row, "shadow": True, "sampling": s.sampling})
    return {
        "config": fleet.config,
        "role": _role(endpoint, fleet.config),
        "share": fleet.share,
        "variants": rows,
    }


def _row(
    config: str,
    variant: str,
    current: float | None,
    desired: float | None,
    share: float,
    by_key: dict[tuple[str, str], list[Instance]],
) -> dict[str, Any]:
    instances = by_key.get((config, variant), [])
    return {
        "config": config,
        "variant": variant,
        "current_weight": current,
        "desired_weight": desired,
        "share": round(share, 6),
        "shadow": False,
        "instances": [InstanceOut.of(i).model_dump() for i in instances],
    }


def _unplanned(endpoint: Endpoint) -> PlannedFleet:
    """No plan written yet (a new endpoint): the endpoint's own weights, all its traffic."""
    variants = tuple(
        PlannedVariant(
            v.name,
            v.current_weight if v.current_weight is not None else v.desired_weight,
            v.current_instance_count or v.desired_instance_count,
        )
        for v in endpoint.variants
    )
    return PlannedFleet(endpoint.config_name, 1.0, variants)
