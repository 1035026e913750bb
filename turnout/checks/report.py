"""A prediction test's outcome: the metrics, each threshold's verdict, and a one-line summary
(what a deployment that fails its test shows as its rollback reason). `assess` builds the
metrics and verdicts from the answers; it is pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from turnout.checks import metrics as m
from turnout.checks.compare import ATOL, RTOL, agreement
from turnout.checks.thresholds import Verdict, evaluate, with_defaults
from turnout.domain.checks import Json, Row, Task, Threshold


@dataclass(frozen=True)
class Answers:
    """What one target answered: per row, its answer or None (no answer)."""

    values: tuple[Json, ...]
    answered: tuple[bool, ...]
    requests: int = 0  # invocations sent
    variants: Mapping[str, int] = field(default_factory=dict)  # rows answered, by variant
    errors: tuple[str, ...] = ()  # the first few distinct error messages
    error_count: int = 0  # rows not answered

    @property
    def count(self) -> int:
        return sum(self.answered)


@dataclass(frozen=True)
class Disagreement:
    row: int  # 0-based index into the data file's rows
    answer: Json
    reference: Json


@dataclass(frozen=True)
class Report:
    target: str  # what was tested, in words
    task: Task
    rows: int
    answers: Answers
    metrics: Mapping[str, float]
    verdicts: tuple[Verdict, ...]
    compared_with: str | None = None
    disagreements: tuple[Disagreement, ...] = ()
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed]

    def summary(self) -> str:
        """One line: passed or failed, and why."""
        n = f"{self.rows} rows"
        if self.passed:
            shown = [v.message for v in self.verdicts if v.threshold.metric != m.ERROR_RATE]
            return f"passed on {self.target}, {n}: " + ("; ".join(shown) or "every row answered")
        reasons = []
        for verdict in self.failures:
            if verdict.threshold.metric == m.ERROR_RATE and self.answers.errors:
                reasons.append(
                    f"{self.answers.error_count} of {self.rows} rows got no answer "
                    f"({self.answers.errors[0]})"
                )
            else:
                reasons.append(verdict.message)
        return f"failed on {self.target}, {n}: " + "; ".join(reasons)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "passed": self.passed,
            "summary": self.summary(),
            "task": self.task.value,
            "rows": self.rows,
            "answered": self.answers.count,
            "requests": self.answers.requests,
            "variants": dict(self.answers.variants),
            "errors": list(self.answers.errors),
            "metrics": {k: _finite(v) for k, v in self.metrics.items()},
            "thresholds": [
                {
                    "metric": v.threshold.metric,
                    "bound": v.threshold.bound.value,
                    "value": v.threshold.value,
                    "observed": _finite(v.observed),
                    "passed": v.passed,
                }
                for v in self.verdicts
            ],
            "compared_with": self.compared_with,
            "disagreements": [vars(d) for d in self.disagreements],
            "seconds": round(self.seconds, 3),
        }


def resolve_task(task: Task | None, rows: Sequence[Row]) -> Task | None:
    """The task given, else the one the expected answers imply (None: no expected answers,
    a comparison decides from the reference's answers)."""
    if task is not None:
        return task
    expected = [r.expected for r in rows if r.expected is not None]
    return m.infer_task(expected) if expected else None


def assess(
    rows: Sequence[Row],
    answers: Answers,
    thresholds: Sequence[Threshold],
    task: Task | None = None,
    reference: Answers | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> tuple[Task, dict[str, float], tuple[Verdict, ...], tuple[Disagreement, ...]]:
    """The task, metrics, verdicts (with `error_rate <= 0` unless overridden) and the first
    disagreements with `reference`."""
    resolved = resolve_task(task, rows)
    if resolved is None:
        answered = reference.values if reference is not None else answers.values
        resolved = m.infer_task([v for v in answered if v is not None])
    scored = [i for i, r in enumerate(rows) if answers.answered[i] and r.expected is not None]
    observed = m.compute(
        resolved, [rows[i].expected for i in scored], [answers.values[i] for i in scored]
    ) if any(r.expected is not None for r in rows) else {}  # fmt: skip
    observed[m.ERROR_RATE] = 1.0 - answers.count / len(rows) if rows else math.nan
    disagreements: tuple[Disagreement, ...] = ()
    if reference is not None:
        both = [i for i in range(len(rows)) if answers.answered[i] and reference.answered[i]]
        found = agreement(
            resolved,
            [answers.values[i] for i in both],
            [reference.values[i] for i in both],
            rtol,
            atol,
        )
        observed[m.AGREEMENT] = found.rate
        disagreements = tuple(
            Disagreement(both[k], answers.values[both[k]], reference.values[both[k]])
            for k in found.disagreeing
        )
    verdicts = tuple(evaluate(with_defaults(thresholds), observed))
    return resolved, observed, verdicts, disagreements


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
