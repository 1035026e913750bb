"""What the controller sees of a plan across the live nodes. Pure: no I/O, no clock.

A node reports a plan version as applied once it has started what the plan asks, waited for
those instances to answer (or fail), routed and stopped what the plan no longer has. So when
every live node has applied a version, the instance states in their reports say whether
each fleet of it started.

A fleet has also started on a node that has not applied the latest version yet but reports
every instance the plan asks of the fleet ready: a later version that changed only the
shares (the next step of a deployment) does not make a running fleet look absent for the
second the node takes to apply it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from turnout.domain.nodes import Node
from turnout.domain.plans import PlannedFleet, RoutingPlan

# turnout.instances.backend.InstanceState's values (the domain does not import instances)
FAILED = "Failed"
READY = "Ready"


@dataclass(frozen=True)
class FleetView:
    applied: bool  # every live node has applied the plan (or a later one)
    failure: str | None  # the first instance of the fleet that failed to start, as a reason
    running: bool  # some live node still runs instances of the fleet
    started: bool = False  # on every live node: applied, or all its planned instances ready

    @property
    def ready(self) -> bool:
        return self.started and self.failure is None


def live(nodes: Sequence[Node], now: float, timeout: float) -> list[Node]:
    return [n for n in nodes if n.alive(now, timeout)]


def lagging(plan: RoutingPlan, nodes: Sequence[Node]) -> list[str]:
    """The nodes that have not applied `plan` yet."""
    return [n.name for n in nodes if n.report.applied.get(plan.endpoint, 0) < plan.version]


def fleet_view(plan: RoutingPlan, nodes: Sequence[Node], config: str) -> FleetView:
    """The fleet `config` of `plan` as the (live) `nodes` report it."""
    ours = [
        (node, i)
        for node in nodes
        for i in node.report.instances
        if i.endpoint == plan.endpoint and i.fleet == config
    ]
    failure = None
    for node, instance in ours:
        if instance.state == FAILED:
            where = f" on node {node.name}" if len(nodes) > 1 else ""
            failure = (
                f"Instance {instance.index} of variant {instance.variant} failed to start"
                f"{where}: {instance.last_error}"
            )
            break
    behind = set(lagging(plan, nodes))
    planned = plan.fleet(config)
    started = planned is not None and all(
        n.name not in behind or _runs(n, plan.endpoint, planned) for n in nodes
    )
    return FleetView(not behind, failure, bool(ours), started)


def _runs(node: Node, endpoint: str, fleet: PlannedFleet) -> bool:
    """Whether `node` reports every instance `fleet` asks for (per node) ready."""
    ready = Counter(
        i.variant
        for i in node.report.instances
        if i.endpoint == endpoint and i.fleet == fleet.config and i.state == READY
    )
    asked = [(v.name, v.instances) for v in fleet.variants]
    asked += [(s.name, s.instances) for s in fleet.shadows]
    return all(ready[name] >= count for name, count in asked)
