"""Load shapes: parsing LEVELS and durations, levels over time, a rate's send times."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.loadtest.shape import (
    Mode,
    Segment,
    Shape,
    ShapeError,
    build_shape,
    parse_levels,
    parse_seconds,
)


def test_levels_constant_steps_and_ramps() -> None:
    assert parse_levels("8", Mode.concurrency) == [(8, 8)]
    assert parse_levels("2, 4,8", Mode.concurrency) == [(2, 2), (4, 4), (8, 8)]
    assert parse_levels("10..200,200", Mode.rate) == [(10, 200), (200, 200)]
    assert parse_levels("0..50", Mode.rate) == [(0, 50)]


@pytest.mark.parametrize(
    ("text", "mode", "says"),
    [
        ("", Mode.rate, "give levels"),
        ("4,,8", Mode.rate, "give levels"),
        ("fast", Mode.rate, "not a number"),
        ("2.5", Mode.concurrency, "whole number"),
        ("0", Mode.rate, "above 0"),
        ("5000", Mode.concurrency, "within 0..1024"),
        ("-3", Mode.rate, "within"),
        ("nan", Mode.rate, "within"),
    ],
)
def test_bad_levels_say_what_to_give(text: str, mode: Mode, says: str) -> None:
    with pytest.raises(ShapeError, match=says):
        parse_levels(text, mode)


def test_durations() -> None:
    assert parse_seconds("30") == 30
    assert parse_seconds("30s") == 30
    assert parse_seconds("2m") == 120
    assert parse_seconds("500ms") == 0.5
    for bad in ("", "soon", "0", "-1s"):
        with pytest.raises(ShapeError):
            parse_seconds(bad)
    with pytest.raises(ShapeError, match="exceed"):
        build_shape(Mode.rate, "1,2,3", 1800)


def test_level_over_time_steps_and_ramp() -> None:
    steps = build_shape(Mode.concurrency, "2,4,8", 10)
    assert steps.seconds == 30
    assert [steps.level_at(t) for t in (0, 9.9, 10, 25, 40)] == [2, 2, 4, 8, 8]
    assert [steps.segment_at(t) for t in (0, 10, 29.9, 31)] == [0, 1, 2, 2]
    ramp = build_shape(Mode.rate, "0..100", 10)
    assert ramp.level_at(5) == pytest.approx(50)
    assert ramp.peak == 100


def test_constant_rate_sends_on_a_regular_schedule() -> None:
    times = list(build_shape(Mode.rate, "4", 2).send_times())
    assert times == pytest.approx([0.125, 0.375, 0.625, 0.875, 1.125, 1.375, 1.625, 1.875])


segments = st.lists(
    st.tuples(
        st.floats(0, 500, allow_nan=False),
        st.floats(0, 500, allow_nan=False),
        st.floats(0.1, 5, allow_nan=False),
    ),
    min_size=1,
    max_size=4,
).filter(lambda parts: any(max(a, b) > 0.5 for a, b, _ in parts))


@given(segments)
def test_send_times_follow_the_rate(parts: list[tuple[float, float, float]]) -> None:
    """Send times ascend, stay inside the run, and their count is the integral of the rate
    (within one request), in every segment and overall."""
    shape = Shape(Mode.rate, tuple(Segment(a, b, d) for a, b, d in parts))
    times = list(shape.send_times())
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(times))
    assert all(0 <= t <= shape.seconds + 1e-9 for t in times)
    assert abs(len(times) - shape.expected_sends()) <= 1.0
    # Over any prefix of the run, sends so far track the integral of the rate.
    begin = 0.0
    owed = 0.0
    for segment in shape.segments:
        owed += segment.sends()
        begin += segment.seconds
        sent = sum(1 for t in times if t <= begin + 1e-9)
        assert abs(sent - owed) <= 1.0


@given(st.floats(0.5, 1000), st.floats(0.5, 1000), st.floats(0.1, 10))
def test_time_of_inverts_the_integral(a: float, b: float, d: float) -> None:
    segment = Segment(a, b, d)
    for share in (0.0, 0.25, 0.5, 1.0):
        n = share * segment.sends()
        t = segment.time_of(n)
        integral = a * t + (b - a) * t * t / (2 * d)
        assert math.isclose(integral, n, rel_tol=1e-6, abs_tol=1e-6)
