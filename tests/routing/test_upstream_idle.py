"""Idle keep-alive connections against a real HTTP/1.1 server (a thread, on 127.0.0.1 or a
Unix socket) that drops the connections left idle for `idle` seconds, as gunicorn, uvicorn
and most servers do: the pool lets its idle connections go first, and a request sent on a
connection the server dropped unread goes out once more; one the server read does not.

The server drops an idle connection either when its timer fires ("timer": a FIN, and a reset
when our request reaches the closed socket) or only when the next request arrives ("late":
it closes with the request unread, which resets the connection).
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.instances.backend import Address
from turnout.routing import upstream
from turnout.routing.upstream import (
    ConnectionPool,
    UpstreamClosed,
    UpstreamReset,
    UpstreamResponse,
    UpstreamTimeout,
    request_head,
)

IDLE = 0.2  # the server's keep-alive time, seconds
LONG = 3600.0  # a pool idle timeout that never expires a connection in these tests


class KeepAliveServer:
    """Answers b"echo:" + body; reads b"close" and closes without answering; answers b"half"
    with half an answer and closes; never answers b"silent"."""

    def __init__(self, address: Address, idle: float, drop: str) -> None:
        self.idle = idle
        self.drop = drop  # "timer" or "late"
        self.connections = 0
        self.requests = 0  # read whole
        self.dropped = 0  # arrived on a connection idle too long, dropped unread
        self.idle_closed = threading.Semaphore(0)  # released as a timer drops a connection
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        if address.path is not None:
            self._listener = socket.socket(socket.AF_UNIX)
            self._listener.bind(address.path)
        else:
            self._listener = socket.socket()
            self._listener.bind(("127.0.0.1", 0))
        self.address = address if address.path else Address.tcp(*self._listener.getsockname())
        self._listener.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._sockets.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            while self._serve_one(sock):
                pass
        except (OSError, ValueError):  # the client's reset, or the test's close()
            pass
        finally:
            sock.close()

    def _serve_one(self, sock: socket.socket) -> bool:
        """Read and answer one request; False once the connection is to close."""
        answered_at = time.monotonic()
        if self.drop == "timer":
            readable, _, _ = select.select([sock], [], [], self.idle)
            if not readable:
                self.idle_closed.release()
                return False
        else:
            select.select([sock], [], [])
            if not sock.recv(1, socket.MSG_PEEK):
                return False  # the client closed it
            if time.monotonic() - answered_at >= self.idle:
                with self._lock:
                    self.dropped += 1
                return False  # closed with the request unread
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        while len(body) < length:
            body += sock.recv(65536)
        with self._lock:
            self.requests += 1
        if body == b"close":
            return False
        if body == b"half":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
            return False
        if body == b"silent":
            time.sleep(1.0)
            return False
        answer = b"echo:" + body
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer) + answer)
        return True


@pytest.fixture(params=["tcp", "unix"])
def address(request: pytest.FixtureRequest, tmp_path: Path) -> Address:
    return Address.unix(str(tmp_path / "s.sock")) if request.param == "unix" else Address.tcp("", 0)


@pytest.fixture
def servers(address: Address) -> Iterator[list[KeepAliveServer]]:
    started: list[KeepAliveServer] = []
    yield started
    for server in started:
        server.close()


def serve(servers: list[KeepAliveServer], address: Address, drop: str) -> KeepAliveServer:
    servers.append(KeepAliveServer(address, IDLE, drop))
    return servers[-1]


async def send(pool: ConnectionPool, body: bytes, timeout: float = 5.0) -> UpstreamResponse:
    return await pool.request(request_head(len(body), []), body, timeout)


def idle_past_keep_alive(server: KeepAliveServer) -> None:
    """Leave the connection idle past the server's keep-alive time with the event loop held
    up, as by other work: it cannot read a close meanwhile. By then a "timer" server has
    closed the connection; a "late" one closes it when the next request comes."""
    if server.drop == "timer":
        assert server.idle_closed.acquire(timeout=10)
    else:
        time.sleep(server.idle * 1.25)


@pytest.mark.parametrize("drop", ["timer", "late"])
async def test_requests_spaced_beyond_the_servers_keep_alive_all_succeed(
    servers: list[KeepAliveServer], address: Address, drop: str
) -> None:
    server = serve(servers, address, drop)
    pool = ConnectionPool(server.address, idle_timeout=IDLE / 2)
    try:
        for i in range(3):
            assert (await send(pool, b"%d" % i)).body == b"echo:%d" % i
            idle_past_keep_alive(server)
        assert (server.connections, server.requests, server.dropped) == (3, 3, 0)
    finally:
        pool.close()


@pytest.mark.parametrize("drop", ["timer", "late"])
async def test_a_request_the_server_dropped_unread_goes_out_once_more(
    servers: list[KeepAliveServer], address: Address, drop: str
) -> None:
    server = serve(servers, address, drop)
    pool = ConnectionPool(server.address, idle_timeout=LONG)  # the server closes first
    try:
        assert (await send(pool, b"first")).body == b"echo:first"
        idle_past_keep_alive(server)
        assert (await send(pool, b"second")).body == b"echo:second"
        assert (server.connections, server.requests) == (2, 2)  # each read once
        assert server.dropped == (1 if drop == "late" else 0)
    finally:
        pool.close()


@pytest.mark.parametrize("body", [b"close", b"half", b"silent"])
async def test_a_request_the_server_read_is_never_sent_again(
    servers: list[KeepAliveServer], address: Address, body: bytes
) -> None:
    server = serve(servers, address, "late")
    pool = ConnectionPool(server.address, idle_timeout=LONG)
    try:
        assert (await send(pool, b"first")).body == b"echo:first"
        expected = UpstreamTimeout if body == b"silent" else UpstreamClosed
        with pytest.raises(expected) as failure:
            await send(pool, body, timeout=0.5)  # on the reused connection
        assert not isinstance(failure.value, UpstreamReset)
        assert (server.connections, server.requests) == (1, 2)
    finally:
        pool.close()


async def test_an_idle_connection_is_reused_until_its_idle_timeout(
    servers: list[KeepAliveServer], address: Address, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(servers, address, "late")
    now = [1000.0]
    monkeypatch.setattr(upstream, "monotonic", lambda: now[0])
    pool = ConnectionPool(server.address, idle_timeout=2.0)
    try:
        await asyncio.gather(send(pool, b"a"), send(pool, b"b"))  # two connections
        now[0] += 1.9
        await send(pool, b"c")
        assert (server.connections, pool.idle_count) == (2, 2)
        now[0] += 2.1  # both too old now: neither is used, both are closed
        await send(pool, b"d")
        assert (server.connections, server.requests, server.dropped) == (3, 4, 0)
        assert pool.idle_count == 1
    finally:
        pool.close()
