from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnout.checks.compare import agree, agreement
from turnout.domain.checks import Task

floats = st.floats(-1e9, 1e9, allow_nan=False)


def test_labels_agree_exactly_numbers_within_tolerance() -> None:
    assert agree(Task.CLASSIFICATION, 3, "3")
    assert not agree(Task.CLASSIFICATION, 3, 3.0001)
    assert agree(Task.REGRESSION, 1.0, 1.000001)
    assert not agree(Task.REGRESSION, 1.0, 1.1)
    assert agree(Task.REGRESSION, 1.0, 1.1, rtol=0.0, atol=0.2)


def test_agreement_rate_and_first_disagreements() -> None:
    found = agreement(Task.CLASSIFICATION, [1, 2, 3, 4, 5], [1, 0, 3, 0, 0], examples=2)
    assert (found.compared, found.agreed, found.rate) == (5, 2, 0.4)
    assert found.disagreeing == (1, 3)


@given(st.lists(floats, max_size=30))
def test_answers_agree_with_themselves(values: list[float]) -> None:
    for task in Task:
        found = agreement(task, values, values)
        assert found.agreed == len(values)


@given(floats, floats, st.floats(0, 1), st.floats(0, 10))
def test_tolerance_is_numpys_isclose(a: float, b: float, rtol: float, atol: float) -> None:
    import numpy as np

    assert agree(Task.REGRESSION, a, b, rtol, atol) == bool(np.isclose(a, b, rtol=rtol, atol=atol))
