"""A tally of (production, shadow) answer pairs for one shadow variant. Pure.

Routers tally the pairs they mirrored over a flush period and store the tally as a JSON
document; a report merges the documents of a time window (turnout.shadow.report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from turnout.domain.histogram import LatencyHistogram
from turnout.routing.shadow import Answer, Pair
from turnout.shadow.agreement import Tolerance, agree

MAX_EXAMPLES = 5  # disagreeing examples kept per tally (and per report)
EXAMPLE_BYTES = 1024  # of each body in an example


def _ok(answer: Answer) -> bool:
    return 200 <= answer.status < 300


@dataclass
class Tally:
    pairs: int = 0
    compared: int = 0  # both sides answered 2xx
    agreed: int = 0
    production_errors: int = 0
    shadow_errors: int = 0
    dropped: int = 0  # copies never sent: the shadow's lane was full
    production_latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    shadow_latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, pair: Pair, tolerance: Tolerance) -> None:
        self.pairs += 1
        production, shadow = pair.production, pair.mirrored
        if production.model_us is not None:
            self.production_latency.record(production.model_us)
        if shadow.model_us is not None:
            self.shadow_latency.record(shadow.model_us)
        if not _ok(production):
            self.production_errors += 1
        if not _ok(shadow):
            self.shadow_errors += 1
        agreed = False
        if _ok(production) and _ok(shadow):
            self.compared += 1
            agreed = agree(production.body, shadow.body, tolerance)
            self.agreed += agreed
        if not agreed and len(self.examples) < MAX_EXAMPLES:
            self.examples.append(
                {
                    "at": pair.at,
                    "request": _text(pair.request),
                    "production": {"status": production.status, "body": _text(production.body)},
                    "shadow": {"status": shadow.status, "body": _text(shadow.body)},
                }
            )

    def merge(self, other: Tally) -> None:
        self.pairs += other.pairs
        self.compared += other.compared
        self.agreed += other.agreed
        self.production_errors += other.production_errors
        self.shadow_errors += other.shadow_errors
        self.dropped += other.dropped
        self.production_latency.merge(other.production_latency)
        self.shadow_latency.merge(other.shadow_latency)
        room = MAX_EXAMPLES * 2 - len(self.examples)
        if room > 0:
            self.examples += other.examples[:room]

    def document(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "compared": self.compared,
            "agreed": self.agreed,
            "production_errors": self.production_errors,
            "shadow_errors": self.shadow_errors,
            "dropped": self.dropped,
            "production_latency": _histogram_document(self.production_latency),
            "shadow_latency": _histogram_document(self.shadow_latency),
            "examples": self.examples,
        }

    @classmethod
    def of_document(cls, doc: dict[str, Any]) -> Tally:
        return cls(
            int(doc.get("pairs", 0)),
            int(doc.get("compared", 0)),
            int(doc.get("agreed", 0)),
            int(doc.get("production_errors", 0)),
            int(doc.get("shadow_errors", 0)),
            int(doc.get("dropped", 0)),
            _histogram(doc.get("production_latency")),
            _histogram(doc.get("shadow_latency")),
            list(doc.get("examples", [])),
        )


def _histogram_document(histogram: LatencyHistogram) -> dict[str, Any]:
    return {
        "buckets": histogram.sparse(),
        "total": histogram.total,
        "maximum": histogram.maximum,
    }


def _histogram(doc: dict[str, Any] | None) -> LatencyHistogram:
    if not doc:
        return LatencyHistogram()
    return LatencyHistogram.from_parts(doc["buckets"], doc["total"], doc["maximum"])


def _text(body: bytes) -> str:
    return body[:EXAMPLE_BYTES].decode("utf-8", "replace")
