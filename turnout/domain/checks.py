"""Prediction tests as plain values: rows with expected answers, thresholds on metrics.

`turnout check` builds one from a data file; a guarded deployment can carry one (rows
inline) that must pass on the green fleet before any user traffic shifts, so the store keeps
it as a JSON document (`prediction_test_document` / `prediction_test_of`). The logic lives
in `turnout.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# JSON values as rows carry them: a row's inputs (a list) and its expected answer.
Json = Any

MAX_ROWS = 50_000  # rows of one data file
MAX_INLINE_ROWS = 5_000  # rows a deployment carries in the store
DEFAULT_BATCH = 32  # rows per request
MAX_BATCH = 1_000
DEFAULT_TIMEOUT_S = 300.0  # how long a deployment's test may run on the green fleet
MAX_TIMEOUT_S = 3_600.0


class Task(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class Bound(StrEnum):
    MIN = "min"  # the metric must be >= the value
    MAX = "max"  # the metric must be <= the value


@dataclass(frozen=True)
class Threshold:
    metric: str
    bound: Bound
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {'>=' if self.bound is Bound.MIN else '<='} {self.value:g}"


@dataclass(frozen=True)
class Row:
    """One request's inputs (a row of values, sent as JSON) and the answer expected
    (None: the file has no expected answers; only a comparison is possible)."""

    inputs: tuple[Json, ...]
    expected: Json = None


@dataclass(frozen=True)
class PredictionTest:
    """What a guarded deployment runs on the green fleet before shifting any traffic."""

    rows: tuple[Row, ...]
    thresholds: tuple[Threshold, ...]
    task: Task | None = None  # None: inferred from the expected answers
    batch_size: int = DEFAULT_BATCH
    timeout_s: float = DEFAULT_TIMEOUT_S

    def describe(self) -> str:
        bounds = ", ".join(str(t) for t in self.thresholds) or "every row answered"
        return f"{len(self.rows)} rows, {bounds}"


def prediction_test_document(test: PredictionTest) -> dict[str, Any]:
    """The test as the store and the REST API keep it."""
    document: dict[str, Any] = {
        "rows": [{"inputs": list(r.inputs), "expected": r.expected} for r in test.rows],
        "thresholds": [
            {"metric": t.metric, "bound": t.bound.value, "value": t.value} for t in test.thresholds
        ],
        "batch_size": test.batch_size,
        "timeout_s": test.timeout_s,
    }
    if test.task is not None:
        document["task"] = test.task.value
    return document


def prediction_test_of(document: dict[str, Any]) -> PredictionTest:
    """A document from `prediction_test_document` (or checked by the REST API) as a test."""
    task = document.get("task")
    return PredictionTest(
        rows=tuple(Row(tuple(r["inputs"]), r.get("expected")) for r in document["rows"]),
        thresholds=tuple(
            Threshold(t["metric"], Bound(t["bound"]), float(t["value"]))
            for t in document.get("thresholds") or ()
        ),
        task=Task(task) if task else None,
        batch_size=int(document.get("batch_size") or DEFAULT_BATCH),
        timeout_s=float(document.get("timeout_s") or DEFAULT_TIMEOUT_S),
    )
