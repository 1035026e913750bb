"""The service layer of drift monitoring, whichever facade asks (blocking: facades call it
from worker threads): baselines from training CSVs, and the drift reports stored."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from typing import Any

from turnout.domain.drift import DriftPoint, points_of
from turnout.drift.baseline import compute, constraints, from_document, statistics, to_document
from turnout.errors import InvalidRequest, NotFound
from turnout.store import Store
from turnout.store.drift import DriftStore

MAX_REPORTS = 500  # per query


def parse_csv(data: bytes) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a UTF-8 CSV; InvalidRequest saying what is wrong otherwise."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("The training data is not UTF-8 text (CSV with a header).") from None
    try:
        table = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as exc:
        raise InvalidRequest(f"The training data is not valid CSV: {exc}.") from None
    if not table:
        raise InvalidRequest("The training data is empty: send a CSV with a header row.")
    return [h.strip() for h in table[0]], table[1:]


class DriftService:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._rows = DriftStore(store)
        self._clock = clock

    def put_baseline(self, endpoint: str, data: bytes) -> dict[str, Any]:
        """Compute and store the endpoint's baseline from a training CSV; its summary."""
        self._store.get_endpoint(endpoint)  # NotFound for a mistyped name
        header, rows = parse_csv(data)
        baseline = compute(header, rows)
        self._rows.put_baseline(endpoint, to_document(baseline), self._clock())
        return self.baseline(endpoint)

    def baseline(self, endpoint: str) -> dict[str, Any]:
        """Model Monitor's statistics.json and constraints.json of the endpoint's baseline."""
        document = self._rows.baseline(endpoint)
        if document is None:
            raise NotFound("drift baseline of endpoint", endpoint)
        baseline = from_document(document)
        return {
            "endpoint": endpoint,
            "statistics": statistics(baseline),
            "constraints": constraints(baseline),
        }

    def delete_baseline(self, endpoint: str) -> None:
        if not self._rows.delete_baseline(endpoint):
            raise NotFound("drift baseline of endpoint", endpoint)

    def reports(self, endpoint: str, since: float = 0.0, limit: int = 50) -> list[dict[str, Any]]:
        """The endpoint's drift reports since `since`, newest first (at most `limit`)."""
        if not 1 <= limit <= MAX_REPORTS:
            raise InvalidRequest(f"limit must be from 1 to {MAX_REPORTS}.")
        found = self._rows.reports(endpoint, since)[::-1][:limit]
        return [{"variant": r.variant, "computed_at": r.computed_at, **r.document} for r in found]

    def latest(self, endpoint: str) -> dict[str, dict[str, Any]]:
        """The newest report of each variant of the endpoint, by variant."""
        return {
            r.variant: {"variant": r.variant, "computed_at": r.computed_at, **r.document}
            for r in self._rows.latest(endpoint)
        }

    def monitored(self) -> list[str]:
        """The endpoints with a baseline."""
        return sorted(self._rows.baselines())

    def latest_points(self) -> list[tuple[str, DriftPoint]]:
        """(endpoint, point) of each monitored endpoint's newest report per variant."""
        return [
            (endpoint, p)
            for endpoint in self.monitored()
            for variant, r in self.latest(endpoint).items()
            for p in points_of(r["computed_at"], variant, r)
        ]
