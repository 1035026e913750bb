"""Outlier ejection in Prometheus' terms: a counter and a 0/1 gauge per routed instance,
read off the router's upstreams (ADR 0034)."""

from __future__ import annotations

from typing import Any, cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from turnout.domain.resources import Model
from turnout.instances.backend import Instance, InstanceSpec
from turnout.metrics.prometheus import EjectionCollector
from turnout.routing.router import Router, RouterLimits
from turnout.routing.table import VariantTarget


class FakeInstance:
    ready = True
    address = None

    def __init__(self, index: int) -> None:
        self.spec = InstanceSpec("ep", "ep-config", "A", index, Model("m", "/nowhere"))


def scrape(router: Router, now: float) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EjectionCollector(router.ejections, lambda: now))
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels["instance_id"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("endpoint") == "ep" and sample.labels.get("variant") == "A"
    }


def test_ejections_count_and_the_gauge_follows_the_clock() -> None:
    router = Router(RouterLimits(), "123456789012")
    instances = [cast(Instance, cast(Any, FakeInstance(i))) for i in (1, 2)]
    router.publish("ep", [VariantTarget("ep-config", "A", 1.0, instances)])
    stats = router.table.endpoints["ep"].routes[0].upstreams[1].outlier
    stats.ejections, stats.ejected, stats.ejected_until = 2, True, 100.0
    try:
        assert scrape(router, now=50.0) == {
            ("turnout_instance_ejections_total", "1"): 0.0,
            ("turnout_instance_ejections_total", "2"): 2.0,
            ("turnout_instance_ejected", "1"): 0.0,
            ("turnout_instance_ejected", "2"): 1.0,
        }
        # Its time is up: not ejected any more, even before a request returns it.
        assert scrape(router, now=100.0)[("turnout_instance_ejected", "2")] == 0.0
    finally:
        router.close()
