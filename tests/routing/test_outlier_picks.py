"""The dispatcher's instance choice with outlier ejection: ejected instances get no
requests, unless every other instance is down (Envoy's panic routing)."""

from __future__ import annotations

from typing import Any, cast

from turnout.domain.rollups import VariantKey
from turnout.instances.backend import Instance
from turnout.metrics.counters import VariantMetrics
from turnout.routing.dispatch import Dispatcher
from turnout.routing.outliers import OFF
from turnout.routing.router import Router, RouterLimits
from turnout.routing.table import Upstream, VariantRoute
from turnout.routing.upstream import ConnectionPool


class FakeInstance:
    def __init__(self) -> None:
        self.ready = True


def variant(n: int) -> tuple[VariantRoute, list[FakeInstance]]:
    instances = [FakeInstance() for _ in range(n)]
    upstreams = tuple(
        Upstream(cast(Instance, i), cast(ConnectionPool, cast(Any, None))) for i in instances
    )
    return VariantRoute("c", "A", upstreams, VariantMetrics(VariantKey("ep", "c", "A"))), instances


def test_an_ejected_instance_gets_no_requests() -> None:
    dispatcher = Dispatcher(Router(RouterLimits(), "123456789012"))
    route, _ = variant(4)
    route.upstreams[2].outlier.ejected = True
    picks = {id(dispatcher._pick(route, [])) for _ in range(40)}
    assert id(route.upstreams[2]) not in picks
    assert len(picks) == 3


def test_when_the_others_are_down_an_ejected_instance_answers_rather_than_none() -> None:
    dispatcher = Dispatcher(Router(RouterLimits(), "123456789012"))
    route, instances = variant(3)
    route.upstreams[0].outlier.ejected = True
    instances[1].ready = instances[2].ready = False
    assert dispatcher._pick(route, []) is route.upstreams[0]
    instances[0].ready = False  # and none when it is down too
    assert dispatcher._pick(route, []) is None


def test_with_ejection_off_nothing_is_tracked() -> None:
    dispatcher = Dispatcher(Router(RouterLimits(outliers=OFF), "123456789012"))
    assert not dispatcher._detect
