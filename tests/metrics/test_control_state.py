"""The control plane's gauges from one snapshot: weights per fleet (routed now and asked
for), the latest deployment's phase as one 1 among 0s (kube-state-metrics' way), and each
alarm's state and threshold."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.test_rollout import deployment
from turnout.domain.alarms import Alarm, AlarmState, AlarmStatus, Comparison
from turnout.domain.deployments import Phase
from turnout.domain.plans import PlannedFleet, PlannedVariant, RoutingPlan
from turnout.domain.rollups import Metric
from turnout.metrics.control_state import ControlState, StateCollector

PLAN = RoutingPlan(
    "e",
    3,
    (
        PlannedFleet("blue", 0.9, (PlannedVariant("A", 3.0, 1), PlannedVariant("B", 1.0, 1))),
        PlannedFleet("green", 0.1, (PlannedVariant("A", 1.0, 1),)),
    ),
)
ALARM = Alarm("errors", Metric.MODEL_LATENCY, "p99", "e", 250_000.0, Comparison.GREATER)


class Routes:
    """What the collector reads of an endpoint's routes (the router's table)."""

    def weights(self) -> dict[tuple[str, str], float]:
        return {("blue", "A"): 0.675, ("blue", "B"): 0.225, ("green", "A"): 0.1}


def scrape(state: ControlState) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state, {"e": Routes()}))
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_weights_phase_and_alarms() -> None:
    baking = replace(deployment(), phase=Phase.BAKING, step_started_at=5.0, started_at=2.0)
    status = AlarmStatus(ALARM, AlarmState.ALARM, "p99 over", 9.0, 1.0)
    samples = scrape(ControlState((PLAN,), (baking,), (status,)))

    def at(name: str, **labels: str) -> float | None:
        return samples.get((name, frozenset(labels.items())))

    for name in ("turnout_variant_weight", "turnout_variant_desired_weight"):
        assert at(name, endpoint="e", config="blue", variant="A") == 0.675
        assert at(name, endpoint="e", config="blue", variant="B") == 0.225
        assert at(name, endpoint="e", config="green", variant="A") == 0.1
    phases = {
        dict(labels)["phase"]: v
        for (name, labels), v in samples.items()
        if name == "turnout_deployment_phase"
    }
    assert phases == {p.value: float(p is Phase.BAKING) for p in Phase}
    assert at("turnout_deployment_step", endpoint="e") == 1
    assert at("turnout_deployment_steps", endpoint="e") == 2
    assert at("turnout_deployment_started_timestamp_seconds", endpoint="e") == 2.0
    assert at("turnout_deployment_finished_timestamp_seconds", endpoint="e") is None
    info = dict(deployment="1", blue_config="blue", green_config="green", endpoint="e")
    assert at("turnout_deployment_info", **info) == 1
    for state in AlarmState:
        value = at("turnout_alarm_state", alarm="errors", endpoint="e", state=state.value)
        assert value == float(state is AlarmState.ALARM)
    threshold = dict(alarm="errors", endpoint="e", metric="ModelLatency", statistic="p99")
    assert at("turnout_alarm_threshold", **threshold, comparison="GreaterThanThreshold") == 250e3


def test_what_is_gone_has_no_series() -> None:
    done = replace(deployment(), phase=Phase.SUCCEEDED, finished_at=7.0)
    samples = scrape(ControlState((), (done,), ()))
    names = {name for name, _ in samples}
    assert "turnout_variant_desired_weight" not in names
    assert not any(name.startswith("turnout_alarm") for name in names)
    finished = ("turnout_deployment_finished_timestamp_seconds", frozenset({("endpoint", "e")}))
    assert samples[finished] == 7.0
