"""The comparison log: pairs from the router, tallied and stored every few seconds.

The mirror calls `pair` / `dropped` on the event loop: an append to a bounded buffer, no
I/O. A task hands the buffer to a thread every `interval` seconds, which compares the
answers (turnout.shadow.agreement, with the tolerance of the inference experiment running
on that shadow variant, if any) and writes one tally per shadow variant in one transaction.
A full buffer drops pairs and a failed write drops its tallies, both counted: a store
outage costs comparisons, never memory. Tallies older than the retention are deleted hourly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from turnout.routing.shadow import Pair
from turnout.shadow.agreement import Tolerance
from turnout.shadow.store import ShadowStore
from turnout.shadow.tally import Tally
from turnout.store.shadow import TallyRow

log = logging.getLogger("turnout.shadow")

MAX_PAIRS = 20_000  # pairs waiting for the next flush
MAX_BYTES = 128 * 1024 * 1024  # their bodies together
DEFAULT_RETENTION = 30 * 24 * 3600.0
_RETENTION_EVERY = 3600.0

Key = tuple[str, str, str, str]  # endpoint, config, production variant, shadow variant
Tolerances = Callable[[], Mapping[tuple[str, str], Tolerance]]  # by (endpoint, shadow)


class ComparisonLog:
    def __init__(
        self,
        store: ShadowStore,
        node: str,
        tolerances: Tolerances,
        *,
        interval: float = 2.0,
        retention: float = DEFAULT_RETENTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._node = node
        self._tolerances = tolerances
        self._interval = interval
        self._retention = retention
        self._clock = clock
        self._pairs: list[Pair] = []
        self._bytes = 0
        self._dropped: dict[Key, int] = {}
        self._period_start = clock()
        self.lost = 0  # pairs dropped on a full buffer or a failed write

    # -- on the event loop ----------------------------------------------------------------
    def pair(self, pair: Pair) -> None:
        size = len(pair.request) + len(pair.production.body) + len(pair.mirrored.body)
        if len(self._pairs) >= MAX_PAIRS or self._bytes + size > MAX_BYTES:
            self.lost += 1
            return
        self._pairs.append(pair)
        self._bytes += size

    def dropped(self, endpoint: str, config: str, variant: str, shadow: str) -> None:
        key = (endpoint, config, variant, shadow)
        self._dropped[key] = self._dropped.get(key, 0) + 1

    async def flush(self) -> None:
        pairs, dropped, start = self._pairs, self._dropped, self._period_start
        self._pairs, self._dropped, self._bytes = [], {}, 0
        self._period_start = self._clock()
        if not pairs and not dropped:
            return
        try:
            await asyncio.to_thread(self._write, pairs, dropped, start)
        except Exception as exc:
            self.lost += len(pairs)
            log.warning("shadow comparisons: %d pairs not stored (%s)", len(pairs), exc)

    async def run(self) -> None:
        next_retention = self._clock()
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()
            if self._clock() >= next_retention:
                next_retention = self._clock() + _RETENTION_EVERY
                with contextlib.suppress(Exception):
                    cutoff = self._clock() - self._retention
                    await asyncio.to_thread(self._store.delete_tallies_before, cutoff)

    async def close(self) -> None:
        await self.flush()

    # -- in a worker thread ---------------------------------------------------------------
    def _write(self, pairs: list[Pair], dropped: dict[Key, int], start: float) -> None:
        tolerances = self._tolerances() if pairs else {}
        tallies: dict[Key, Tally] = {}
        firsts: dict[Key, float] = {}  # a tally starts at its first pair: windows cut exactly
        for pair in pairs:
            key = (pair.endpoint, pair.config, pair.variant, pair.shadow)
            tolerance = tolerances.get((pair.endpoint, pair.shadow), Tolerance())
            tallies.setdefault(key, Tally()).add(pair, tolerance)
            firsts[key] = min(firsts.get(key, pair.at), pair.at)
        for key, count in dropped.items():
            tallies.setdefault(key, Tally()).dropped += count
        rows = [
            TallyRow(*key, firsts.get(key, start), tally.document())
            for key, tally in tallies.items()
        ]
        self._store.add_tallies(self._node, rows)
