"""Targeting rules: allow-lists and header matches, first match wins, JSON round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.domain.targeting import HeaderRule, Targeting, UserRule
from turnout.errors import InvalidRequest
from turnout.routing.assignment import StickyAssignment

VARIANTS = ("control", "canary", "beta")
DOCUMENT: list[dict[str, Any]] = [
    {"type": "users", "users": ["alice", "bob"], "variant": "beta"},
    {"type": "header", "header": "X-Country", "operator": "in", "values": ["FR", "BE"],
     "variant": "canary"},
    {"type": "header", "header": "X-Plan", "operator": "equals", "value": "pro",
     "variant": "control"},
]  # fmt: skip

names = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and s != "")
header_maps = st.dictionaries(
    st.sampled_from(["x-country", "x-plan", "user-agent"]), st.text(max_size=8), max_size=3
)


def test_first_matching_rule_wins() -> None:
    targeting = Targeting.from_document(DOCUMENT, VARIANTS)
    assert targeting.variant_for("alice", {"x-country": "FR"}) == "beta"
    assert targeting.variant_for("carol", {"x-country": "FR", "x-plan": "pro"}) == "canary"
    assert targeting.variant_for("carol", {"x-country": " BE "}) == "canary"
    assert targeting.variant_for("carol", {"x-plan": "pro"}) == "control"
    assert targeting.variant_for(None, {"x-country": "DE"}) is None
    assert targeting.variant_for("carol", {"x-country": "fr"}) is None  # values are exact


@given(
    st.lists(names, min_size=1, max_size=20),
    st.data(),
    header_maps,
    st.dictionaries(st.sampled_from(VARIANTS), st.floats(0.1, 100.0), min_size=1),
)
def test_an_allow_listed_user_always_gets_their_variant(
    users: list[str],
    data: st.DataObject,
    headers: dict[str, str],
    allocation: dict[str, float],
) -> None:
    user = data.draw(st.sampled_from(users))
    variant = data.draw(st.sampled_from(VARIANTS))
    others = Targeting.from_document(DOCUMENT[1:], VARIANTS).rules
    targeting = Targeting((UserRule(frozenset(users), variant), *others))
    sticky = StickyAssignment("salt", allocation)
    # What the router will do: targeting first, the weights only when no rule matches.
    assert (targeting.variant_for(user, headers) or sticky.assign(user)) == variant


def test_users_in_two_lists_get_the_first() -> None:
    targeting = Targeting(
        (UserRule(frozenset({"u"}), "canary"), UserRule(frozenset({"u", "v"}), "beta"))
    )
    assert targeting.variant_for("u", {}) == "canary"
    assert targeting.variant_for("v", {}) == "beta"


def test_documents_round_trip_through_json() -> None:
    targeting = Targeting.from_document(DOCUMENT, VARIANTS)
    again = Targeting.from_document(json.loads(json.dumps(targeting.to_document())), VARIANTS)
    assert again == targeting
    assert again.rules[1] == HeaderRule("x-country", "in", frozenset({"FR", "BE"}), "canary")
    assert again.to_document()[2] == {
        "type": "header",
        "header": "x-plan",
        "operator": "equals",
        "value": "pro",
        "variant": "control",
    }


def test_rules_naming_an_unknown_variant_are_refused_with_one_line() -> None:
    with pytest.raises(InvalidRequest) as caught:
        Targeting.from_document(DOCUMENT, ("control", "canary"))
    message = str(caught.value)
    assert message == (
        'Targeting rule 1 routes to unknown variant "beta"; '
        "the endpoint's variants are: canary, control."
    )


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ({"type": "users"}, "must be a JSON list"),
        (["users"], "rule 1 must be a JSON object"),
        ([{"type": "cookie", "variant": "beta"}], '"type" must be "users" or "header"'),
        ([{"type": "users", "users": [], "variant": "beta"}], '"users" must be a list of 1'),
        ([{"type": "users", "users": ["a"], "variant": ""}], '"variant" must be a non-empty'),
        ([{"type": "users", "users": [1], "variant": "beta"}], '"users" must be a non-empty'),
        ([{"type": "users", "users": ["a"], "variant": "beta", "x": 1}], 'unknown field "x"'),
        (
            [{"type": "header", "header": "X A", "operator": "in", "values": ["1"],
              "variant": "beta"}],
            '"header" must be a valid HTTP header name',
        ),
        (
            [{"type": "header", "header": "X-A", "operator": "like", "value": "1",
              "variant": "beta"}],
            '"operator" must be "equals" or "in"',
        ),
        (
            [{"type": "header", "header": "X-A", "operator": "equals", "values": ["1"],
              "variant": "beta"}],
            'unknown field "values"',
        ),
        ([DOCUMENT[0]] * 101, "At most 100 targeting rules"),
    ],
)  # fmt: skip
def test_malformed_documents_are_refused_with_one_line(document: Any, words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        Targeting.from_document(document, VARIANTS)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)
