"""The plain-language verdict on an experiment report (ADR 0011).

Checks run in order of how much they invalidate the rest: a sample-ratio mismatch first
(the numbers cannot be trusted), then guardrails (a harm outweighs any win), then the
minimum sample, then the primary metric. A fixed-horizon or Bayesian experiment decides
once, at its planned sample (the minimum sample), and keeps that read afterwards (ADR 0024).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from turnout.experiments.analysis import Comparison, Report
from turnout.experiments.definition import Method


class Verdict(StrEnum):
    KEEP_RUNNING = "keep_running"
    WINNER = "winner"
    CONTROL_WINS = "control_wins"
    NO_DIFFERENCE = "no_difference"
    STOP_SRM = "stop_srm"
    STOP_GUARDRAIL = "stop_guardrail"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    message: str
    variant: str | None = None  # the winner, or the variant that broke a guardrail


def decide(report: Report) -> Decision:
    experiment = report.experiment
    if report.sample_ratio_mismatch:
        split = ", ".join(f"{v} {n:,}" for v, n in report.users.items())
        return Decision(
            Verdict.STOP_SRM,
            f"stop: SRM — users split {split}, p = {report.sample_ratio_p:.2g} against the"
            " expected shares; fix the assignment before reading any result",
        )
    harmed = [c for c in report.guardrails if c.significant and not c.better]
    if harmed:
        worst = min(harmed, key=lambda c: c.chance_to_beat)
        return Decision(
            Verdict.STOP_GUARDRAIL,
            f"guardrail {worst.metric.name} worse in {worst.variant}: {_lift(worst)}",
            worst.variant,
        )
    short = report.short_of_minimum
    read = report.planned_read
    if short and read is None:
        need = experiment.minimum_sample
        behind = ", ".join(f"{v} has {n:,}" for v, n in short.items())
        why = (
            ""
            if experiment.method is Method.SEQUENTIAL
            else f" ({experiment.method.value} decides once, at this planned sample)"
        )
        return Decision(
            Verdict.KEEP_RUNNING,
            f"keep running: {need:,} users per variant needed{why}, {behind}",
        )
    metric = experiment.primary.name
    winners = [c for c in report.primary if c.significant and c.better]
    if winners:
        best = max(winners, key=lambda c: c.chance_to_beat)
        return Decision(
            Verdict.WINNER,
            f"{best.variant} wins on {metric}: {_lift(best)}{_at(report)}",
            best.variant,
        )
    if report.primary and all(c.significant and not c.better for c in report.primary):
        losers = "; ".join(f"{c.variant} {_lift(c)}" for c in report.primary)
        return Decision(
            Verdict.CONTROL_WINS,
            f"{experiment.control} (control) wins on {metric}: {losers}{_at(report)}",
            experiment.control,
        )
    if experiment.method is not Method.SEQUENTIAL:
        # A fixed-horizon or Bayesian read is taken once, at the planned sample.
        return Decision(
            Verdict.NO_DIFFERENCE,
            f"stop: no significant difference on {metric} at the planned sample{_at(report)}",
        )
    return Decision(
        Verdict.KEEP_RUNNING, f"keep running: no significant difference on {metric} yet"
    )


def _at(report: Report) -> str:
    """Where a one-read method read the primary metric; empty for the sequential test."""
    read = report.planned_read
    if read is None or report.experiment.method is Method.SEQUENTIAL:
        return ""
    users = ", ".join(f"{v} {n:,}" for v, n in read.users.items())
    return f" (read once at the planned sample: {users} users)"


def _lift(c: Comparison) -> str:
    a = c.absolute
    text = f"{a.value:+.4g} (CI {a.low:+.4g} to {a.high:+.4g})"
    if c.relative is not None:
        r = c.relative
        text += f", {r.value:+.1%} (CI {r.low:+.1%} to {r.high:+.1%})"
    return text
