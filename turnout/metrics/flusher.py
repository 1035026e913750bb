"""The flusher: every period, the router's counter windows become rollups in the store.

Every PERIOD, aligned to the wall clock, it takes each variant's window (`take_window`),
turns the non-empty ones into rollups and writes them, tagged with this process as their
source (several routers write side by side). A write that fails stays pending and goes with
the next one; at most `max_pending` periods wait, older ones are dropped with a warning, so
a store outage costs data, never memory. Counters of variants no longer routed are dropped
once they had nothing to count for `grace` seconds (requests in flight may still finish).

`rollups()` is the fresh view alarms and metric queries need: the store's rollups plus this
process's unwritten ones (taken but pending, and the windows still open), read under the
same lock as the writes so that nothing is counted twice or missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable

from turnout.domain.rollups import PERIOD, Rollup, VariantKey, Window, align
from turnout.metrics.source import CounterSource
from turnout.store import Store

log = logging.getLogger("turnout.metrics")

DEFAULT_RETENTION = 24 * 3600.0
MAX_PENDING = 30  # periods kept while the store refuses writes (5 minutes)
USAGE_FRESH = 3 * PERIOD  # s: an older sample is from an instance that stopped sampling
_LATE = 0.05  # s past the boundary to wake, so the clock has surely crossed it


def default_source() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Flusher:
    def __init__(
        self,
        router: CounterSource,
        store: Store,
        *,
        retention: float = DEFAULT_RETENTION,
        grace: float = 60.0,
        source: str | None = None,
        max_pending: int = MAX_PENDING,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._router = router
        self._store = store
        self.retention = retention
        self._grace = grace
        self.source = source or default_source()
        self._max_pending = max_pending
        self._clock = clock
        self._open_start = align(clock())  # the period the open windows belong to
        self._pending: list[list[Rollup]] = []  # taken, not yet written; oldest first
        self._idle_since: dict[VariantKey, float] = {}  # unrouted and empty since
        self._lock = asyncio.Lock()  # a write vs. a fresh read

    # --- taking -------------------------------------------------------------------------
    def take(self) -> list[Rollup]:
        """Take every open window (synchronous: nothing observes in between) as rollups.

        Also drops the counters of variants unrouted and idle for longer than the grace.
        """
        now = self._clock()
        start = self._open_start
        # Strictly later than the last start: a clock stepping back must not make a second
        # rollup with the same key and start (the store would replace the first).
        self._open_start = max(align(now), start + PERIOD)
        routed = self._router.routed_keys()
        batch = []
        for key, metrics in list(self._router.metrics.items()):
            window = metrics.take_window()
            cpu, memory = self._usage(key, now)
            if not window.empty or cpu is not None:  # an idle variant still uses CPU, memory
                rollup = Rollup(key, start, PERIOD, self._instances(key), window, cpu, memory)
                batch.append(rollup)
            if not window.empty:
                self._idle_since.pop(key, None)
            elif key not in routed:
                idle_since = self._idle_since.setdefault(key, now)
                if now - idle_since >= self._grace:
                    del self._router.metrics[key]
                    del self._idle_since[key]
        if batch:
            self._pending.append(batch)
        return batch

    def _instances(self, key: VariantKey) -> int:
        return len(self._router.instances(key))

    def _usage(self, key: VariantKey, now: float) -> tuple[float | None, float | None]:
        """The routed instances' mean CPU and memory utilization, from their recent samples."""
        samples = [
            instance.usage[-1]
            for instance in self._router.instances(key)
            if instance.usage and now - instance.usage[-1].at <= USAGE_FRESH
        ]
        if not samples:
            return None, None
        return (
            round(sum(s.cpu_percent for s in samples) / len(samples), 2),
            round(sum(s.memory_percent for s in samples) / len(samples), 3),
        )

    # --- writing ------------------------------------------------------------------------
    async def flush(self) -> None:
        """Take the open windows and write everything pending; keep it pending on failure."""
        self.take()
        async with self._lock:
            self._drop_oldest()
            if not self._pending:
                return
            batch = [rollup for pending in self._pending for rollup in pending]
            periods = len(self._pending)
            try:
                await asyncio.to_thread(self._store.add_rollups, batch, self.source)
            except Exception as exc:
                log.warning("metrics: writing rollups failed (%s); will retry", exc)
                return
            del self._pending[:periods]

    def _drop_oldest(self) -> None:
        while len(self._pending) > self._max_pending:
            dropped = self._pending.pop(0)
            log.warning(
                "metrics: dropped the rollups of the period from %s (%d variants): the "
                "store refused writes for %d periods",
                _utc(dropped[0].start),
                len(dropped),
                self._max_pending,
            )

    async def expire(self) -> None:
        """Delete rollups older than the retention."""
        cutoff = self._clock() - self.retention
        try:
            await asyncio.to_thread(self._store.delete_rollups_before, cutoff)
        except Exception as exc:
            log.warning("metrics: deleting old rollups failed (%s); will retry", exc)

    async def run(self) -> None:
        """Flush at every period boundary of the wall clock until cancelled."""
        while True:
            now = self._clock()
            await asyncio.sleep(align(now) + PERIOD - now + _LATE)
            await self.flush()
            await self.expire()

    async def close(self, timeout: float = 5.0) -> None:
        """The last flush (bounded: a store that hangs must not hold up shutdown)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout)

    # --- reading ------------------------------------------------------------------------
    def unwritten(self, endpoint: str) -> list[Rollup]:
        """This process's rollups of `endpoint` not in the store yet, the open ones included."""
        found = [r for batch in self._pending for r in batch if r.key.endpoint == endpoint]
        for key, metrics in self._router.metrics.items():
            if key.endpoint == endpoint and not metrics.window.empty:
                window = Window()
                window.merge(metrics.window)  # a copy: the router keeps counting
                found.append(Rollup(key, self._open_start, PERIOD, self._instances(key), window))
        return found

    async def rollups(self, endpoint: str, since: float) -> list[Rollup]:
        """Every rollup of `endpoint` from `since` on: the store's and this process's unwritten.

        Under the write lock, so a write cannot land between reading the store and reading
        what is pending (which would count it twice, or not at all).
        """
        async with self._lock:
            local = [r for r in self.unwritten(endpoint) if r.start >= since]
            stored = await asyncio.to_thread(self._store.list_rollups, endpoint, since)
        return stored + local


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
