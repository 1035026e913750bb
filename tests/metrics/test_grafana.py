"""docs/grafana/turnout.json asks only for series turnout exports, with valid PromQL shapes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.test_rollout import deployment
from tests.metrics.test_control_state import ALARM, PLAN, Routes
from turnout.domain.alarms import AlarmState, AlarmStatus
from turnout.domain.deployments import Phase
from turnout.domain.resources import Model
from turnout.domain.rollups import VariantKey
from turnout.instances.backend import InstanceSpec
from turnout.instances.usage import Usage
from turnout.metrics.control_state import ControlState, StateCollector
from turnout.metrics.prometheus import InstanceCollector, RouterCollector
from turnout.routing.router import Router, RouterLimits

ALARM_STATUS = AlarmStatus(ALARM, AlarmState.OK, "", 0.0, 0.0)
# one of each: a plan, a finished deployment, an alarm
STATE = ControlState(
    (PLAN,), (replace(deployment(), phase=Phase.SUCCEEDED, finished_at=7.0),), (ALARM_STATUS,)
)
DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "turnout.json"


@dataclass
class SampledInstance:
    """What InstanceCollector reads of an instance (a value object, not a fake server)."""

    spec: InstanceSpec
    ready: bool = True
    usage: list[Usage] = field(default_factory=lambda: [Usage(0.0, 12.5, 50 << 20, 0.6)])


def exported_names() -> set[str]:
    router = Router(RouterLimits(), "123456789012")
    router._metrics(VariantKey("ep", "cfg", "A")).observe(200, False, 1000.0, 50.0)
    spec = InstanceSpec("ep", "cfg", "A", 1, Model("m", "/nowhere"))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RouterCollector(router))
    registry.register(InstanceCollector(lambda: [SampledInstance(spec)]))  # type: ignore[list-item]
    registry.register(StateCollector(STATE, {"ep": Routes()}))
    text = generate_latest(registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for value in node.values() for e in expressions(value)]
    if isinstance(node, list):
        return [e for item in node for e in expressions(item)]
    return []


def test_every_query_names_an_exported_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = expressions(dashboard["panels"]) + expressions(dashboard["annotations"])
    assert len(queries) >= 20
    exported = exported_names()
    for query in queries:
        names = set(re.findall(r"\bturnout_[a-z0-9_]+", query))
        assert names, query
        assert names <= exported, f"{sorted(names - exported)} not exported; in {query}"
        assert query.count("(") == query.count(")"), query
        assert "$endpoint" in query  # every panel follows the endpoint picker


def test_panels_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        box = panel["gridPos"]
        cells = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert not cells & taken, panel["title"]
        assert box["x"] + box["w"] <= 24
        taken |= cells


def test_deployments_are_annotated_and_alarm_thresholds_drawn() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    annotations = " ".join(expressions(dashboard["annotations"]))
    for series in ("turnout_deployment_started_timestamp_seconds", "turnout_deployment_phase",
                   "turnout_deployment_finished_timestamp_seconds"):  # fmt: skip
        assert series in annotations
    panels = " ".join(expressions(dashboard["panels"]))
    assert panels.count("turnout_alarm_threshold") >= 3
    for series in ("turnout_variant_weight", "turnout_variant_desired_weight",
                   "turnout_alarm_state"):  # fmt: skip
        assert series in panels
    # `instance` is Prometheus' scrape target: turnout's instances are `instance_id`
    assert "{{instance}}" not in DASHBOARD.read_text()
