"""HTTP/1.1 keep-alive connections from the router to one instance (Unix socket or TCP).

A deliberately small client: one request at a time per connection, Content-Length bodies
only (our worker and the SageMaker container contract need nothing else), responses parsed
by httptools. General-purpose clients cost several times more per request, and this is the
router's hot path.

Failure kinds matter to the caller: `UpstreamConnectError` means the request never reached
the instance (safe to send elsewhere); the others mean it may have been processed.

Idle connections, and the one request sent again (ADR 0016). An instance's server closes a
keep-alive connection that stayed idle for its own keep-alive time (gunicorn 2 s, uvicorn,
hypercorn and Node 5 s, Python's http.server after each answer or never). A request sent
just as it does so fails. Two defences:

- Expiry: the pool drops an idle connection older than its `idle_timeout` when it takes it
  (no timer per connection). Pick it below the server's keep-alive time: `IDLE_TIMEOUT`
  (1 s, half of gunicorn's default) for a server we don't know; turnout's own worker keeps
  connections for an hour, so its pools keep them much longer.
- One resend, in exactly one case: the request went out on a reused connection, no byte of
  the answer came back, and the instance's side *reset* the connection (ECONNRESET, EPIPE,
  or an EOF with the socket's pending error set). TCP and Unix sockets reset a connection
  exactly when the peer closes it without having read everything sent to it, or when data
  reaches a socket already closed: the server dropped the idle connection and never read
  this request, so it cannot have processed it, and sending it once more on a fresh
  connection is safe even for POST. A plain EOF (the server read the request, then closed
  or crashed), a timeout, or a partial answer is never resent: the request may have been
  processed. (A server that reads a request and then aborts its connection, SO_LINGER 0,
  would be resent; no common server does.) A reset on a fresh connection is not resent
  either: no idle close explains it.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from time import monotonic
from typing import Protocol, cast

import httptools

from turnout.instances.backend import Address

# How long an idle connection is kept when the instance's server is not ours: below the
# shortest keep-alive time of common servers (gunicorn: 2 s), so it never closes first.
IDLE_TIMEOUT = 1.0
# What the instance's side of a connection reports when it closed without reading our request.
_RESET = (errno.ECONNRESET, errno.EPIPE)


class UpstreamError(Exception):
    """The instance did not give a complete answer."""


class UpstreamConnectError(UpstreamError):
    """No connection could be made: the request was not sent."""


class UpstreamClosed(UpstreamError):
    """The connection closed after the request was sent, before the whole answer came."""


class UpstreamReset(UpstreamClosed):
    """The instance reset the connection before any byte of the answer: it closed it
    without reading the request (on a reused connection: it closed it for being idle)."""


class UpstreamTimeout(UpstreamError):
    """No complete answer within the timeout."""


class UpstreamProtocolError(UpstreamError):
    """The answer was not valid HTTP/1.1, or larger than allowed."""


class BodyStream(Protocol):
    """A request body sent in chunks (ConnectionPool.send_stream); `chunks` may be called
    again to send it afresh (when no connection could be made the first time)."""

    length: int

    def chunks(self) -> AsyncIterator[bytes]: ...


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: list[tuple[bytes, bytes]]  # names as sent; compare lower-cased
    body: bytes

    def header(self, lower_name: bytes) -> bytes | None:
        for name, value in self.headers:
            if name.lower() == lower_name:
                return value
        return None


class _Connection(asyncio.Protocol):
    """One keep-alive connection; carries at most one exchange at a time."""

    __slots__ = (
        "_body",
        "_drained",
        "_headers",
        "_parser",
        "_pool",
        "_reset",
        "_size",
        "_timer",
        "_transport",
        "_waiter",
        "closed",
        "idle_since",
        "streaming",
    )

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[UpstreamResponse] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._reset = False  # the instance's side reset the connection (see eof_received)
        self.closed = False
        self.idle_since = 0.0  # monotonic time it went back to the idle list
        # While a streamed body is being sent (send_stream): an answer that comes before
        # its end leaves the connection out of step, so it is closed, never reused.
        self.streaming = False
        self._drained: asyncio.Future[None] | None = None  # set while writing is paused

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports don't subclass asyncio.Transport; they have its methods.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def eof_received(self) -> None:
        # The instance closed its side. Had our request reached a socket it already closed,
        # its kernel answered with a reset, which the socket holds as its pending error.
        if self._waiter is not None and self._size == 0 and self._transport is not None:
            sock = self._transport.get_extra_info("socket")
            if sock is not None:
                self._reset = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in _RESET
        # None: let the transport close.

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._wake_writer()

    def _wake_writer(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def write_chunk(self, chunk: bytes) -> None:
        """Send part of a streamed body, waiting while the socket's buffer is full (so
        at most about one chunk is held here, whatever the body's size)."""
        if self.closed or self._transport is None:
            return
        self._transport.write(chunk)
        if self._drained is not None:
            await self._drained

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake_writer()
        self._pool._forget(self)
        reset = self._reset or (isinstance(exc, OSError) and exc.errno in _RESET)
        if reset and self._size == 0:
            self._fail(UpstreamReset("the instance reset the connection before answering"))
        else:
            self._fail(UpstreamClosed("the instance closed the connection before answering"))

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the stream is out of step
            self.abort()
            return
        self._size += len(data)
        if self._size > self._pool.max_response_bytes:
            self._fail(
                UpstreamProtocolError(
                    f"the answer exceeds {self._pool.max_response_bytes} bytes",
                )
            )
            self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"the answer is not valid HTTP/1.1: {exc}"))
            self.abort()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter = self._waiter
        if waiter is None:
            return
        response = UpstreamResponse(
            self._parser.get_status_code(), self._headers, b"".join(self._body)
        )
        keep_alive = self._parser.should_keep_alive() and not self.streaming
        self._finish()
        if keep_alive:
            self._pool._release(self)
        else:
            self.abort()
        if not waiter.done():
            waiter.set_result(response)

    # used by the pool
    def exchange(
        self, loop: asyncio.AbstractEventLoop, head: bytes, body: bytes, timeout: float
    ) -> asyncio.Future[UpstreamResponse]:
        assert self._transport is not None and self._waiter is None
        waiter: asyncio.Future[UpstreamResponse] = loop.create_future()
        self._waiter = waiter
        self._timer = loop.call_later(timeout, self._on_timeout)
        if body:
            self._transport.writelines((head, body))
        else:
            self._transport.write(head)
        return waiter

    def begin(
        self, loop: asyncio.AbstractEventLoop, head: bytes, timeout: float
    ) -> asyncio.Future[UpstreamResponse]:
        """Send a request head whose body `write_chunk` sends after (send_stream)."""
        self.streaming = True
        return self.exchange(loop, head, b"", timeout)

    def abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def _on_timeout(self) -> None:
        self._timer = None
        self._fail(UpstreamTimeout("no answer within the timeout"))
        self.abort()

    def _fail(self, exc: UpstreamError) -> None:
        waiter = self._waiter
        self._finish()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _finish(self) -> None:
        self._waiter = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._headers = []
        self._body = []
        self._size = 0


