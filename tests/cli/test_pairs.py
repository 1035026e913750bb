"""KEY=VALUE parsing of the CLI's arguments: values, errors that name what to fix."""

from __future__ import annotations

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from turnout.cli.endpoints import VARIANT_SHAPE, parse_variant
from turnout.cli.pairs import number, parse_numbers, parse_pairs
from turnout.client import Variant

keys = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=10)
values = st.text(st.characters(categories=["L", "N", "P"], exclude_characters="="), max_size=10)


def bad(call: object) -> str:
    """The message of the BadParameter `call()` raises."""
    assert callable(call)
    with pytest.raises(typer.BadParameter) as raised:
        call()
    return raised.value.format_message()


def test_pairs_are_split_at_the_first_equals_and_stripped() -> None:
    assert parse_pairs(["A=1", " B = x=y "], "--env", "KEY=VALUE") == {"A": "1", "B": "x=y"}


def test_an_empty_value_is_allowed() -> None:
    assert parse_pairs(["A="], "--env", "KEY=VALUE") == {"A": ""}


@pytest.mark.parametrize("item", ["A", "=1", " =1", ""])
def test_a_pair_without_key_or_equals_names_the_shape(item: str) -> None:
    message = bad(lambda: parse_pairs([item], "--env", "KEY=VALUE"))
    assert "--env" in message
    assert "KEY=VALUE" in message
    assert repr(item) in message


def test_a_key_given_twice_is_refused() -> None:
    message = bad(lambda: parse_pairs(["A=1", "A=2"], "WEIGHTS", "VARIANT=WEIGHT"))
    assert "A is given twice" in message


@given(st.dictionaries(keys, values, max_size=5))
def test_pairs_round_trip(pairs: dict[str, str]) -> None:
    items = [f"{key}={value}" for key, value in pairs.items()]
    parsed = parse_pairs(items, "--env", "KEY=VALUE")
    assert parsed == {key: value.strip() for key, value in pairs.items()}


def test_numbers_convert_by_kind() -> None:
    assert parse_numbers(["A=0.9", "B=1e-1"], "WEIGHTS", "V=W", float) == {"A": 0.9, "B": 0.1}
    assert parse_numbers(["A=2"], "--instances", "V=N", int) == {"A": 2}


@pytest.mark.parametrize(
    ("value", "kind", "noun"), [("x", float, "a number"), ("1.5", int, "an integer")]
)
def test_a_bad_number_shows_key_value_and_kind(value: str, kind: type, noun: str) -> None:
    message = bad(lambda: number("A", value, kind, "WEIGHTS"))
    assert f"A={value}" in message
    assert noun in message
    assert "WEIGHTS" in message


def test_variant_defaults_are_one_instance_and_weight_one() -> None:
    assert parse_variant("A=digits-a") == Variant("A", "digits-a", 1, 1.0, None)


def test_variant_options_in_any_order() -> None:
    parsed = parse_variant(" B = digits-b ,weight=0.25,type=ml.m5.large, instances=3")
    assert parsed == Variant("B", "digits-b", 3, 0.25, "ml.m5.large")


@pytest.mark.parametrize("spec", ["A", "A=", "=m", "A=m,weight", "A=m,,weight=1"])
def test_a_malformed_variant_shows_the_shape(spec: str) -> None:
    message = bad(lambda: parse_variant(spec))
    assert VARIANT_SHAPE in message
    assert "--variant" in message


def test_an_unknown_variant_option_is_named() -> None:
    message = bad(lambda: parse_variant("A=m,weigth=0.5"))
    assert "'weigth'" in message


@pytest.mark.parametrize(
    ("spec", "shown"), [("A=m,weight=half", "weight=half"), ("A=m,instances=1.5", "instances=1.5")]
)
def test_a_non_numeric_variant_option_is_shown(spec: str, shown: str) -> None:
    assert shown in bad(lambda: parse_variant(spec))


def test_a_repeated_variant_option_is_refused() -> None:
    assert "weight is given twice" in bad(lambda: parse_variant("A=m,weight=1,weight=2"))
