"""The drift monitor: the controller node's loop that compares captured traffic with each
endpoint's baseline every `period` seconds (ADR 0041).

It runs where the controller lease holder runs (single writer). Each pass, in a thread (it
reads files and the store, and runs scipy): for every endpoint with a baseline, the capture
destinations of its fleets (blue, and green during a deployment), each variant's records of
the last `window` seconds, one drift report per variant with records, stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from turnout.drift import reader, records
from turnout.drift.baseline import from_document
from turnout.drift.drift import Report, report
from turnout.errors import NotFound
from turnout.store import Store
from turnout.store.drift import DriftStore

log = logging.getLogger("turnout.drift")


def report_document(r: Report) -> dict[str, Any]:
    """A report as JSON-ready data (how the store keeps it, and the API shows it)."""
    return {
        "rows": r.rows,
        "violations": r.violations,
        "predictions": r.predictions,
        "features": [
            {
                "name": f.name,
                "count": f.count,
                "distance": f.distance,
                "p_value": f.p_value,
                "psi": f.psi,
                "missing": f.missing,
                "type_errors": f.type_errors,
                "violations": list(f.violations),
            }
            for f in r.features
        ],
    }


class DriftMonitor:
    def __init__(
        self,
        store: Store,
        *,
        period: float,
        window: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._rows = DriftStore(store)
        self.period = period
        self.window = window if window is not None else period
        self._clock = clock

    async def run(self) -> None:
        """A pass every `period` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.period)
            try:
                await asyncio.to_thread(self.pass_once)
            except Exception:  # the loop must outlive a bad pass (e.g. a store hiccup)
                log.exception("drift monitoring pass failed; will retry")

    def pass_once(self) -> int:
        """Compute and store the reports of every monitored endpoint (blocking); how many."""
        stored = 0
        for endpoint, document in self._rows.baselines().items():
            try:
                stored += self._endpoint(endpoint, document)
            except NotFound:
                continue  # the endpoint is gone; its baseline waits for it to come back
        return stored

    def _endpoint(self, endpoint: str, document: dict[str, Any]) -> int:
        baseline = from_document(document)
        blue, green = self._store.endpoint_fleets(endpoint)
        destinations = set()
        for fleet in (blue, green):
            if fleet is not None:
                capture = self._store.data_capture_of(fleet.config.name)
                if capture is not None:
                    destinations.add(capture.destination)
        now = self._clock()
        stored = 0
        for destination in sorted(destinations):
            for variant in reader.variants(destination, endpoint):
                lines = reader.lines(destination, endpoint, variant, now - self.window, now)
                decoded = records.decode(lines)
                if not decoded.rows:
                    continue
                found = report(baseline, decoded.rows, decoded.predictions)
                self._rows.add_report(endpoint, variant, now, report_document(found))
                stored += 1
                if found.violations:
                    log.info(
                        "endpoint %s variant %s: drift in %s",
                        endpoint,
                        variant,
                        ", ".join(found.violations),
                    )
        return stored
