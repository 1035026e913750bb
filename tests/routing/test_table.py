"""The routing table during a blue/green deployment: two fleets whose variants share names."""

from __future__ import annotations

import pytest

from turnout.domain.rollups import VariantKey
from turnout.metrics.counters import VariantMetrics
from turnout.routing.table import EndpointRoute, VariantRoute


def route(config: str, variant: str) -> VariantRoute:
    return VariantRoute(config, variant, (), VariantMetrics(VariantKey("ep", config, variant)))


def test_two_fleets_share_traffic_by_their_published_weights() -> None:
    blue_a, blue_b, green_a = route("blue", "A"), route("blue", "B"), route("green", "A")
    endpoint = EndpointRoute("ep", [blue_a, blue_b, green_a], [0.45, 0.45, 0.1])
    assert endpoint.weights() == pytest.approx(
        {("blue", "A"): 0.45, ("blue", "B"): 0.45, ("green", "A"): 0.1}, abs=1e-12
    )
    assert endpoint.find("green", "A") is green_a
    assert endpoint.find("green", "B") is None


def test_target_variant_picks_the_fleet_by_weight_among_routes_of_that_name() -> None:
    blue_a, green_a = route("blue", "A"), route("green", "A")
    endpoint = EndpointRoute("ep", [blue_a, green_a], [0.75, 0.25])
    draws = [i / 1000 for i in range(1000)]
    picked = [endpoint.named("A", u) for u in draws]
    assert picked.count(green_a) == 250  # the alias table maps draws exactly
    assert endpoint.named("B", 0.5) is None


def test_a_target_variant_with_weight_zero_is_still_reachable() -> None:
    a, b = route("blue", "A"), route("blue", "B")
    endpoint = EndpointRoute("ep", [a, b], [1.0, 0.0])
    assert endpoint.named("B", 0.3) is b
    assert all(endpoint.chooser.pick(i / 100) is a for i in range(100))  # type: ignore[union-attr]
