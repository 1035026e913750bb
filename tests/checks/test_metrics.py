"""The metrics against scikit-learn's, on examples and on generated answers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    max_error,
    mean_absolute_error,
    mean_squared_error,
    recall_score,
)

from turnout.checks import metrics as m
from turnout.domain.checks import Task

labels = st.lists(st.integers(0, 4), min_size=1, max_size=60)
numbers = st.floats(-1e6, 1e6, allow_nan=False)


@pytest.mark.filterwarnings("ignore::UserWarning")  # sklearn on one class, unseen predictions
@given(st.data())
def test_classification_metrics_are_scikit_learns(data: st.DataObject) -> None:
    truth = data.draw(labels)
    guess = data.draw(st.lists(st.integers(0, 5), min_size=len(truth), max_size=len(truth)))
    found = m.classification(truth, guess)
    classes = sorted(set(truth))
    recalls = recall_score(truth, guess, labels=classes, average=None, zero_division=0)
    assert found[m.ACCURACY] == pytest.approx(accuracy_score(truth, guess))
    for c, recall in zip(classes, recalls, strict=True):
        assert found[f"recall:{c}"] == pytest.approx(recall)
    assert found[m.MIN_RECALL] == pytest.approx(min(recalls))
    assert found[m.BALANCED_ACCURACY] == pytest.approx(balanced_accuracy_score(truth, guess))


@given(st.data())
def test_regression_metrics_are_scikit_learns(data: st.DataObject) -> None:
    truth = data.draw(st.lists(numbers, min_size=1, max_size=60))
    guess = data.draw(st.lists(numbers, min_size=len(truth), max_size=len(truth)))
    found = m.regression(truth, guess)
    assert found[m.MAE] == pytest.approx(mean_absolute_error(truth, guess), rel=1e-9, abs=1e-9)
    rmse = math.sqrt(mean_squared_error(truth, guess))
    assert found[m.RMSE] == pytest.approx(rmse, rel=1e-9, abs=1e-9)
    assert found[m.MAX_ABS_ERROR] == pytest.approx(max_error(truth, guess), rel=1e-12, abs=1e-9)


def test_labels_compare_by_value_whatever_their_spelling() -> None:
    """The CSV text "3", the JSON 3 and 3.0 and a model's [3] are one class."""
    found = m.classification(["3", "3.0", "cat", " cat"], [3, [3.0], "cat", "cat"])
    assert found[m.ACCURACY] == 1.0
    assert sorted(k for k in found if k.startswith("recall:")) == ["recall:3", "recall:cat"]


def test_an_answer_that_is_not_a_number_is_an_infinite_regression_error() -> None:
    found = m.regression([1.0, 2.0], [1.0, "oops"])
    assert found[m.MAX_ABS_ERROR] == math.inf
    assert m.regression([], [])[m.MAE] != m.regression([], [])[m.MAE]  # NaN: nothing answered


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 1, 0], Task.CLASSIFICATION),
        (["cat", "dog"], Task.CLASSIFICATION),
        ([0.5, 1.0, 2.25], Task.REGRESSION),
        (["1.5", "2"], Task.REGRESSION),
        (list(range(51)), Task.REGRESSION),  # many distinct integers: a count, a price
        (list(range(50)), Task.CLASSIFICATION),
        ([1, "two"], Task.CLASSIFICATION),
    ],
)
def test_the_task_follows_the_expected_answers(values: list[object], task: Task) -> None:
    assert m.infer_task(values) is task


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80))
def test_fractional_numbers_make_a_regression_few_integers_a_classification(
    values: list[float],
) -> None:
    task = m.infer_task(values)
    if any(not v.is_integer() for v in values):
        assert task is Task.REGRESSION
    else:
        assert (task is Task.CLASSIFICATION) == (len(set(values)) <= m.MAX_CLASSES)
