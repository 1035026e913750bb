"""Agreement between two variants' answers to the same rows. Pure.

Labels (classification) agree when they are the same class (`metrics.label_of`); numbers
(regression) when |a - b| <= atol + rtol * |b|, b being the reference's answer (numpy's
`isclose` rule). Rows either side left unanswered are not compared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from turnout.checks.metrics import label_of, number_of
from turnout.domain.checks import Json, Task
from turnout.shadow.agreement import Tolerance, close

RTOL = 1e-5
ATOL = 1e-8


@dataclass(frozen=True)
class Agreement:
    compared: int  # rows both sides answered
    agreed: int
    disagreeing: tuple[int, ...]  # indices (into the compared rows) of the first few

    @property
    def rate(self) -> float:
        return self.agreed / self.compared if self.compared else math.nan


def agree(task: Task, a: Json, b: Json, rtol: float = RTOL, atol: float = ATOL) -> bool:
    if task is Task.CLASSIFICATION:
        return label_of(a) == label_of(b)
    x, y = number_of(a), number_of(b)
    if x is None or y is None:
        return label_of(a) == label_of(b)
    return close(y, x, Tolerance(rtol, atol))


def agreement(
    task: Task,
    answers: Sequence[Json],
    reference: Sequence[Json],
    rtol: float = RTOL,
    atol: float = ATOL,
    examples: int = 5,
) -> Agreement:
    """How often `answers` agree with `reference` (the same rows, both answered)."""
    agreed = 0
    disagreeing: list[int] = []
    for index, (a, b) in enumerate(zip(answers, reference, strict=True)):
        if agree(task, a, b, rtol, atol):
            agreed += 1
        elif len(disagreeing) < examples:
            disagreeing.append(index)
    return Agreement(len(answers), agreed, tuple(disagreeing))