class ConnectionPool:
    """Keep-alive connections to one instance, reused most-recent-first."""

    def __init__(
        self,
        address: Address | Callable[[], Address],
        *,
        max_idle: int = 256,
        max_response_bytes: int = 6 * 1024 * 1024,
        connect_timeout: float = 5.0,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        """`address` may be a function: an instance restarted on a new port is reached at
        its new address by the next connection (the old ones died with its process).
        A connection idle for longer than `idle_timeout` seconds is not used again: make it
        shorter than the instance's server keeps idle connections open."""
        self._address = address
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self.max_response_bytes = max_response_bytes
        self.connect_timeout = connect_timeout
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._closed = False

    @property
    def address(self) -> Address:
        return self._address() if callable(self._address) else self._address

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    async def request(self, head: bytes, body: bytes, timeout: float) -> UpstreamResponse:
        """Send one request (head already serialized) and wait for the whole answer.

        Sent a second time only when a reused connection turns out to have been closed by
        the instance before it read the request (module docstring)."""
        loop = asyncio.get_running_loop()
        conn = self._take_idle()
        if conn is not None:
            try:
                return await conn.exchange(loop, head, body, timeout)
            except UpstreamReset:
                pass  # closed while idle, the request unread: once more, on a new connection
        conn = await self._connect(loop)
        return await conn.exchange(loop, head, body, timeout)

    async def send_stream(self, head: bytes, body: BodyStream, timeout: float) -> UpstreamResponse:
        """Send one request whose body comes in chunks (an asynchronous request's input,
        up to 1 GB) and wait for the whole answer; `timeout` bounds it all.

        Always on a new connection: a body read once cannot be sent a second time, so the
        resend on a reused connection (ADR 0016) cannot apply."""
        loop = asyncio.get_running_loop()
        conn = await self._connect(loop)
        waiter = conn.begin(loop, head, timeout)
        try:
            async for chunk in body.chunks():
                if waiter.done() or conn.closed:
                    break  # answered early (an error), timed out or closed: stop sending
                await conn.write_chunk(chunk)
        except BaseException:
            conn.abort()  # the body is incomplete: the connection is of no further use
            raise
        finally:
            conn.streaming = False
        return await waiter  # a lost connection has failed it already

    def close(self) -> None:
        """Close every connection; requests in flight fail with UpstreamClosed."""
        self._closed = True
        for conn in list(self._all):
            conn.abort()
        self._idle.clear()

    def _take_idle(self) -> _Connection | None:
        idle = self._idle
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            if monotonic() - conn.idle_since <= self.idle_timeout:
                return conn
            # Too old: the instance may be closing it. The list runs oldest to newest,
            # so every connection left in it is older still.
            conn.abort()
            for old in idle:
                old.abort()
            idle.clear()
        return None

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        if self._closed:
            raise UpstreamConnectError("the instance is being stopped")
        addr = self.address
        try:
            if addr.path is not None:
                coro = loop.create_unix_connection(lambda: _Connection(self), addr.path)
            else:
                assert addr.host is not None and addr.port is not None
                coro = loop.create_connection(lambda: _Connection(self), addr.host, addr.port)
            _, conn = await asyncio.wait_for(coro, self.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise UpstreamConnectError(f"cannot connect to {addr}: {exc}") from exc
        self._all.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        if self._closed or conn.closed or len(self._idle) >= self.max_idle:
            conn.abort()
        else:
            conn.idle_since = monotonic()
            self._idle.append(conn)

    def _forget(self, conn: _Connection) -> None:
        self._all.discard(conn)


def request_head(
    content_length: int,
    headers: list[tuple[bytes, bytes]],
    path: bytes = b"/invocations",
    method: bytes = b"POST",
) -> bytes:
    """Serialize a request head. Header values come from an already-parsed request."""
    parts = [
        method,
        b" ",
        path,
        b" HTTP/1.1\r\nHost: turnout\r\nContent-Length: ",
        b"%d" % content_length,
    ]
    for name, value in headers:
        parts += (b"\r\n", name, b": ", value)
    parts.append(b"\r\n\r\n")
    return b"".join(parts)
