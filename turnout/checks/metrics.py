"""The metrics of a prediction test, from expected and predicted answers. Pure.

Classification: `accuracy`, per-class recall `recall:<class>` (over the classes the
expected answers hold), their mean `balanced_accuracy` and their minimum `min_recall`.
Regression: `mae`, `rmse`, `max_abs_error`. Each is computed over the rows the endpoint
answered; `error_rate` (rows without an answer) comes from the runner.

Answers are compared as labels: numbers by value (the CSV text "3", the JSON 3 and 3.0 are
one class), text as is, a one-element list as its element.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from turnout.domain.checks import Json, Task

Label = float | str

ACCURACY = "accuracy"
BALANCED_ACCURACY = "balanced_accuracy"
MIN_RECALL = "min_recall"
RECALL_PREFIX = "recall:"
MAE = "mae"
RMSE = "rmse"
MAX_ABS_ERROR = "max_abs_error"
ERROR_RATE = "error_rate"
AGREEMENT = "agreement"

METRICS = {
    Task.CLASSIFICATION: (ACCURACY, BALANCED_ACCURACY, MIN_RECALL),
    Task.REGRESSION: (MAE, RMSE, MAX_ABS_ERROR),
}
COMMON = (ERROR_RATE, AGREEMENT)
# Integral numbers with more distinct values than this are taken for a regression target.
MAX_CLASSES = 50


def unwrap(value: Json) -> Json:
    """A one-element list as its element (a model answering `[[3]]` for one row)."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def number_of(value: Json) -> float | None:
    """The value as a finite number, if it is one (or numeric text); else None."""
    value = unwrap(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def label_of(value: Json) -> Label:
    """The value as a class label: numbers by value, text stripped, others as JSON."""
    number = number_of(value)
    if number is not None:
        return number
    value = unwrap(value)
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def label_text(label: Label) -> str:
    """A label as people write it: 3, 0.5, cat."""
    if isinstance(label, float):
        return str(int(label)) if label.is_integer() else f"{label:g}"
    return label


def infer_task(values: Sequence[Json]) -> Task:
    """Regression when every value is a number and some are fractional, or there are more
    than MAX_CLASSES distinct integers; classification otherwise (text, or few integers)."""
    numbers = [number_of(v) for v in values]
    if not numbers or any(n is None for n in numbers):
        return Task.CLASSIFICATION
    if any(not n.is_integer() for n in numbers if n is not None):
        return Task.REGRESSION
    return Task.REGRESSION if len(set(numbers)) > MAX_CLASSES else Task.CLASSIFICATION


def classification(expected: Sequence[Json], predicted: Sequence[Json]) -> dict[str, float]:
    """Accuracy and recall per expected class over answered rows (NaN without any)."""
    truth = [label_of(v) for v in expected]
    guess = [label_of(v) for v in predicted]
    if not truth:
        return {ACCURACY: math.nan, BALANCED_ACCURACY: math.nan, MIN_RECALL: math.nan}
    hits: dict[Label, int] = {}
    counts: dict[Label, int] = {}
    for t, g in zip(truth, guess, strict=True):
        counts[t] = counts.get(t, 0) + 1
        hits[t] = hits.get(t, 0) + (t == g)
    recalls = {c: hits[c] / counts[c] for c in sorted(counts, key=_order)}
    result = {
        ACCURACY: sum(hits.values()) / len(truth),
        BALANCED_ACCURACY: sum(recalls.values()) / len(recalls),
        MIN_RECALL: min(recalls.values()),
    }
    for c, recall in recalls.items():
        result[RECALL_PREFIX + label_text(c)] = recall
    return result


def regression(expected: Sequence[Json], predicted: Sequence[Json]) -> dict[str, float]:
    """MAE, RMSE and the largest absolute error over answered rows; a row whose answer is
    not a number counts as an infinite error."""
    errors = []
    for e, p in zip(expected, predicted, strict=True):
        truth, guess = number_of(e), number_of(p)
        if truth is None:
            raise ValueError(f"the expected answer {e!r} is not a number")
        errors.append(math.inf if guess is None else abs(truth - guess))
    if not errors:
        return {MAE: math.nan, RMSE: math.nan, MAX_ABS_ERROR: math.nan}
    return {
        MAE: math.fsum(errors) / len(errors),
        RMSE: math.sqrt(math.fsum(e * e for e in errors) / len(errors)),
        MAX_ABS_ERROR: max(errors),
    }


def compute(task: Task, expected: Sequence[Json], predicted: Sequence[Json]) -> dict[str, float]:
    if task is Task.CLASSIFICATION:
        return classification(expected, predicted)
    return regression(expected, predicted)


def _order(label: Label) -> tuple[int, float, str]:
    """Numbers first, by value; then text."""
    return (0, label, "") if isinstance(label, float) else (1, 0.0, label)
