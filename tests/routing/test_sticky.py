"""Sticky routing over published routes (turnout.routing.sticky): both fleets of a
deployment, ramps, and the key sources and cookies (turnout.routing.keys)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.domain.rollups import VariantKey
from turnout.domain.routing import RoutingSettings
from turnout.errors import InvalidRequest
from turnout.metrics.counters import VariantMetrics
from turnout.routing.keys import KeyReader
from turnout.routing.sticky import Assigner
from turnout.routing.table import EndpointRoute, VariantRoute

USERS = [f"user-{i}" for i in range(2000)]
SETTINGS = RoutingSettings("salt")


def route(config: str, variant: str) -> VariantRoute:
    return VariantRoute(config, variant, (), VariantMetrics(VariantKey("ep", config, variant)))


BLUE_A, BLUE_B, GREEN_A, GREEN_B = (route(c, v) for c in ("blue", "green") for v in "AB")


def assigned(routes: list[VariantRoute], weights: list[float]) -> list[tuple[str, str]]:
    assigner = Assigner(SETTINGS, routes, weights)
    found = [assigner.route_for(u) for u in USERS]
    return [(r.config, r.name) for r in found if r is not None]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=5).map(sorted))
def test_a_deployment_moves_users_blue_to_green_and_keeps_their_variant(
    shares: list[float],
) -> None:
    before = None
    for share in shares:
        now = assigned(
            [BLUE_A, BLUE_B, GREEN_A, GREEN_B],
            [0.7 * (1 - share), 0.3 * (1 - share), 0.7 * share, 0.3 * share],
        )
        if before is not None:
            for (was_config, was), (is_config, is_) in zip(before, now, strict=True):
                assert was == is_  # the variant never changes during a deployment
                assert not (was_config == "green" and is_config == "blue")
        before = now


def test_a_ramp_only_moves_users_into_the_growing_variant() -> None:
    before = None
    for share in (0.01, 0.05, 0.25, 0.5, 1.0):
        now = [name for _, name in assigned([BLUE_A, BLUE_B], [1 - share, share])]
        assert now.count("B") == pytest.approx(share * len(USERS), abs=4 * (len(USERS) ** 0.5))
        if before is not None:
            assert all(not (b == "B" and n == "A") for b, n in zip(before, now, strict=True))
        before = now


def test_a_new_config_with_the_same_variants_keeps_every_users_variant() -> None:
    blue = [name for _, name in assigned([BLUE_A, BLUE_B], [0.5, 0.5])]
    green = [name for _, name in assigned([GREEN_A, GREEN_B], [0.5, 0.5])]
    assert blue == green


def test_targeting_names_a_variant_even_at_weight_zero() -> None:
    targeted = RoutingSettings("salt").with_document(
        {"rules": [{"type": "users", "users": ["vip"], "variant": "B"}]}
    )
    endpoint = EndpointRoute("ep", [BLUE_A, BLUE_B], [1.0, 0.0], targeted)
    assert endpoint.sticky is not None
    assert endpoint.sticky.targeted("vip", []) == "B"
    assert endpoint.sticky.named("B", "vip") is BLUE_B
    assert endpoint.sticky.targeted("other", []) is None


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in values.items()]


def test_the_key_comes_from_header_then_custom_attributes_then_cookie() -> None:
    reader = KeyReader(RoutingSettings("s", custom_attribute="user"))
    assert reader.read(headers(x_turnout_user=" alice ")) == (b"alice", False)
    both = headers(x_amzn_sagemaker_custom_attributes="a=1, user=bob", cookie="turnout_user=c")
    assert reader.read(both) == (b"bob", False)
    assert reader.read(headers(cookie='x=1; turnout_user="carol"')) == (b"carol", False)
    assert reader.read(headers(user_agent="curl/8.5")) == (None, False)
    assert reader.read(headers(user_agent="Mozilla/5.0 (X11)")) == (None, True)
    assert reader.read(headers(accept="text/html,*/*")) == (None, True)
    no_cookie = KeyReader(RoutingSettings("s", cookie=None))
    assert no_cookie.read(headers(cookie="turnout_user=c", accept="text/html")) == (None, False)
    cookie = reader.set_cookie("abc").decode()
    assert cookie == "turnout_user=abc; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly"


def test_settings_documents_are_validated_and_partial() -> None:
    current = RoutingSettings("s")
    changed = current.with_document({"assignment_key": {"cookie": None, "header": "X-Id"}})
    assert (changed.header, changed.cookie, changed.salt) == ("X-Id", None, "s")
    assert changed.with_document({}).document() == changed.document()
    for bad, message in (
        ({"assignment_key": {"header": "bad header"}}, "assignment_key.header"),
        ({"assignment_key": {"query": "u"}}, 'source "query"'),
        ({"rules": {}}, "JSON list"),
        ({"salt": "x"}, 'setting "salt"'),
    ):
        with pytest.raises(InvalidRequest, match=message):
            current.with_document(bad)
