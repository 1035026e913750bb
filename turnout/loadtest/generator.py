"""The load generator: asyncio, keep-alive HTTP/1.1 over turnout's own upstream pool.

httpx costs several times more per request than the router it would load, so requests go
through `turnout.routing.upstream.ConnectionPool` (asyncio protocols, httptools parsing,
pre-built heads): bench/loadgen.py measures this generator's own ceiling against the bare
app. It runs on uvloop when installed.

- Concurrency (closed loop): `level` workers each send their next request when the last is
  answered; the level follows the shape, so workers above it wait.
- Rate (open loop): requests are due at the shape's send times whatever the answers do; a
  request waits for a free connection (at most `max_connections` in flight) if none is
  idle, and its latency counts from its *intended* send time, so a server that falls behind
  shows it in its latency instead of slowing the load down (no coordinated omission).

Every request started is accounted for once the run ends: answered (2xx) or failed (by
status, `timeout` or `transport`; requests still waiting for a connection when the drain
time runs out count as `cancelled`). So sent = answered + failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from turnout.instances.backend import Address
from turnout.loadtest.requests import RequestHeads
from turnout.loadtest.series import TIMEOUT, TRANSPORT, Series
from turnout.loadtest.shape import Mode, Shape
from turnout.routing.upstream import ConnectionPool, UpstreamError, UpstreamTimeout

CANCELLED = "cancelled"
MAX_SAMPLES = 5
PROGRESS_EVERY = 0.5  # seconds between progress callbacks
IDLE_TIMEOUT = 4.0  # below uvicorn's default keep-alive (5 s); turnout's router keeps 30 s
VARIANT_HEADER = b"x-amzn-invoked-production-variant"
ERROR_TYPE_HEADER = b"x-amzn-errortype"


@dataclass(frozen=True)
class Progress:
    elapsed: float
    seconds: float  # the shape's length
    level: float
    sent: int
    answered: int
    failed: int
    in_flight: int
    last_p99_ms: float | None  # of the last whole second


@dataclass
class Outcome:
    """What a run measured, besides the instances (see sampler.py)."""

    series: Series
    started_at: float  # wall clock
    seconds: float  # from the first send to the last answer
    stopped_early: str | None  # why the run ended before the shape did (count, Ctrl-C)
    variants: Counter[str] = field(default_factory=Counter)
    error_types: Counter[str] = field(default_factory=Counter)  # x-amzn-ErrorType of failures
    samples: list[str] = field(default_factory=list)  # the first few failures
    max_send_lag_ms: float = 0.0  # how late the generator sent a due request (rate mode)
    peak_in_flight: int = 0

    @property
    def sent(self) -> int:
        return sum(s.sent for s in self.series.seconds)


class Generator:
    def __init__(
        self,
        heads: RequestHeads,
        shape: Shape,
        *,
        timeout: float = 30.0,
        max_requests: int | None = None,
        max_connections: int = 256,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.heads = heads
        self.shape = shape
        self.timeout = timeout
        self.max_requests = max_requests
        self.max_connections = max(1, max_connections)
        self.on_progress = on_progress
        target = heads.target
        self.pool = ConnectionPool(
            Address.tcp(target.host, target.port),
            max_idle=self.max_connections,
            idle_timeout=IDLE_TIMEOUT,
            connect_timeout=min(timeout, 5.0),
        )
        self.series = Series()
        self.stop = asyncio.Event()
        self.stopped_early: str | None = None
        self._issued = 0
        self._in_flight = 0
        self._peak = 0
        self._lag = 0.0
        self._start = 0.0
        self._variants: Counter[str] = Counter()
        self._error_types: Counter[str] = Counter()
        self._samples: list[str] = []

    def request_stop(self, why: str) -> None:
        if self.stopped_early is None:
            self.stopped_early = why
        self.stop.set()

    async def run(self) -> Outcome:
        started_at = time.time()
        self._start = time.monotonic()
        progress = asyncio.ensure_future(self._report())
        try:
            if self.shape.mode is Mode.concurrency:
                await self._closed_loop()
            else:
                await self._open_loop()
        finally:
            self.stop.set()
            await progress
            self.pool.close()
        seconds = time.monotonic() - self._start
        return Outcome(
            series=self.series,
            started_at=started_at,
            seconds=seconds,
            stopped_early=self.stopped_early,
            variants=self._variants,
            error_types=self._error_types,
            samples=self._samples,
            max_send_lag_ms=round(self._lag * 1000, 3),
            peak_in_flight=self._peak,
        )

    # -- shared ------------------------------------------------------------------------

    def _ticket(self) -> int | None:
        """The next request's index, or None when the run must send no more."""
        if self.stop.is_set():
            return None
        if self.max_requests is not None and self._issued >= self.max_requests:
            self.request_stop(f"sent --requests {self.max_requests}")
            return None
        self._issued += 1
        return self._issued - 1

    async def _send(self, index: int, intended: float) -> None:
        """Send request `index`, due at monotonic time `intended`, and record its fate."""
        head, body = self.heads.head(index)
        self._in_flight += 1
        if self._in_flight > self._peak:
            self._peak = self._in_flight
        try:
            response = await self.pool.request(head, body, self.timeout)
        except UpstreamTimeout:
            self._failed(TIMEOUT, "no answer within the timeout")
            return
        except UpstreamError as exc:
            self._failed(TRANSPORT, str(exc))
            return
        finally:
            self._in_flight -= 1
        now = time.monotonic()
        status = response.status
        if 200 <= status < 300:
            self.series.answered(now - self._start, now - intended)
            variant = response.header(VARIANT_HEADER)
            if variant is not None:
                self._variants[variant.decode("latin-1")] += 1
        else:
            error_type = response.header(ERROR_TYPE_HEADER)
            if error_type is not None:
                self._error_types[error_type.decode("latin-1").partition(":")[0]] += 1
            self._failed(str(status), response.body[:300].decode("utf-8", "replace"))

    def _failed(self, kind: str, detail: str) -> None:
        self.series.failed(time.monotonic() - self._start, kind)
        if len(self._samples) < MAX_SAMPLES:
            self._samples.append(f"{kind}: {' '.join(detail.split())}")

    async def _report(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), PROGRESS_EVERY)
            if self.on_progress is not None:
                self.on_progress(self.progress())

    def progress(self) -> Progress:
        elapsed = time.monotonic() - self._start
        seconds = self.series.seconds
        sent = sum(s.sent for s in seconds)
        answered = sum(s.answered for s in seconds)
        failed = sum(s.failed for s in seconds)
        last = seconds[int(elapsed) - 1] if 1 <= int(elapsed) <= len(seconds) else None
        p99 = last.latency.quantile(0.99) if last is not None else None
        return Progress(
            elapsed=elapsed,
            seconds=self.shape.seconds,
            level=self.shape.level_at(elapsed),
            sent=sent,
            answered=answered,
            failed=failed,
            in_flight=self._in_flight,
            last_p99_ms=None if p99 is None else p99 / 1000,
        )

    # -- closed loop -------------------------------------------------------------------

    async def _closed_loop(self) -> None:
        workers = int(self.shape.peak)
        end = self._start + self.shape.seconds
        await asyncio.gather(*(self._worker(i, end) for i in range(workers)))

    async def _worker(self, rank: int, end: float) -> None:
        shape, start = self.shape, self._start
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= end:
                return
            if rank >= round(shape.level_at(now - start)):
                await asyncio.sleep(0.01)  # above the level for now
                continue
            index = self._ticket()
            if index is None:
                return
            self.series.sent(now - start)
            await self._send(index, now)

    # -- open loop ---------------------------------------------------------------------

    async def _open_loop(self) -> None:
        slots = asyncio.Semaphore(self.max_connections)
        tasks: set[asyncio.Task[None]] = set()
        start = self._start
        sleep = asyncio.sleep
        for offset in self.shape.send_times():
            due = start + offset
            delay = due - time.monotonic()
            while delay > 0.0005 and not self.stop.is_set():
                await sleep(min(delay, 0.1))  # short naps: Ctrl-C ends a slow shape promptly
                delay = due - time.monotonic()
            if -delay > self._lag:
                self._lag = -delay
            index = self._ticket()
            if index is None:
                break
            self.series.sent(offset)
            task = asyncio.ensure_future(self._slotted(slots, index, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if len(tasks) % 256 == 0:
                await sleep(0)  # let answers in during a burst
        if tasks:
            # Answers still on their way get their timeout; then what waits for a slot goes.
            _, pending = await asyncio.wait(set(tasks), timeout=self.timeout + 1.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    async def _slotted(self, slots: asyncio.Semaphore, index: int, due: float) -> None:
        try:
            async with slots:
                await self._send(index, due)
        except asyncio.CancelledError:
            self._failed(CANCELLED, "still waiting for a connection when the run ended")
