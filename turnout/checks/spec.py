"""Is a deployment's prediction test usable? Checked when the deployment starts, so a test
that could never pass (no expected answers, a metric of the other task, too many rows) is
refused with the reason instead of rolling back a good fleet later. Pure."""

from __future__ import annotations

from turnout.checks import metrics as m
from turnout.checks.report import resolve_task
from turnout.checks.thresholds import ThresholdError, check_names
from turnout.domain.checks import MAX_BATCH, MAX_INLINE_ROWS, MAX_TIMEOUT_S, PredictionTest, Task
from turnout.errors import InvalidRequest


def validate(test: PredictionTest) -> Task:
    """The test's task; InvalidRequest (one line) when the test cannot be run as given."""
    if not test.rows or len(test.rows) > MAX_INLINE_ROWS:
        raise InvalidRequest(
            f"A prediction test holds 1 to {MAX_INLINE_ROWS:,} rows, not {len(test.rows):,}."
        )
    if not 1 <= test.batch_size <= MAX_BATCH:
        raise InvalidRequest(f"batch_size must be 1 to {MAX_BATCH}, not {test.batch_size}.")
    if not 1 <= test.timeout_s <= MAX_TIMEOUT_S:
        raise InvalidRequest(f"timeout_s must be 1 to {MAX_TIMEOUT_S:g} s, not {test.timeout_s:g}.")
    missing = next((i for i, r in enumerate(test.rows, 1) if r.expected is None), None)
    if missing is not None:
        raise InvalidRequest(f"Row {missing} of the prediction test has no expected answer.")
    task = resolve_task(test.task, test.rows)
    assert task is not None  # every row has an expected answer
    try:
        check_names(test.thresholds, task, comparing=False)
    except ThresholdError as exc:
        raise InvalidRequest(f"Prediction test: {exc}.") from None
    if task is Task.REGRESSION:
        for number, row in enumerate(test.rows, 1):
            if m.number_of(row.expected) is None:
                raise InvalidRequest(
                    f"Row {number} of the prediction test expects {row.expected!r}, not a "
                    "number, which a regression test needs."
                )
    return task
