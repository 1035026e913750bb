"""Exposures: which variant served which user (first time) and which inference id.

The router calls `offer` on the event loop after answering: an append to a bounded list,
no I/O. A task flushes the list to the store every `interval` seconds in one transaction
(insert-if-absent, so the store keeps each user's first exposure). When the list is full,
offers are dropped and counted; a failed write is dropped and counted too, so a store
outage costs exposures, never memory. Users already written are remembered (bounded) so
a user's thousandth request costs no store write. Retention runs once an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from turnout.experiments.store import ExperimentStore
from turnout.routing.table import VariantRoute
from turnout.store.experiments import ExposureRow

log = logging.getLogger("turnout.experiments")

MAX_BUFFER = 100_000  # exposures waiting for the next flush
MAX_KNOWN = 500_000  # (endpoint, user) pairs remembered as written; forgotten all at once
DEFAULT_RETENTION = 90 * 24 * 3600.0
_RETENTION_EVERY = 3600.0


class ExposureLog:
    def __init__(
        self,
        store: ExperimentStore,
        *,
        interval: float = 1.0,
        retention: float = DEFAULT_RETENTION,
        max_buffer: int = MAX_BUFFER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._interval = interval
        self._retention = retention
        self._max_buffer = max_buffer
        self._clock = clock
        self._buffer: list[ExposureRow] = []
        self._known: set[tuple[str, str]] = set()
        self.dropped = 0
        self.written = 0

    def offer(
        self,
        endpoint: str,
        user: str | None,
        variant: VariantRoute,
        inference_id: bytes | None,
        randomized: bool,
    ) -> None:
        if inference_id is None and user is not None and (endpoint, user) in self._known:
            return
        if len(self._buffer) >= self._max_buffer:
            self.dropped += 1
            return
        self._buffer.append(
            ExposureRow(
                endpoint,
                user,
                variant.name,
                variant.config,
                inference_id.decode("latin-1") if inference_id is not None else None,
                randomized,
                self._clock(),
            )
        )
        if user is not None:
            if len(self._known) >= MAX_KNOWN:
                self._known.clear()
            self._known.add((endpoint, user))

    async def flush(self) -> None:
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        try:
            await asyncio.to_thread(self._store.add_exposures, batch)
            self.written += len(batch)
        except Exception:
            self.dropped += len(batch)
            for e in batch:  # so that their next request offers them again
                if e.user is not None:
                    self._known.discard((e.endpoint, e.user))
            log.exception("writing %d exposures failed; dropped", len(batch))

    async def run(self) -> None:
        next_retention = 0.0
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()
            now = self._clock()
            if now >= next_retention:
                next_retention = now + _RETENTION_EVERY
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._store.delete_before, now - self._retention)

    async def close(self) -> None:
        """Write what is pending (at shutdown)."""
        await self.flush()
