"""A fleet at share 0 on standby: found by config and variant (X-Turnout-Endpoint-Config),
never by weights, sticky users or TargetVariant alone."""

from __future__ import annotations

import asyncio
from time import perf_counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.domain.routing import RoutingSettings
from turnout.routing.dispatch import Dispatcher, DispatchError, Failure, Invocation
from turnout.routing.router import Router, RouterLimits
from turnout.routing.table import EndpointRoute, VariantTarget

from .test_table import route


def test_standby_routes_are_found_by_config_alone() -> None:
    blue, green = route("blue", "A"), route("green", "B")
    endpoint = EndpointRoute("ep", [blue], [1.0], standby=[green])
    assert endpoint.find("green", "B") is green
    assert endpoint.named("B", 0.5) is None
    assert green in endpoint.all_routes()
    assert endpoint.weights() == {("blue", "A"): 1.0}


@given(st.floats(0, 1, exclude_max=True), st.text(min_size=1, max_size=8))
def test_no_draw_and_no_user_reaches_a_standby_fleet(u: float, user: str) -> None:
    blue, green = route("blue", "A"), route("green", "A")
    settings = RoutingSettings(salt="s")
    endpoint = EndpointRoute("ep", [blue], [1.0], settings, standby=[green])
    assert endpoint.chooser is not None and endpoint.chooser.pick(u) is blue
    assert endpoint.named("A", u) is blue
    assert endpoint.sticky is not None and endpoint.sticky.route_for(user) is blue


def test_the_router_publishes_a_fleet_at_share_0_on_standby_with_its_counters() -> None:
    router = Router(RouterLimits(), "123456789012")
    router.publish(
        "ep",
        [VariantTarget("blue", "A", 1.0, ()), VariantTarget("green", "B", 0.0, (), standby=True)],
    )
    endpoint = router.table.endpoints["ep"]
    assert [r.config for r in endpoint.routes] == ["blue"]
    assert [r.config for r in endpoint.standby] == ["green"]
    assert {k.config for k in router.routed_keys()} == {"blue", "green"}


@pytest.mark.parametrize(
    ("config", "variant", "message"),
    [
        ("other", "B", "The variant B of endpoint config other is not present in endpoint ep."),
        ("green", "A", "The variant A of endpoint config green is not present in endpoint ep."),
    ],
)
def test_dispatch_by_config_and_variant(config: str, variant: str, message: str) -> None:
    router = Router(RouterLimits(instance_wait=0.0), "123456789012")
    router.publish(
        "ep",
        [VariantTarget("blue", "A", 1.0, ()), VariantTarget("green", "B", 0.0, (), standby=True)],
    )
    dispatcher = Dispatcher(router)

    def dispatch(config: str | None, variant: str) -> DispatchError:
        invocation = Invocation("ep", variant, [], [], b"[]", perf_counter(), config=config)
        with pytest.raises(DispatchError) as failed:
            asyncio.run(dispatcher.dispatch(invocation))
        return failed.value

    # The standby variant is found (then has no instance here); others are named as missing.
    found = dispatch("green", "B")
    assert found.failure is Failure.NO_INSTANCE and found.variant is not None
    assert found.variant.config == "green"
    missing = dispatch(config, variant)
    assert (missing.failure, missing.message) == (Failure.NO_VARIANT, message)
    assert dispatch(None, "B").failure is Failure.NO_VARIANT  # TargetVariant alone: not green
