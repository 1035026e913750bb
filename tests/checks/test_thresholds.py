from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.checks import thresholds as th
from turnout.domain.checks import Bound, Task, Threshold


def test_parse() -> None:
    assert th.parse("accuracy=0.9", Bound.MIN) == Threshold("accuracy", Bound.MIN, 0.9)
    assert th.parse(" recall:3 = 0.5", Bound.MIN) == Threshold("recall:3", Bound.MIN, 0.5)
    assert str(th.parse("mae=0.5", Bound.MAX)) == "mae <= 0.5"


@pytest.mark.parametrize(
    ("text", "says"),
    [("accuracy", "--min METRIC=VALUE"), ("=1", "--min METRIC=VALUE"),
     ("accuracy=high", "'high' is not a number"), ("accuracy=nan", "finite")],
)  # fmt: skip
def test_parse_refuses_with_a_hint(text: str, says: str) -> None:
    with pytest.raises(th.ThresholdError, match=says):
        th.parse(text, Bound.MIN)


def test_names_must_be_metrics_of_the_task() -> None:
    th.check_names([Threshold("accuracy", Bound.MIN, 0.9)], Task.CLASSIFICATION, False)
    th.check_names([Threshold("recall:7", Bound.MIN, 0.9)], Task.CLASSIFICATION, False)
    th.check_names([Threshold("agreement", Bound.MIN, 0.9)], Task.REGRESSION, True)
    with pytest.raises(th.ThresholdError, match=r"regression metric .* --task regression"):
        th.check_names([Threshold("mae", Bound.MAX, 1)], Task.CLASSIFICATION, False)
    with pytest.raises(th.ThresholdError, match="add --compare"):
        th.check_names([Threshold("agreement", Bound.MIN, 1)], Task.CLASSIFICATION, False)
    with pytest.raises(th.ThresholdError, match="unknown metric 'acc'"):
        th.check_names([Threshold("acc", Bound.MIN, 1)], Task.CLASSIFICATION, False)


def test_every_row_must_be_answered_unless_said_otherwise() -> None:
    assert th.with_defaults([]) == (th.ALL_ANSWERED,)
    own = Threshold("error_rate", Bound.MAX, 0.1)
    assert th.with_defaults([own]) == (own,)


@given(st.floats(0, 1), st.floats(0, 1), st.sampled_from(Bound))
def test_a_bound_holds_exactly_when_the_comparison_does(
    observed: float, value: float, bound: Bound
) -> None:
    (verdict,) = th.evaluate([Threshold("accuracy", bound, value)], {"accuracy": observed})
    assert verdict.passed == (observed >= value if bound is Bound.MIN else observed <= value)
    assert ("wanted accuracy" in verdict.message) and ("=" in verdict.message)


def test_a_metric_not_computed_fails() -> None:
    (missing, nan) = th.evaluate(
        [Threshold("recall:9", Bound.MIN, 0.5), Threshold("mae", Bound.MAX, 1)], {"mae": math.nan}
    )
    assert not missing.passed and not nan.passed
    assert "could not be computed" in nan.message
