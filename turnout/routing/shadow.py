"""Shadow mirroring: a copy of a sampled request goes to a shadow variant after the answer.

The dispatcher offers a copy once the production answer went out (ADR 0021). Each shadow
variant has its own lane: a bounded queue (by count and by bytes) drained by at most a few
tasks, so a slow or failing shadow only ever fills its own lane; a full lane drops the copy
and counts it. The shadow's answer feeds its own metrics and data capture, and the pair
(production answer, shadow answer) goes to the comparison sink; it never reaches a caller.
Everything here runs on the event loop and never waits for a store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from random import random
from typing import Protocol

from turnout.domain.rollups import VariantKey
from turnout.routing.invocation import Invocation, offer_capture
from turnout.routing.table import VariantRoute
from turnout.routing.upstream import UpstreamResponse, request_head

log = logging.getLogger("turnout.routing")

MAX_LANE_COPIES = 512  # copies waiting per shadow variant
MAX_LANE_BYTES = 64 * 1024 * 1024  # their request bodies together
MAX_SENDERS = 8  # copies in flight per shadow variant


@dataclass(frozen=True, slots=True)
class Answer:
    """One side of a pair: the HTTP status (or the 5xx turnout stood in with), the body,
    the model's latency in µs (None: the model never answered)."""

    status: int
    body: bytes
    content_type: bytes | None
    model_us: float | None


@dataclass(frozen=True, slots=True)
class Pair:
    """A request answered by a production variant and by one of its shadow variants."""

    endpoint: str
    config: str
    variant: str  # the production variant
    shadow: str
    request: bytes
    production: Answer
    mirrored: Answer
    at: float  # when the production answer went out (epoch seconds)


class PairSink(Protocol):
    """Takes the pairs and dropped copies on the event loop without waiting."""

    def pair(self, pair: Pair) -> None: ...

    def dropped(self, endpoint: str, config: str, variant: str, shadow: str) -> None: ...


# Sends a request to one of the shadow route's instances: the dispatcher's forwarding
# (instance choice, bounded waits, timeout); raises DispatchError without an answer.
Forward = Callable[[str, VariantRoute, bytes, bytes], Awaitable[tuple[UpstreamResponse, float]]]


@dataclass(slots=True)
class _Copy:
    invocation: Invocation
    source: VariantRoute
    shadow: VariantRoute
    path: bytes  # on the shadow's instances
    production: Answer
    at: float


class _Lane:
    __slots__ = ("bytes", "copies", "senders")

    def __init__(self) -> None:
        self.copies: deque[_Copy] = deque()
        self.bytes = 0
        self.senders = 0


class Mirror:
    def __init__(
        self,
        forward: Forward,
        failure: Callable[[BaseException], tuple[int, bytes, float | None] | None],
        sink: PairSink | None = None,
        *,
        max_copies: int = MAX_LANE_COPIES,
        max_bytes: int = MAX_LANE_BYTES,
        senders: int = MAX_SENDERS,
    ) -> None:
        self._forward = forward
        self._failure = failure  # a forwarding error → (status, body, model_us), else None
        self.sink = sink
        self._max_copies = max_copies
        self._max_bytes = max_bytes
        self._senders = senders
        self._lanes: dict[VariantKey, _Lane] = {}  # by shadow variant
        self._tasks: set[asyncio.Task[None]] = set()
        self.dropped = 0

    def offer(self, invocation: Invocation, source: VariantRoute, production: Answer) -> None:
        """Mirror a request `source` answered to each of its shadows, as sampled."""
        endpoint, body, path = invocation.endpoint, invocation.body, invocation.path
        at = time.time()
        for shadow in source.shadows:
            sampling = shadow.sampling or 0.0
            if sampling < 1.0 and random() >= sampling:
                continue
            lane = self._lanes.get(shadow.metrics.key)
            if lane is None:
                lane = self._lanes[shadow.metrics.key] = _Lane()
            if len(lane.copies) >= self._max_copies or lane.bytes + len(body) > self._max_bytes:
                self.dropped += 1
                shadow.metrics.shadow_dropped += 1
                if self.sink is not None:
                    self.sink.dropped(endpoint, shadow.config, source.name, shadow.name)
                continue
            shadow_path = path if isinstance(path, bytes) else path(shadow.name)
            lane.copies.append(_Copy(invocation, source, shadow, shadow_path, production, at))
            lane.bytes += len(body)
            if lane.senders < self._senders:
                lane.senders += 1
                task = asyncio.get_running_loop().create_task(self._drain(lane))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _drain(self, lane: _Lane) -> None:
        try:
            while lane.copies:
                copy = lane.copies.popleft()
                lane.bytes -= len(copy.invocation.body)
                await self._send(copy)
        finally:
            lane.senders -= 1

    async def _send(self, copy: _Copy) -> None:
        shadow, invocation = copy.shadow, copy.invocation
        head = request_head(len(invocation.body), invocation.relayed, copy.path)
        started = time.perf_counter()
        try:
            response, model_us = await self._forward(
                invocation.endpoint, shadow, head, invocation.body
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failed = self._failure(exc)
            if failed is None:
                log.exception("mirroring to shadow variant %s failed", shadow.name)
                return
            status, body, model_us_or_none = failed
            overhead = (time.perf_counter() - started) * 1e6 - (model_us_or_none or 0.0)
            shadow.metrics.observe(status, status >= 500, model_us_or_none, max(overhead, 0.0))
            answer = Answer(status, body, None, model_us_or_none)
        else:
            overhead = (time.perf_counter() - started) * 1e6 - model_us
            shadow.metrics.observe(response.status, False, model_us, max(overhead, 0.0))
            content_type = response.header(b"content-type")
            answer = Answer(response.status, response.body, content_type, model_us)
            capture = shadow.capture
            if capture is not None and random() < capture.fraction:
                offer_capture(capture, invocation, response)
        if self.sink is not None:
            self.sink.pair(
                Pair(
                    invocation.endpoint,
                    shadow.config,
                    copy.source.name,
                    shadow.name,
                    invocation.body,
                    copy.production,
                    answer,
                    copy.at,
                )
            )

    async def close(self) -> None:
        """Stop mirroring: copies waiting are dropped, copies in flight cancelled."""
        for lane in self._lanes.values():
            lane.copies.clear()
            lane.bytes = 0
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
