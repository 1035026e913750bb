"""SageMaker's naming and variant rules."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.deploy.validation import check_variants
from turnout.domain.names import NAME_PATTERN, check_name
from turnout.domain.resources import ProductionVariant
from turnout.errors import InvalidRequest


@pytest.mark.parametrize("name", ["a", "A1", "digits-ab", "a--b", "x" * 63])
def test_valid_names(name: str) -> None:
    check_name("endpoint", name)


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "a.b", "é", "x" * 64, "a b"])
def test_invalid_names_say_the_rule(name: str) -> None:
    with pytest.raises(InvalidRequest, match="letters, digits and hyphens"):
        check_name("endpoint", name)


@given(st.text(max_size=80))
def test_check_name_agrees_with_the_pattern_and_length(name: str) -> None:
    ok = bool(re.fullmatch(NAME_PATTERN.strip("^$"), name)) and len(name) <= 63
    try:
        check_name("model", name)
        assert ok
    except InvalidRequest:
        assert not ok


def v(name: str, weight: float = 1.0, count: int = 1) -> ProductionVariant:
    return ProductionVariant(name, "m", count, weight)


def test_variant_rules() -> None:
    check_variants([v("A"), v("B", 0.0)])
    with pytest.raises(InvalidRequest, match="1 to 10"):
        check_variants([])
    with pytest.raises(InvalidRequest, match="1 to 10"):
        check_variants([v(f"V{i}") for i in range(11)])
    with pytest.raises(InvalidRequest) as caught:
        check_variants([v("A"), v("A")])
    assert str(caught.value) == 'The variant name "A" was non-unique within the request.'

    with pytest.raises(InvalidRequest, match="weight > 0"):
        check_variants([v("A", 0.0)])
    with pytest.raises(InvalidRequest, match="instance count"):
        check_variants([v("A", count=0)])
