"""What the controller reads from the nodes' reports: applied everywhere, failures, leftovers."""

from __future__ import annotations

from turnout.deploy.observed import fleet_view, lagging, live
from turnout.domain.nodes import InstanceReport, Node, NodeReport
from turnout.domain.plans import RoutingPlan, fleet_plan

PLAN = RoutingPlan(
    "ep",
    5,
    (
        fleet_plan("blue", 0.9, {"A": 1.0}, {"A": 1}),
        fleet_plan("green", 0.1, {"A": 1.0}, {"A": 2}),
    ),
)


def node(name: str, applied: int, *instances: InstanceReport, beat: float = 100.0) -> Node:
    return Node(name, f"http://{name}", "local", 0.0, beat, NodeReport({"ep": applied}, instances))


def report(
    fleet: str, index: int, state: str = "Ready", error: str | None = None
) -> InstanceReport:
    return InstanceReport("ep", fleet, "A", index, state, "unix:/x", 1, 0, error)


def test_a_plan_is_applied_once_every_live_node_has_it() -> None:
    nodes = [node("n1", 5, report("green", 1)), node("n2", 4)]
    assert lagging(PLAN, nodes) == ["n2"]
    view = fleet_view(PLAN, nodes, "green")
    assert not view.applied and not view.started and not view.ready and view.running
    nodes[1] = node("n2", 6)  # a later plan counts too
    assert fleet_view(PLAN, nodes, "green").ready


def test_a_node_behind_on_a_share_change_still_runs_the_fleet_it_reports_ready() -> None:
    """The next step of a deployment only changes shares: until the node applies it, its
    report of the fleet's instances says the fleet is there (not lost, as after a restart)."""
    both = node("n1", 4, report("green", 1), report("green", 2), report("blue", 1))
    view = fleet_view(PLAN, [both], "green")
    assert not view.applied and view.started and view.ready
    one_of_two = node("n1", 4, report("green", 1), report("green", 2, "Starting"))
    assert not fleet_view(PLAN, [one_of_two], "green").started
    restarted = node("n1", 0, report("green", 1, "Starting"), report("green", 2, "Starting"))
    assert not fleet_view(PLAN, [restarted], "green").started
    assert not fleet_view(PLAN, [both], "gone").started  # not in the plan at all


def test_a_failed_instance_is_the_fleets_failure_named_by_node_when_several() -> None:
    failed = report("green", 2, "Failed", "model.joblib is missing")
    one = [node("n1", 5, report("green", 1), failed)]
    assert fleet_view(PLAN, one, "green").failure == (
        "Instance 2 of variant A failed to start: model.joblib is missing"
    )
    two = [*one, node("n2", 5)]
    assert fleet_view(PLAN, two, "green").failure == (
        "Instance 2 of variant A failed to start on node n1: model.joblib is missing"
    )
    assert fleet_view(PLAN, two, "blue").failure is None  # another fleet's failure


def test_a_fleet_is_running_while_any_node_reports_an_instance_of_it() -> None:
    assert not fleet_view(PLAN, [node("n1", 5, report("blue", 1))], "green").running
    assert fleet_view(PLAN, [node("n1", 5, report("green", 1))], "green").running


def test_nodes_silent_for_longer_than_the_timeout_are_not_live() -> None:
    nodes = [node("n1", 5, beat=100.0), node("n2", 1, beat=80.0)]
    assert [n.name for n in live(nodes, now=105.0, timeout=10.0)] == ["n1"]
