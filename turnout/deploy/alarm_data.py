"""What an alarm looks at: its datapoints, fresh from rollups, and why its state is what it
is, in CloudWatch's words (pure).

The last datapoint is the period still open when it has data: a deployment baking for two
seconds must be able to trip an alarm without waiting for the period to end. Until the open
period has an invocation, the datapoints end with the last complete period instead, so a
period boundary alone never turns an alarm INSUFFICIENT_DATA (see docs/adr/0009).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from turnout.domain import drift
from turnout.domain.alarms import Alarm, AlarmState, Comparison, MissingData, breaches
from turnout.domain.rollups import Rollup, align, statistic
from turnout.metrics.series import Datapoint, by_period, select

_WORDS = {
    Comparison.GREATER: "greater than",
    Comparison.GREATER_OR_EQUAL: "greater than or equal to",
    Comparison.LESS: "less than",
    Comparison.LESS_OR_EQUAL: "less than or equal to",
}


def since(alarm: Alarm, now: float) -> float:
    """The earliest rollup start `datapoints` may need."""
    return align(now, alarm.period_s) - alarm.evaluation_periods * alarm.period_s


def datapoints(alarm: Alarm, rollups: Iterable[Rollup], now: float) -> list[Datapoint]:
    """The alarm's last `evaluation_periods` datapoints at `now`, oldest first."""
    period = alarm.period_s
    grouped = by_period(select(rollups, alarm.variant, alarm.config), period)
    last = align(now, period)
    if not any(r.window.invocations for r in grouped.get(last, ())):
        last -= period  # the open period has no data yet: end with the last complete one
    starts = [last - i * period for i in reversed(range(alarm.evaluation_periods))]
    return [
        Datapoint(start, statistic(alarm.metric, alarm.statistic, grouped.get(start, ())))
        for start in starts
    ]


def drift_datapoints(
    alarm: Alarm, points: Iterable[drift.DriftPoint], now: float
) -> list[Datapoint]:
    """A drift alarm's datapoints (ADR 0041): its feature's drift values per period, ending
    with the open period once it has a report (else the last complete one), like rollups."""
    assert alarm.feature is not None
    period = alarm.period_s
    grouped: dict[float, list[float]] = {}
    for p in drift.select(points, alarm.feature, alarm.variant):
        grouped.setdefault(align(p.at, period), []).append(p.value)
    last = align(now, period)
    if last not in grouped:
        last -= period
    starts = [last - i * period for i in reversed(range(alarm.evaluation_periods))]
    return [Datapoint(s, drift.statistic(alarm.statistic, grouped.get(s, []))) for s in starts]


def reason(alarm: Alarm, points: Sequence[Datapoint], state: AlarmState) -> str:
    """CloudWatch's StateReason for `state`, e.g. "Threshold Crossed: 1 datapoint
    [0.3 (25/11/26 10:00:00)] was greater than the threshold (0.05)."."""
    n = len(points)
    if state is AlarmState.INSUFFICIENT_DATA:
        return f"Insufficient Data: {_count(n)} {_was(n)} unknown."
    present = [(p.start, p.value) for p in reversed(points) if p.value is not None]  # newest 1st
    if not present:
        treated = "Breaching" if state is AlarmState.ALARM else "NonBreaching"
        return (
            f"Threshold Crossed: no datapoints were received for {n} "
            f"{'period' if n == 1 else 'periods'} and {_count(n)} {_was(n)} treated as "
            f"[{treated}]."
        )
    breaching = [(start, v) for start, v in present if breaches(alarm, v)]
    if state is AlarmState.ALARM:
        shown, negation = breaching, ""
    else:
        shown, negation = [p for p in present if p not in breaching], "not "
    listed = ", ".join(f"{_number(v)} ({_when(start)})" for start, v in shown)
    counted = f"{len(shown)} out of the last {_count(n)}" if n > 1 else _count(len(shown))
    text = (
        f"Threshold Crossed: {counted} [{listed}] {_was(len(shown))} {negation}"
        f"{_WORDS[alarm.comparison]} the threshold ({_number(alarm.threshold)})"
    )
    if alarm.treat_missing_data is MissingData.BREACHING and len(present) < n:
        text += f"; {n - len(present)} missing, treated as breaching"
    return text + "."


def _number(value: float) -> str:
    return f"{value:.6g}"


def _when(epoch: float) -> str:
    return time.strftime("%d/%m/%y %H:%M:%S", time.gmtime(epoch))


def _noun(n: int) -> str:
    return "datapoint" if n == 1 else "datapoints"


def _count(n: int) -> str:
    return f"{n} {_noun(n)}"


def _was(n: int) -> str:
    return "was" if n == 1 else "were"
