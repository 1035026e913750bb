"""The control plane's state in Prometheus' terms: traffic weights per fleet, each endpoint's
latest deployment and its phase, and every alarm's state and threshold.

Weights come from two places: what this process's router routes now (its routing table,
read on the event loop, in memory) and what the controller asks for (the routing plans in
the store). Deployments and alarms are in the store too: `read_state` reads them in one go,
in a thread (`asyncio.to_thread`), and the collector only formats that snapshot.

Phases and alarm states are exported as kube-state-metrics exports a pod's phase: one
series per possible value, 1 for the current one and 0 for the others, so that
`turnout_deployment_phase == 1` selects the current phase and a change shows as a 0/1 flip.
A fleet, deployment or alarm that is gone has no series at the next scrape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from turnout.domain.alarms import AlarmState, AlarmStatus
from turnout.domain.deployments import Deployment, Phase
from turnout.domain.plans import RoutingPlan
from turnout.domain.resources import Endpoint
from turnout.metrics.prometheus import LABELS


@dataclass(frozen=True)
class ControlState:
    """What the store says at one scrape (an immutable snapshot)."""

    plans: tuple[RoutingPlan, ...]
    deployments: tuple[Deployment, ...]  # each endpoint's latest
    alarms: tuple[AlarmStatus, ...]
    store_up: bool = True  # False: the store did not answer; the rest is empty


class ControlReads(Protocol):
    """The control plane's blocking reads `read_state` makes."""

    def list_endpoints(self) -> list[Endpoint]: ...

    def routing_plan(self, name: str) -> RoutingPlan | None: ...

    def latest_deployment(self, name: str) -> Deployment | None: ...


class AlarmReads(Protocol):
    def list_alarms(self, endpoint: str | None = None) -> list[AlarmStatus]: ...


class Weighted(Protocol):
    """An endpoint's routes as the router holds them (turnout.routing.table.EndpointRoute)."""

    def weights(self) -> dict[tuple[str, str], float]: ...


def read_state(control: ControlReads, monitoring: AlarmReads) -> ControlState:
    """Blocking store reads: call from a thread, never on the event loop."""
    plans, deployments = [], []
    for endpoint in control.list_endpoints():
        plan = control.routing_plan(endpoint.name)
        if plan is not None:
            plans.append(plan)
        deployment = control.latest_deployment(endpoint.name)
        if deployment is not None:
            deployments.append(deployment)
    return ControlState(tuple(plans), tuple(deployments), tuple(monitoring.list_alarms()))


class StateCollector(Collector):
    """One scrape's weights, deployments and alarms; made anew for each scrape."""

    def __init__(self, state: ControlState, routes: Mapping[str, Weighted]) -> None:
        self._state = state
        self._routes = routes

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "turnout_store_up",
            "1 when this scrape could read the store, 0 when it was unavailable (the data "
            "plane keeps serving from its routing snapshot; deployments and alarms are then "
            "left out of the scrape).",
        )
        up.add_metric([], 1.0 if self._state.store_up else 0.0)
        yield up
        yield from self._weights()
        yield from self._deployments()
        yield from self._alarms()

    def _weights(self) -> Iterator[Metric]:
        current = GaugeMetricFamily(
            "turnout_variant_weight",
            "The variant's share of its endpoint's traffic (0-1) as this process routes it "
            "now, per fleet (config): a canary at 10% is 0.1.",
            labels=LABELS,
        )
        desired = GaugeMetricFamily(
            "turnout_variant_desired_weight",
            "The variant's share of its endpoint's traffic (0-1) the controller asks for now "
            "(the routing plan), per fleet; turnout_variant_weight follows it within seconds.",
            labels=LABELS,
        )
        for name in sorted(self._routes):
            for (config, variant), share in sorted(self._routes[name].weights().items()):
                current.add_metric([name, config, variant], share)
        for plan in sorted(self._state.plans, key=lambda p: p.endpoint):
            for fleet in plan.fleets:
                for variant, share in fleet.weights().items():
                    desired.add_metric([plan.endpoint, fleet.config, variant], share)
        yield current
        yield desired

    def _deployments(self) -> Iterator[Metric]:
        phase = GaugeMetricFamily(
            "turnout_deployment_phase",
            "1 for the phase the endpoint's latest deployment is in, 0 for the other phases.",
            labels=("endpoint", "phase"),
        )
        info = GaugeMetricFamily(
            "turnout_deployment_info",
            "1 for the endpoint's latest deployment: its id and its blue and green configs.",
            labels=("endpoint", "deployment", "blue_config", "green_config"),
        )
        step = GaugeMetricFamily(
            "turnout_deployment_step",
            "The step of the traffic shift the latest deployment is at (1 = the first).",
            labels=("endpoint",),
        )
        steps = GaugeMetricFamily(
            "turnout_deployment_steps",
            "Steps in the latest deployment's plan.",
            labels=["endpoint"],
        )
        started = GaugeMetricFamily(
            "turnout_deployment_started_timestamp_seconds",
            "When the latest deployment started (Unix time).",
            labels=("endpoint",),
        )
        finished = GaugeMetricFamily(
            "turnout_deployment_finished_timestamp_seconds",
            "When the latest deployment finished (Unix time); absent while it runs.",
            labels=("endpoint",),
        )
        for d in sorted(self._state.deployments, key=lambda d: d.endpoint):
            for value in Phase:
                phase.add_metric([d.endpoint, value.value], 1.0 if d.phase is value else 0.0)
            info.add_metric([d.endpoint, str(d.id), d.blue_config, d.green_config], 1.0)
            step.add_metric([d.endpoint], d.step + 1)
            steps.add_metric([d.endpoint], len(d.steps))
            started.add_metric([d.endpoint], d.started_at)
            if d.finished_at is not None:
                finished.add_metric([d.endpoint], d.finished_at)
        yield from (phase, info, step, steps, started, finished)

    def _alarms(self) -> Iterator[Metric]:
        labels = ("alarm", "endpoint")
        state = GaugeMetricFamily(
            "turnout_alarm_state",
            "1 for the alarm's state (OK, ALARM or INSUFFICIENT_DATA), 0 for the others.",
            labels=(*labels, "state"),
        )
        threshold = GaugeMetricFamily(
            "turnout_alarm_threshold",
            "The value the alarm compares its metric with (in the metric's unit).",
            labels=(*labels, "metric", "statistic", "comparison"),
        )
        for status in sorted(self._state.alarms, key=lambda a: a.alarm.name):
            alarm = status.alarm
            for value in AlarmState:
                state.add_metric(
                    [alarm.name, alarm.endpoint, value.value],
                    1.0 if status.state is value else 0.0,
                )
            threshold.add_metric(
                [
                    alarm.name,
                    alarm.endpoint,
                    alarm.metric.value,
                    alarm.statistic,
                    alarm.comparison.value,
                ],
                alarm.threshold,
            )
        yield state
        yield threshold
