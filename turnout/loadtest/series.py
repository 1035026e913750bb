"""Per-second time series of a load test: what was sent, answered, failed, and how fast.

Second `i` holds the requests *answered* (or failed) in [i, i+1) seconds from the start,
and `sent` the requests whose intended send time fell in it. Latencies (of successful
answers) go into a log-bucket histogram per second (turnout/domain/histogram.py: O(1) to
record, ~4% quantile error), merged for the whole run or a segment of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from turnout.domain.histogram import LatencyHistogram

OK = "2xx"
TRANSPORT = "transport"  # no HTTP answer: connection refused, reset, closed
TIMEOUT = "timeout"  # no answer within the request timeout
QUANTILES = (0.5, 0.9, 0.99)


@dataclass
class Second:
    sent: int = 0
    answered: int = 0  # 2xx
    errors: Counter[str] = field(default_factory=Counter)  # by status code or kind
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)  # µs, 2xx only

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


class Series:
    """Seconds of one run, grown as requests complete; owned by the generator's loop."""

    def __init__(self) -> None:
        self.seconds: list[Second] = []

    def _at(self, index: int) -> Second:
        seconds = self.seconds
        while len(seconds) <= index:
            seconds.append(Second())
        return seconds[index]

    def sent(self, at: float) -> None:
        self._at(max(int(at), 0)).sent += 1

    def answered(self, at: float, latency_s: float) -> None:
        second = self._at(max(int(at), 0))
        second.answered += 1
        second.latency.record(latency_s * 1e6)

    def failed(self, at: float, kind: str) -> None:
        self._at(max(int(at), 0)).errors[kind] += 1


@dataclass(frozen=True)
class Summary:
    """Counts and latency over some seconds (a run, a segment)."""

    seconds: float
    sent: int
    answered: int
    errors: dict[str, int]
    mean_ms: float | None
    max_ms: float | None
    percentiles_ms: dict[str, float | None]  # "p50", "p90", "p99"

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def throughput(self) -> float:
        """Answered requests per second."""
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_rate(self) -> float:
        done = self.answered + self.failed
        return self.failed / done if done else 0.0

    def p(self, name: str) -> float | None:
        return self.percentiles_ms.get(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "sent": self.sent,
            "answered": self.answered,
            "failed": self.failed,
            "errors": dict(self.errors),
            "throughput_rps": round(self.throughput, 2),
            "error_rate": round(self.error_rate, 6),
            "mean_ms": _round(self.mean_ms),
            "max_ms": _round(self.max_ms),
            **{k: _round(v) for k, v in self.percentiles_ms.items()},
        }


def summarize(seconds: Iterable[Second], duration: float) -> Summary:
    histogram = LatencyHistogram()
    errors: Counter[str] = Counter()
    sent = answered = 0
    for second in seconds:
        histogram.merge(second.latency)
        errors.update(second.errors)
        sent += second.sent
        answered += second.answered
    return Summary(
        seconds=duration,
        sent=sent,
        answered=answered,
        errors=dict(errors),
        mean_ms=_ms(histogram.mean),
        max_ms=_ms(histogram.maximum) if histogram.count else None,
        percentiles_ms={f"p{round(q * 100):d}": _ms(histogram.quantile(q)) for q in QUANTILES},
    )


def second_row(index: int, second: Second) -> dict[str, Any]:
    """One second as the report's JSON time series holds it."""
    latency = second.latency
    return {
        "t": index,
        "sent": second.sent,
        "answered": second.answered,
        "failed": second.failed,
        "errors": dict(second.errors),
        **{f"p{round(q * 100):d}_ms": _round(_ms(latency.quantile(q))) for q in QUANTILES},
        "max_ms": _round(_ms(latency.maximum)) if latency.count else None,
    }


def _ms(micros: float | None) -> float | None:
    return None if micros is None else micros / 1000.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
