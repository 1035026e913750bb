"""Agreement between a shadow's answer and production's, against numpy.isclose."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.shadow.agreement import Tolerance, agree

finite = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e12, max_value=1e12)


@given(st.lists(finite, min_size=1, max_size=8), st.lists(finite, min_size=1, max_size=8))
def test_numbers_agree_as_numpy_isclose_reads_them(left: list[float], right: list[float]) -> None:
    tolerance = Tolerance(rtol=1e-3, atol=1e-6)
    expected = len(left) == len(right) and bool(
        np.all(np.isclose(right, left, rtol=tolerance.rtol, atol=tolerance.atol))
    )
    assert agree(json.dumps(left).encode(), json.dumps(right).encode(), tolerance) is expected


@given(st.lists(st.integers(-100, 100), min_size=1, max_size=5))
def test_labels_agree_only_when_equal(labels: list[int]) -> None:
    same = json.dumps(labels).encode()
    assert agree(same, json.dumps(labels).encode())
    shifted = [label + 1 for label in labels]
    assert not agree(same, json.dumps(shifted).encode(), Tolerance(rtol=1.0, atol=1.0))


@pytest.mark.parametrize(
    ("production", "shadow", "agreed"),
    [
        (b'{"label": "cat", "p": 0.5}', b'{"p": 0.5000001, "label": "cat"}', True),
        (b'{"label": "cat"}', b'{"label": "dog"}', False),
        (b'{"label": "cat"}', b'{"label": "cat", "extra": 1}', False),
        (b"[1, 2]", b"[1, 2, 3]", False),
        (b"[true]", b"[1]", False),
        (b"3\n", b"3", True),  # CSV answers, as tokens
        (b"0.25,0.75\n", b"0.2500001,0.75", True),
        (b"0.25,0.75", b"0.3,0.75", False),
        (b"[NaN]", b"[NaN]", True),
        (b"\xff\xfe", b"\xff\xfe", True),  # bytes that are not text: equal or not
        (b"\xff\xfe", b"\xff\xfd", False),
        (b"[3.0]", b"[3]", True),  # a float on one side: compared as numbers
    ],
)
def test_examples(production: bytes, shadow: bytes, agreed: bool) -> None:
    assert agree(production, shadow, Tolerance(rtol=1e-5, atol=1e-8)) is agreed


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_tolerance_is_finite_and_not_negative(bad: float) -> None:
    with pytest.raises(ValueError, match="rtol"):
        Tolerance(rtol=bad)
