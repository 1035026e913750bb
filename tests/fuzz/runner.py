"""Running a fuzzer: hypothesis draws the cases, a probe judges each one, and every finding
is collected (the run does not stop at the first, so one run reports all it saw).

Bounds: `TURNOUT_FUZZ_EXAMPLES` cases per strategy (CI: the default below; bench: thousands).
Reproducible: cases are derandomized (the same in every run) unless `TURNOUT_FUZZ_SEED`
asks for another sequence.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

T = TypeVar("T")

CI_EXAMPLES = 12
MAX_FINDINGS = 20  # kept per run: enough to see the pattern, bounded on a broken server


def examples(default: int = CI_EXAMPLES) -> int:
    return int(os.environ.get("TURNOUT_FUZZ_EXAMPLES", default))


@dataclass
class Report:
    cases: int = 0
    findings: list[tuple[str, str]] = field(default_factory=list)  # (case, what is wrong)

    def add(self, case: object, problem: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append((str(case), problem))

    def __str__(self) -> str:
        lines = [f"{len(self.findings)} finding(s) in {self.cases} cases:"]
        lines += [f"- {problem}\n  for {case[:600]}" for case, problem in self.findings]
        return "\n".join(lines)


def fuzz(
    strategy: st.SearchStrategy[T],
    probe: Callable[[T], str | None],
    report: Report,
    count: int | None = None,
) -> Report:
    """Draw `count` cases of `strategy` (TURNOUT_FUZZ_EXAMPLES by default), probe each."""
    chosen = os.environ.get("TURNOUT_FUZZ_SEED")

    @settings(
        max_examples=count if count is not None else examples(),
        derandomize=chosen is None,
        database=None,  # no state between runs: CI sees exactly what a developer sees
        deadline=None,  # a busy 2-core machine; time is bounded by the count
        phases=(Phase.explicit, Phase.generate),  # findings are collected, never shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case: Any) -> None:
        report.cases += 1
        problem = probe(case)
        if problem is not None:
            report.add(case, problem)

    if chosen is not None:
        run = seed(int(chosen))(run)
    run()
    return report
