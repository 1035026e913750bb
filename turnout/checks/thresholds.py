"""Thresholds on a prediction test's metrics: `accuracy=0.9` given to --min, `mae=0.5` to
--max. Parsing and evaluation are pure.

Unless a threshold names `error_rate`, a test also requires every row answered
(`error_rate <= 0`): a model that fails on some inputs fails the test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from turnout.checks import metrics as m
from turnout.domain.checks import Bound, Task, Threshold

ALL_ANSWERED = Threshold(m.ERROR_RATE, Bound.MAX, 0.0)


class ThresholdError(ValueError):
    """A threshold cannot be used; str says what to write instead."""


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    observed: float  # NaN: the metric could not be computed (no answered row)
    passed: bool

    @property
    def message(self) -> str:
        t = self.threshold
        if math.isnan(self.observed):
            return f"{t.metric} could not be computed (no row answered), wanted {t}"
        if self.passed:
            return f"{t.metric} = {self.observed:.4g} (wanted {t})"
        return f"{t.metric} = {self.observed:.4g}, wanted {t}"


def parse(text: str, bound: Bound) -> Threshold:
    """`accuracy=0.9` → Threshold("accuracy", bound, 0.9)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    option = f"--{bound.value}"
    if not sep or not name:
        raise ThresholdError(f"{text!r}: write {option} METRIC=VALUE, e.g. {option} accuracy=0.9")
    try:
        number = float(value)
    except ValueError:
        raise ThresholdError(f"{text!r}: {value.strip()!r} is not a number") from None
    if not math.isfinite(number):
        raise ThresholdError(f"{text!r}: the value must be a finite number")
    return Threshold(name, bound, number)


def check_names(thresholds: Sequence[Threshold], task: Task, comparing: bool) -> None:
    """ThresholdError naming the first metric the test will not compute."""
    known = (*m.METRICS[task], m.ERROR_RATE, *((m.AGREEMENT,) if comparing else ()))
    for t in thresholds:
        if t.metric in known:
            continue
        if t.metric.startswith(m.RECALL_PREFIX) and task is Task.CLASSIFICATION:
            continue
        if t.metric == m.AGREEMENT:
            raise ThresholdError("agreement needs another variant's answers: add --compare")
        other = next((k for k, names in m.METRICS.items() if t.metric in names), None)
        if other is not None:
            raise ThresholdError(
                f"{t.metric} is a {other.value} metric but this test is a {task.value} one "
                f"(pass --task {other.value} if that is wrong); use {', '.join(known)}"
            )
        more = f", {m.RECALL_PREFIX}CLASS" if task is Task.CLASSIFICATION else ""
        raise ThresholdError(f"unknown metric {t.metric!r}; use {', '.join(known)}{more}")


def with_defaults(thresholds: Sequence[Threshold]) -> tuple[Threshold, ...]:
    """The thresholds plus `error_rate <= 0` unless one names error_rate already."""
    if any(t.metric == m.ERROR_RATE for t in thresholds):
        return tuple(thresholds)
    return (*thresholds, ALL_ANSWERED)


def evaluate(thresholds: Sequence[Threshold], observed: Mapping[str, float]) -> list[Verdict]:
    """One verdict per threshold; a metric not computed (e.g. recall of a class the data
    lacks) or NaN fails."""
    verdicts = []
    for t in thresholds:
        value = observed.get(t.metric, math.nan)
        if math.isnan(value):
            passed = False
        elif t.bound is Bound.MIN:
            passed = value >= t.value
        else:
            passed = value <= t.value
        verdicts.append(Verdict(t, value, passed))
    return verdicts
