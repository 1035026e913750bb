"""The controller lease: exactly one node at a time runs the controller's work.

Each node tries to take the lease in the store (compare-and-set on its expiry); the holder
renews it every third of its time and runs `lead` (the controller, the alarm evaluator, the
auto-promoter) while it holds it. When the holder dies its lease lapses and the next node
to try takes over, at most `ttl` plus one try later. A holder that cannot renew (the store
is unreachable) stops leading before its lease can lapse, so two nodes never lead at once
(given clocks that agree to well under the lease time). A graceful stop releases the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from turnout.store.cluster import CONTROLLER, ClusterStore

log = logging.getLogger("turnout.lease")

MAX_TRY_EVERY = 1.0  # s: how often a node without the lease tries at most


class Leadership:
    def __init__(
        self,
        cluster: ClusterStore,
        holder: str,
        ttl: float,
        lead: Callable[[], Coroutine[Any, Any, None]],
        *,
        sole: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cluster = cluster
        # The only node there can be (SQLite): it leads at once, taking the lease over from
        # the process it replaces instead of waiting for that one's lease to lapse.
        self._sole = sole
        self.holder = holder
        self.ttl = ttl
        self._lead = lead
        self._clock = clock
        self._renew_every = ttl / 3
        self._try_every = min(ttl / 5, MAX_TRY_EVERY)
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(self) -> None:
        renewed = -float("inf")  # monotonic time of the last successful take or renewal
        try:
            while True:
                try:
                    if await asyncio.to_thread(
                        functools.partial(
                            self._cluster.acquire,
                            CONTROLLER, self.holder, self._clock(), self.ttl, force=self._sole,
                        )
                    ):  # fmt: skip
                        renewed = time.monotonic()
                except Exception as exc:  # the store is down: keep leading only while safe
                    log.warning("controller lease: the store refused (%s)", exc)
                # Stop leading a renewal before the lease could lapse in the store.
                holding = time.monotonic() - renewed < self.ttl - self._renew_every
                if holding and not self.leading:
                    log.info("node %s is the controller now", self.holder)
                    self._task = asyncio.create_task(self._lead(), name="controller")
                elif not holding and self.leading:
                    log.warning("node %s lost the controller lease; stopping", self.holder)
                    await self._stop_leading()
                await asyncio.sleep(self._renew_every if holding else self._try_every)
        finally:
            was_leading = self.leading
            await self._stop_leading()
            if was_leading:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._cluster.release, CONTROLLER, self.holder)

    async def _stop_leading(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
