"""Compact figures for 80-column tables: short, and still the number they stand for."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnout.cli.compact import compact, megabytes, percent, share


def value_of(text: str) -> float:
    scale = {"k": 1e3, "M": 1e6, "G": 1e9}.get(text[-1], 1.0)
    return float(text.rstrip("kMG")) * scale


@given(st.floats(min_value=0, max_value=9.99e11, allow_nan=False))
def test_compact_is_short_and_within_its_rounding(value: float) -> None:
    text = compact(value)
    assert len(text) <= 6, text
    assert abs(value_of(text) - value) <= max(0.051 * value, 0.006), text


@given(st.floats(min_value=0, max_value=1))
def test_percent_and_share_are_short(value: float) -> None:
    assert len(percent(value)) <= 6
    assert len(share(value)) <= 6


def test_examples() -> None:
    assert [compact(x) for x in (0, 7, 0.5, 1.234, 12.34, 123.4, 1234, 12345, 1.5e6)] == [
        "0", "7", "0.5", "1.23", "12.3", "123", "1.2k", "12k", "1.5M",
    ]  # fmt: skip
    assert compact(None) == "-"
    assert [percent(x) for x in (0, 0.0005, 0.012, 0.5, 1)] == [
        "0%",
        "0.05%",
        "1.2%",
        "50%",
        "100%",
    ]
    assert [share(x) for x in (0.1, 0.075, 1 / 3, 1)] == ["10%", "7.5%", "33.3%", "100%"]
    assert [megabytes(x) for x in (None, 512.4, 1536)] == ["-", "512M", "1.5G"]
