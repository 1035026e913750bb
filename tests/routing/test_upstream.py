"""The router's HTTP/1.1 client against a real server on a Unix socket that misbehaves on cue.

The request body names the behaviour: ok, close, silent, garbage, huge, last (Connection: close).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from turnout.instances.backend import Address
from turnout.routing.upstream import (
    ConnectionPool,
    UpstreamClosed,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
    request_head,
)


class Server:
    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = await reader.readexactly(length)
                self.requests += 1
                if body == b"close":
                    writer.close()
                    return
                if body == b"silent":
                    await asyncio.sleep(3600)
                if body == b"garbage":
                    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
                elif body == b"huge":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
                elif body == b"last":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlast"
                    )
                else:
                    answer = b"echo:" + body
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Extra: 1\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(answer) + answer
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Server, ConnectionPool]]:
    server = Server()
    path = str(tmp_path / "s.sock")
    srv = await asyncio.start_unix_server(server.handle, path)
    pool = ConnectionPool(Address.unix(path), max_response_bytes=1000)
    yield server, pool
    pool.close()
    srv.close()


def send(pool: ConnectionPool, body: bytes, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    return pool.request(request_head(len(body), [(b"Content-Type", b"text/plain")]), body, timeout)


async def test_keep_alive_reuses_one_connection(served: tuple[Server, ConnectionPool]) -> None:
    server, pool = served
    for i in range(20):
        response = await send(pool, b"req%d" % i)
        assert response.status == 200
        assert response.body == b"echo:req%d" % i
        assert response.header(b"content-type") == b"text/plain"
    assert server.connections == 1
    assert pool.idle_count == 1


async def test_concurrent_requests_open_parallel_connections(
    served: tuple[Server, ConnectionPool],
) -> None:
    server, pool = served
    answers = await asyncio.gather(*(send(pool, b"c%d" % i) for i in range(10)))
    assert sorted(a.body for a in answers) == sorted(b"echo:c%d" % i for i in range(10))
    assert 1 <= server.connections <= 10
    assert server.requests == 10


async def test_connection_closed_mid_request(served: tuple[Server, ConnectionPool]) -> None:
    _, pool = served
    with pytest.raises(UpstreamClosed):
        await send(pool, b"close")
    assert (await send(pool, b"after")).body == b"echo:after"


async def test_timeout_fails_and_drops_the_connection(
    served: tuple[Server, ConnectionPool],
) -> None:
    server, pool = served
    with pytest.raises(UpstreamTimeout):
        await send(pool, b"silent", timeout=0.2)
    assert pool.idle_count == 0
    assert (await send(pool, b"next")).body == b"echo:next"
    assert server.connections == 2


async def test_malformed_and_oversized_answers(served: tuple[Server, ConnectionPool]) -> None:
    _, pool = served
    with pytest.raises(UpstreamProtocolError, match="not valid HTTP"):
        await send(pool, b"garbage")
    with pytest.raises(UpstreamProtocolError, match="exceeds 1000 bytes"):
        await send(pool, b"huge")
    assert (await send(pool, b"fine")).status == 200


async def test_connection_close_answer_is_not_reused(served: tuple[Server, ConnectionPool]) -> None:
    server, pool = served
    assert (await send(pool, b"last")).body == b"last"
    assert pool.idle_count == 0
    await send(pool, b"again")
    assert server.connections == 2


async def test_nothing_listening_is_a_connect_error(tmp_path: Path) -> None:
    pool = ConnectionPool(Address.unix(str(tmp_path / "none.sock")))
    with pytest.raises(UpstreamConnectError):
        await send(pool, b"x")


async def test_request_head_is_valid_http() -> None:
    head = request_head(3, [(b"Accept", b"text/csv")])
    assert head.startswith(b"POST /invocations HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 3\r\n" in head
    assert b"\r\nAccept: text/csv\r\n" in head
    assert head.endswith(b"\r\n\r\n")
