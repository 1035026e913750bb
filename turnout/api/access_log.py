"""`turnout serve --access-log`: one line per HTTP request on stderr.

    2026-12-03T19:30:00.123Z POST /endpoints/digits/invocations endpoint=digits variant=A
    status=200 latency_ms=3.2 key=AKIAEXAMPLE

(one line; `-` for what does not apply). The middleware wraps the whole app, so it sees
requests that authentication refused too. Off by default, and then not installed at all.

Writing to stderr can block (a full pipe), and the event loop must not: the line is built
on the loop (a few string operations) and put on a bounded queue; a QueueListener thread
writes it. When the queue is full, lines are dropped and counted, and the count is written
with the next line that gets through.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import re
import sys
import time
from time import perf_counter
from typing import TextIO

from turnout.asgi import App, Message, Receive, Scope, Send

QUEUE_LINES = 10_000
STOP_SECONDS = 5.0  # what stopping waits for the queued lines to be written
# The resource a path names: SageMaker runtime, Open Inference Protocol, REST.
_ENDPOINT = re.compile(r"^/(?:endpoints|v2/models|api/v1/endpoints)/([^/]+)")
_CREDENTIAL = re.compile(rb"Credential=([A-Za-z0-9]{1,128})/")
_VARIANT = b"x-amzn-invoked-production-variant"
_AUTHORIZATION = b"authorization"


def endpoint_of(path: str) -> str | None:
    found = _ENDPOINT.match(path)
    return found.group(1) if found else None


def caller_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The access key id a SigV4 request names (not checked here: the guard checks it)."""
    for key, value in headers:
        if key == _AUTHORIZATION:
            found = _CREDENTIAL.search(value)
            return found.group(1).decode() if found else None
    return None


def line(
    at: float,
    method: str,
    path: str,
    status: int | None,
    latency_ms: float,
    variant: str | None,
    key: str | None,
) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"
    return (
        f"{stamp} {method} {path} endpoint={endpoint_of(path) or '-'} variant={variant or '-'} "
        f"status={status if status is not None else '-'} latency_ms={latency_ms:.1f} "
        f"key={key or '-'}"
    )


class _Dropping(logging.handlers.QueueHandler):
    """A QueueHandler that drops a line when the queue is full, instead of blocking or
    printing a traceback, and says how many it dropped with the next line."""

    def __init__(self, lines: queue.Queue[logging.LogRecord]) -> None:
        super().__init__(lines)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.dropped:
            record.msg = f"{record.msg} (access log: {self.dropped} lines dropped before)"
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
        else:
            self.dropped = 0


class _Writer(logging.handlers.QueueListener):
    """The writer thread; stopping waits a bounded time for a stuck stream."""

    def stop(self) -> None:
        try:
            self.queue.put(self._sentinel, timeout=STOP_SECONDS)  # type: ignore[attr-defined]
        except queue.Full:
            return  # stderr is stuck: the (daemon) thread ends with the process
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)
            self._thread = None


class AccessLog:
    """ASGI middleware: logs each HTTP request once its answer is sent (or it failed)."""

    def __init__(self, app: App, stream: TextIO | None = None) -> None:
        self._app = app
        self._logger = logging.Logger("turnout.access")  # apart from the root's handlers
        lines: queue.Queue[logging.LogRecord] = queue.Queue(QUEUE_LINES)
        self._handler = _Dropping(lines)
        self._logger.addHandler(self._handler)
        writer = logging.StreamHandler(stream or sys.stderr)
        self._listener = _Writer(lines, writer)
        self._listener.start()

    def close(self) -> None:
        """Write what is queued (bounded wait) and stop the writer thread; a count of
        lines dropped since the last one written is not lost with it."""
        if self._handler.dropped:
            self._logger.info("access log: stopping")
        self._listener.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        at, started = time.time(), perf_counter()
        status: int | None = None
        variant: str | None = None

        async def sent(message: Message) -> None:
            nonlocal status, variant
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", ()):
                    if key.lower() == _VARIANT:
                        variant = value.decode("latin-1")
            await send(message)

        try:
            await self._app(scope, receive, sent)
        finally:
            text = line(
                at,
                scope["method"],
                scope["path"],
                status,
                (perf_counter() - started) * 1000,
                variant,
                caller_of(scope["headers"]),
            )
            self._logger.info(text)
